/**
 * The floor the benchmark measures the proxy against: the leanest HTTP proxy Node can be. Plain
 * node:http with keep-alive, no parsing, no conversion: it forwards a request's body to the
 * scripted backend and writes each chunk of the answer as it arrives. Whatever the proxy costs above
 * this is its own; what this costs is Node's.
 *
 * Usage: node passthrough.mjs <backend port>; prints {"port":N}.
 */
import { Agent, createServer, request } from "node:http";

const backendPort = Number(process.argv[2]);
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const upstream = request(
      { agent, host: "127.0.0.1", port: backendPort, path: "/responses", method: "POST", headers: { "content-type": "application/json", "content-length": body.length } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { "content-type": answer.headers["content-type"] ?? "text/event-stream" });
        answer.on("data", (chunk) => res.write(chunk));
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
