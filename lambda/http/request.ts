/**
 * The request both adapters hand to the app. What fetch's Request cannot represent — a Host header
 * that is no host name, a method fetch forbids (TRACE, TRACK, CONNECT) — is answered here with a
 * clear 400 or 405 instead of a TypeError that would surface as a 500.
 *
 * The app reads only what `AppRequest` names, and a fetch `Request` has all of it, so any fetch-style
 * caller can call the app. The adapters build a plain one instead: a fetch Request with a streamed
 * body costs more to construct on every call than the rest of the request's own work.
 */
import { ProxyError } from "../errors.js";
import type { HeaderMap } from "./headers.js";

/** The part of a fetch Request the app reads. */
export interface AppRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: HeaderMap;
  readonly signal: AbortSignal;
  /** the body's bytes as they arrive (a fetch body is a ReadableStream, which iterates so too) */
  readonly body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> | null;
}

export interface RequestParts {
  method: string;
  scheme: "http" | "https";
  host: string;
  /** path and query, starting with "/" */
  target: string;
  headers: HeaderMap;
  body?: AsyncIterable<Uint8Array> | Uint8Array | string;
  signal: AbortSignal;
}

/** A host name or IPv4 address, or a bracketed IPv6 address, with an optional port (RFC 9110 §7.2). */
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}))(?::\d{1,5})?$/;
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

export function buildRequest(parts: RequestParts): AppRequest | ProxyError {
  const method = parts.method.toUpperCase();
  if (FORBIDDEN_METHODS.has(method)) {
    return new ProxyError(405, `${method} is not served here; use GET, HEAD, POST or OPTIONS.`, {
      code: "method_not_allowed",
      headers: { allow: "GET, HEAD, POST, OPTIONS" },
    });
  }
  let url: URL;
  try {
    if (!HOST.test(parts.host)) throw new Error("not a host");
    url = new URL(`${parts.scheme}://${parts.host}${parts.target.startsWith("/") ? parts.target : `/${parts.target}`}`);
  } catch {
    return new ProxyError(400, `The Host header '${parts.host.slice(0, 100)}' is not a valid host name.`, { code: "invalid_host" });
  }
  const hasBody = parts.body !== undefined && method !== "GET" && method !== "HEAD";
  return { method, url: url.href, headers: parts.headers, signal: parts.signal, body: hasBody ? iterable(parts.body as NonNullable<RequestParts["body"]>) : null };
}

function iterable(body: AsyncIterable<Uint8Array> | Uint8Array | string): AsyncIterable<Uint8Array> {
  if (typeof body !== "string" && !(body instanceof Uint8Array)) return body;
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  return (async function* () {
    yield bytes;
  })();
}
