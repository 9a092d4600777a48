/**
 * node:http <-> the app. Runtime plumbing only: the request becomes an AppRequest whose signal
 * aborts when the client goes away, and the Reply is written to the ServerResponse with backpressure.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { App } from "./app.js";
import { ProxyError, toProxyError } from "./errors.js";
import { headerMap } from "./http/headers.js";
import { buildRequest, type AppRequest } from "./http/request.js";
import type { Reply } from "./http/reply.js";
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

/** An error as the clients of the route at a path expect it (the app's `errorReply`). */
export type ErrorReply = (path: string, error: ProxyError) => Reply;

export function createNodeHandler(app: App, log: Logger, errorReply: ErrorReply = (_, error) => error.toReply()): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const clientGone = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) clientGone.abort();
    });
    void serve(app, req, res, clientGone.signal, errorReply).catch((err: unknown) => {
      if (clientGone.signal.aborted) return;
      log.error("response failed", { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      if (!res.headersSent) {
        const reply = errorReply(pathOf(req), toProxyError(err));
        res.writeHead(reply.status, reply.headers);
        res.end(reply.body);
      } else {
        res.destroy();
      }
    });
  };
}

const pathOf = (req: IncomingMessage): string => (req.url ?? "/").split("?")[0] as string;

async function serve(app: App, req: IncomingMessage, res: ServerResponse, signal: AbortSignal, errorReply: ErrorReply): Promise<void> {
  const request = toAppRequest(req, signal);
  const reply = request instanceof ProxyError ? errorReply(pathOf(req), request) : await app(request);
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
