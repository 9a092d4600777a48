/**
 * What a web page may do with the proxy. A page the user visits can send "simple" cross-origin
 * requests (a text/plain POST needs no preflight) and, with DNS rebinding, even same-origin ones to
 * 127.0.0.1. With client keys that gets it nothing, so CORS stays open. Without keys the proxy must
 * refuse it: only loopback Host names, no browser Origin unless listed in CORS_ORIGINS, and JSON
 * bodies only (a JSON content type always needs a preflight, which an unlisted origin fails).
 */
import { isLoopback } from "../config.js";
import { ProxyError } from "../errors.js";
import type { Reply } from "./reply.js";
import type { AppRequest } from "./request.js";

/** A header list a preflight may echo back: names and commas only, so nothing it carries can break the response's header block. */
const HEADER_NAMES = /^[\w!#$%&'*+.^`|~-]+(?:\s*,\s*[\w!#$%&'*+.^`|~-]+)*$/;

const EXPOSE = { "access-control-expose-headers": "retry-after, x-request-id" };

export class BrowserPolicy {
  /**
   * `keyed`: clients must present a key, so browsers are no threat.
   * `origins`: CORS_ORIGINS, the web origins allowed to call; empty means any with keys, none without.
   */
  constructor(
    private readonly keyed: boolean,
    private readonly origins: readonly string[],
  ) {}

  /** A reason to refuse the request before anything else happens, or undefined. */
  refusal(request: AppRequest, url: URL): ProxyError | undefined {
    if (this.keyed) return undefined;
    if (!isLoopback(url.hostname)) {
      return new ProxyError(
        421,
        `This proxy runs without PROXY_API_KEYS, so it answers only requests addressed to a loopback name (localhost, 127.0.0.1, [::1]); this one was addressed to '${url.host}'. Use http://127.0.0.1:${url.port || 80}/v1, or set PROXY_API_KEYS.`,
        { code: "host_not_allowed", type: "permission_error" },
      );
    }
    const origin = request.headers.get("origin");
    // The proxy's own page (/status) is no foreign site: its origin is the loopback one asked here.
    if (origin !== null && origin !== url.origin && !this.origins.includes(origin)) {
      return new ProxyError(
        403,
        `Requests from web pages (Origin '${origin.slice(0, 200)}') are refused: without PROXY_API_KEYS any site you visit could use your subscription. List the origin in CORS_ORIGINS to allow it, or set PROXY_API_KEYS.`,
        { code: "origin_not_allowed" },
      );
    }
    if (request.method === "POST" && !isJson(request.headers.get("content-type"))) {
      return new ProxyError(415, "Send the request body as JSON with 'Content-Type: application/json'.", { code: "unsupported_media_type", param: "content-type" });
    }
    return undefined;
  }

  /** The answer to a CORS preflight (`OPTIONS`) for a route allowing `methods`; its CORS headers are added as to any answer. */
  preflight(request: AppRequest, methods: readonly string[] = ["GET", "POST"]): Reply {
    const asked = request.headers.get("access-control-request-headers") ?? "";
    return {
      status: 204,
      headers: {
        "access-control-allow-methods": [...methods, "OPTIONS"].join(", "),
        "access-control-allow-headers": HEADER_NAMES.test(asked) ? asked : "authorization, content-type",
        "access-control-max-age": "86400",
      },
      body: null,
    };
  }

  /** The CORS headers this request's answer carries. */
  corsHeaders(request: AppRequest): Record<string, string> {
    if (this.origins.length === 0) return this.keyed ? { "access-control-allow-origin": "*", ...EXPOSE } : {};
    const origin = request.headers.get("origin");
    return origin !== null && this.origins.includes(origin) ? { "access-control-allow-origin": origin, vary: "origin", ...EXPOSE } : {};
  }
}

function isJson(contentType: string | null): boolean {
  const type = contentType?.split(";")[0]?.trim().toLowerCase();
  return type === "application/json" || (type?.startsWith("application/") === true && type.endsWith("+json"));
}
