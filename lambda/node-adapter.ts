/**
 * node:http <-> fetch-style app. Runtime plumbing only: the request becomes a web Request whose
 * signal aborts when the client goes away, and the Response body is piped with backpressure.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { App } from "./app.js";
import { ProxyError } from "./errors.js";
import { buildRequest, type AppRequest } from "./http/request.js";
import { writableSink } from "./http/sink.js";
import { takeWriter } from "./http/sse.js";
import type { Logger } from "./log.js";

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "host", "proxy-connection"]);

export function toWebRequest(req: IncomingMessage, signal: AbortSignal): AppRequest | ProxyError {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  const method = req.method ?? "GET";
  return buildRequest({
    method,
    scheme: "http",
    host: req.headers.host ?? "localhost",
    target: req.url ?? "/",
    headers,
    signal,
    ...(method !== "GET" && method !== "HEAD" ? { body: req } : {}),
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
  const request = toWebRequest(req, signal);
  const response = request instanceof ProxyError ? request.toResponse() : await app(request);
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (!response.body || req.method === "HEAD") {
    res.end();
    return;
  }
  res.flushHeaders();
  const writer = takeWriter(response);
  if (writer) {
    await writer(writableSink(res));
    res.end();
    return;
  }
  try {
    await pipeline(Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>), res);
  } catch (err) {
    // A client that leaves mid-stream is normal; the app has already aborted the upstream call.
    if (!signal.aborted) throw err;
  }
}
