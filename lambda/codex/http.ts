/**
 * The HTTP client for upstream calls, on Node's own node:http/node:https: one keep-alive pool for the
 * process (Lambda reuses it across warm invocations), optionally through an HTTP CONNECT egress
 * proxy. A model turn's body is handed over as the node stream it arrives as, so each upstream read
 * costs one buffer and no web-stream hops; the token endpoint gets a fetch-style view of the same
 * client. The pool has no cap of its own (UPSTREAM_MAX_CONNECTIONS is the Codex client's, with a
 * bounded wait). Redirects are never followed: node:http does not, and nothing here adds it.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Duplex } from "node:stream";
import { Readable } from "node:stream";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { headerMap, type HeaderMap } from "../http/headers.js";

export type Fetch = typeof globalThis.fetch;

export interface SendInit {
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  /** aborting destroys the request and its body with the signal's reason */
  signal: AbortSignal;
  /** the response headers must be in within this long, or the call fails with HeadersTimeout */
  headersTimeoutMs?: number;
}

export class HeadersTimeout extends Error {
  constructor(ms: number) {
    super(`no response headers within ${ms} ms`);
    this.name = "HeadersTimeout";
  }
}

export interface UpstreamReply {
  status: number;
  headers: HeaderMap;
  body: IncomingMessage;
}

export interface Upstream {
  /** resolves once the response headers are in; the body is the caller's to read or destroy */
  send(url: string, init: SendInit): Promise<UpstreamReply>;
  /** the same pool behind a fetch signature, for the rare calls that want one (token refresh) */
  fetch: Fetch;
}

const POOL = { keepAlive: true, keepAliveMsecs: 30_000, maxSockets: Infinity, scheduling: "lifo" } as const;

export function createUpstream(proxyUrl?: string): Upstream {
  const proxy = proxyUrl ? new URL(proxyUrl) : undefined;
  const http = proxy ? tunnelling(new HttpAgent(POOL), proxy, false) : new HttpAgent(POOL);
  const https = proxy ? tunnelling(new HttpsAgent(POOL), proxy, true) : new HttpsAgent(POOL);
  const send = (url: string, init: SendInit) => sendOn(new URL(url), init, http, https);
  return { send, fetch: fetchOver(send) };
}

function sendOn(url: URL, init: SendInit, http: HttpAgent, https: HttpsAgent): Promise<UpstreamReply> {
  const { signal } = init;
  if (signal.aborted) return Promise.reject(signal.reason);
  const secure = url.protocol === "https:";
  const headers = init.body === undefined ? init.headers : { ...init.headers, "content-length": String(Buffer.byteLength(init.body)) };
  const options: RequestOptions = { method: init.method, headers, agent: secure ? https : http };
  return new Promise<UpstreamReply>((resolve, reject) => {
    let response: IncomingMessage | undefined;
    const onAbort = () => {
      req.destroy(signal.reason);
      response?.destroy(signal.reason);
    };
    const { headersTimeoutMs } = init;
    const headersDue = headersTimeoutMs === undefined ? undefined : setTimeout(() => req.destroy(new HeadersTimeout(headersTimeoutMs)), headersTimeoutMs);
    const req: ClientRequest = (secure ? httpsRequest : httpRequest)(url, options, (res) => {
      clearTimeout(headersDue);
      response = res;
      res.once("close", () => signal.removeEventListener("abort", onAbort));
      resolve({ status: res.statusCode ?? 502, headers: headerMap(res.headers), body: res });
    });
    req.once("error", (err) => {
      clearTimeout(headersDue);
      signal.removeEventListener("abort", onAbort);
      reject(signal.aborted ? signal.reason : err);
    });
    signal.addEventListener("abort", onAbort, { once: true });
    req.end(init.body);
  });
}

/**
 * Every connection of `agent` goes through the egress proxy: a CONNECT tunnel to the target, with
 * TLS over it for https targets, so the proxy sees only the host and port.
 */
function tunnelling<A extends HttpAgent>(agent: A, proxy: URL, tls: boolean): A {
  const viaTls = proxy.protocol === "https:";
  (agent as unknown as { createConnection: unknown }).createConnection = (
    options: ConnectionOptions & { host: string; port: number },
    done: (err: Error | null, socket?: Duplex) => void,
  ) => {
    const target = `${options.host}:${options.port}`;
    const connectRequest = (viaTls ? httpsRequest : httpRequest)({
      host: proxy.hostname,
      port: proxy.port || (viaTls ? 443 : 80),
      method: "CONNECT",
      path: target,
      headers: { host: target, ...proxyAuthorization(proxy) },
      agent: false,
    });
    connectRequest.once("connect", (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return done(egressError(`the egress proxy ${proxy.host} refused the tunnel to ${target} (HTTP ${res.statusCode})`));
      }
      done(null, tls ? tlsConnect({ socket, servername: options.servername || options.host, ALPNProtocols: ["http/1.1"] }) : socket);
    });
    connectRequest.once("error", (err) => done(egressError(`the egress proxy ${proxy.host} cannot be reached (${err.message})`)));
    connectRequest.end();
    return undefined;
  };
  return agent;
}

/** A tunnel that could not be opened: the request never left (the token refresh relies on knowing that). */
function egressError(message: string): Error {
  return Object.assign(new Error(message), { code: "ERR_EGRESS_PROXY" });
}

function proxyAuthorization(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { "proxy-authorization": `Basic ${Buffer.from(credentials).toString("base64")}` };
}

const NULL_BODY = new Set([101, 204, 205, 304]);
const NEVER = new AbortController().signal;

/** `send` as a fetch: enough of it for a JSON POST or GET (no redirects, which are never followed). */
function fetchOver(send: Upstream["send"]): Fetch {
  const fetch = async (input: Parameters<Fetch>[0], init: RequestInit = {}): Promise<Response> => {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const reply = await send(String(input instanceof Request ? input.url : input), {
      method: init.method === "POST" ? "POST" : "GET",
      headers,
      ...(typeof init.body === "string" ? { body: init.body } : {}),
      signal: init.signal ?? NEVER,
    });
    if (NULL_BODY.has(reply.status)) {
      reply.body.resume();
      return new Response(null, { status: reply.status, headers: fetchHeaders(reply.headers) });
    }
    return new Response(Readable.toWeb(reply.body) as ReadableStream<Uint8Array>, { status: reply.status, headers: fetchHeaders(reply.headers) });
  };
  return fetch as Fetch;
}

function fetchHeaders(map: HeaderMap): Headers {
  const headers = new Headers();
  for (const [name, value] of map) {
    try {
      headers.append(name, value);
    } catch {
      // a header fetch's Headers cannot hold (non-ASCII bytes) carries nothing a token call reads
    }
  }
  return headers;
}
