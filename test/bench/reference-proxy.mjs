/**
 * The skeleton the bench's two references share (passthrough.mjs, minimal-converter.mjs): a node:http
 * server that reads a request's body, sends `upstreamBody` of it to the scripted backend over a
 * keep-alive pool, and hands the answer (and the request's body) to `relay`, which writes the
 * client's response. A client or backend that goes away ends the other side. Prints {"port":N}
 * once listening.
 */
import { Agent, createServer, request } from "node:http";

export function serveReferenceProxy(backendPort, upstreamBody, relay) {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const received = Buffer.concat(chunks);
      const body = upstreamBody(received);
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
          answer.on("error", () => res.destroy());
          relay(answer, res, received);
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
}
