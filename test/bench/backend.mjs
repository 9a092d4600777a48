/**
 * The benchmark's scripted Codex backend, in its own process so its CPU is measured apart from the
 * proxy's: plain JavaScript (no loader), one node:http server, doing nothing but writing events.
 * A request whose body mentions "bench:long" gets the long answer, one delta per 1 ms timer;
 * anything else gets the short recorded answer at once, one write per event.
 *
 * Usage: node backend.mjs <recorded .jsonl> <deltas in the long answer>; prints {"port":N}.
 */
import { createServer } from "node:http";
import { answerEvents, recordedEvents, sseFrame } from "./answer.mjs";

const [fixture, longDeltas = "1815"] = process.argv.slice(2);
const PACE_MS = 1;

const events = recordedEvents(fixture);
const short = answerEvents(events).map(sseFrame);
const long = answerEvents(events, Number(longDeltas)).map(sseFrame);
const firstDelta = long.findIndex((f) => f.startsWith("event: response.output_text.delta"));
const lastDelta = long.findLastIndex((f) => f.startsWith("event: response.output_text.delta"));

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    if (req.method !== "POST") return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    if (!Buffer.concat(chunks).includes("bench:long")) {
      for (const f of short) res.write(f);
      return void res.end();
    }
    res.write(long.slice(0, firstDelta).join(""));
    let i = firstDelta;
    const next = () => {
      if (res.destroyed) return;
      if (i > lastDelta) return void res.end(long.slice(i).join(""));
      res.write(long[i++]);
      setTimeout(next, PACE_MS);
    };
    setTimeout(next, PACE_MS);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
