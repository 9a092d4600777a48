/**
 * The second reference, for the proxy's own CPU: the least a proxy that converts can do. A Chat
 * Completions request is forwarded to the scripted backend, and each event of the answer is parsed
 * (eventsource-parser, JSON.parse, as the proxy does) and written back as a chat chunk, in the
 * read's own callback: no checks, no stream life, no other event than text. What the proxy costs
 * above this is its own; what this costs above the bare pass-through is what parsing and re-encoding
 * every event costs on this machine.
 *
 * Usage: node minimal-converter.mjs <backend port>; prints {"port":N}.
 */
import { randomUUID } from "node:crypto";
import { Agent, createServer, request } from "node:http";
import { createParser } from "eventsource-parser";

const backendPort = Number(process.argv[2]);
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const { model, messages } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    const text = messages.at(-1).content;
    const body = JSON.stringify({ model, stream: true, store: false, instructions: "", input: [{ role: "user", content: [{ type: "input_text", text }] }] });
    // a chunk's constant part, as the proxy's chat dialect writes it
    const prefix = `data: {"id":"chatcmpl-${randomUUID()}","object":"chat.completion.chunk","created":${Math.floor(Date.now() / 1000)},"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":{"content":`;
    const upstream = request(
      {
        agent,
        host: "127.0.0.1",
        port: backendPort,
        path: "/responses",
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { "content-type": "text/event-stream" });
        let out = "";
        const parser = createParser({
          onEvent(message) {
            const event = JSON.parse(message.data);
            if (event.type === "response.output_text.delta") out += `${prefix}${JSON.stringify(event.delta)}},"finish_reason":null,"logprobs":null}]}\n\n`;
            else if (event.type === "response.completed") out += "data: [DONE]\n\n";
          },
        });
        answer.setEncoding("utf8");
        answer.on("data", (chunk) => {
          parser.feed(chunk);
          if (out === "") return;
          res.write(out);
          out = "";
        });
        answer.on("end", () => res.end());
        answer.on("error", () => res.destroy());
      },
    );
    upstream.on("error", () => res.destroy());
    res.on("close", () => upstream.destroy());
    upstream.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
