/**
 * node:http <-> the app. Runtime plumbing only: the request becomes an AppRequest whose signal
 * aborts when the client goes away, and the Reply is written to the ServerResponse with backpressure.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { App } from "./app.js";
import { ProxyError } from "./errors.js";
import { headerMap } from "./http/headers.js";
import { buildRequest, type AppRequest } from "./http/request.js";
import { writeBody } from "./http/sink.js";
import type { Logger } from "./log.js";

export function toAppRequest(req: IncomingMessage, signal: AbortSignal): AppRequest | ProxyError {
  // node has checked every name and value already; the app reads only the few it knows by name
  const headers = headerMap(req.headers);
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
  const reply = request instanceof ProxyError ? request.toReply() : await app(request);
  res.writeHead(reply.status, reply.headers);
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  // No separate flush of the headers: they go out with the first write, which follows at once.
  try {
    await writeBody(reply, res);
  } catch (err) {
    // A client that leaves mid-stream is normal; the app has already aborted the upstream call.
    if (!signal.aborted) throw err;
  }
}
