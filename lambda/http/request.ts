/**
 * Building the web Request both adapters hand to the app. What fetch's Request cannot represent — a
 * Host header that is no host name, a method fetch forbids (TRACE, TRACK, CONNECT) — is answered
 * here with a clear 400 or 405 instead of a TypeError that would surface as a 500.
 */
import { ProxyError } from "../errors.js";

export interface RequestParts {
  method: string;
  scheme: "http" | "https";
  host: string;
  /** path and query, starting with "/" */
  target: string;
  headers: Headers;
  body?: RequestInit["body"];
  signal: AbortSignal;
}

/** A host name or IPv4 address, or a bracketed IPv6 address, with an optional port (RFC 9110 §7.2). */
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}))(?::\d{1,5})?$/;
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

export function buildRequest(parts: RequestParts): Request | ProxyError {
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
  const init: RequestInit & { duplex?: "half" } = { method: parts.method, headers: parts.headers, signal: parts.signal };
  if (parts.body !== undefined && method !== "GET" && method !== "HEAD") {
    init.body = parts.body;
    init.duplex = "half";
  }
  try {
    return new Request(url, init);
  } catch (err) {
    return new ProxyError(400, `The request cannot be read (${err instanceof Error ? err.message : String(err)}).`, { code: "invalid_request" });
  }
}
