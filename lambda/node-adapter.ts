/**
 * node:http <-> fetch-style app. Runtime plumbing only: the request becomes an AppRequest whose
 * signal aborts when the client goes away, and the Response body is piped with backpressure.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { App } from "./app.js";
import { ProxyError } from "./errors.js";
import { buildRequest, type AppRequest } from "./http/request.js";
import { writeBody } from "./http/sink.js";
import type { Logger } from "./log.js";

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "host", "proxy-connection"]);

export function toAppRequest(req: IncomingMessage, signal: AbortSignal): AppRequest | ProxyError {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  return buildRequest({
    method: req.method ?? "GET",
    scheme: "http",
    host: req.headers.host ?? "localhost",
    target: req.url ?? "/",
    headers,
    signal,
    body: req, // buildRequest drops it for GET and HEAD
  });
}

export function createNodeHandler(app: App, log: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const clientGone = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) clientGone.abort();
    });
    void serve(app, req, res, clientGone.signal).catch((err: unknown) => {
      if (clientGone.signal.aborted) return;
      log.error("response failed", { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "Internal proxy error.", type: "server_error", param: null, code: "internal_error" } }));
      } else {
        res.destroy();
      }
    });
  };
}

async function serve(app: App, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const request = toAppRequest(req, signal);
  const response = request instanceof ProxyError ? request.toResponse() : await app(request);
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  // No separate flush of the headers: they go out with the first write, which follows at once.
  try {
    await writeBody(response, res);
  } catch (err) {
    // A client that leaves mid-stream is normal; the app has already aborted the upstream call.
    if (!signal.aborted) throw err;
  }
}
