/**
 * The floor the benchmark measures the proxy against: the leanest HTTP proxy Node can be. Plain
 * node:http with keep-alive, no parsing, no conversion: it forwards a request's body to the
 * scripted backend and writes each chunk of the answer as it arrives. Whatever the proxy costs above
 * this is its own; what this costs is Node's.
 *
 * Usage: node passthrough.mjs <backend port>; prints {"port":N}.
 */
import { serveReferenceProxy } from "./reference-proxy.mjs";

serveReferenceProxy(
  Number(process.argv[2]),
  (body) => body,
  (answer, res) => {
    res.writeHead(answer.statusCode ?? 502, { "content-type": answer.headers["content-type"] ?? "text/event-stream" });
    answer.on("data", (chunk) => res.write(chunk));
    answer.on("end", () => res.end());
  },
);
