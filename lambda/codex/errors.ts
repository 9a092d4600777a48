/**
 * Upstream failures -> ProxyError. The backend reports failures three ways (an HTTP status with a
 * JSON body, a `response.failed` event, an `error` event); all of them end up here so one failure
 * reads the same to a client however it arrived. Facts: shared/reference/codex-backend.md §5.
 */
import { ProxyError } from "../errors.js";
import type { UpstreamErrorInfo } from "./types.js";

const USAGE_LIMIT = /usage_limit_reached|usage_not_included|rate_limit_exceeded|usage limit/i;

/** Which login the user must renew, phrased for where the proxy runs. */
export type LoginHint = string;

export function mapUpstreamFailure(info: UpstreamErrorInfo | undefined, nowMs: number): ProxyError {
  const code = info?.code ?? info?.type ?? null;
  const upstreamMessage = info?.message?.trim() || "no message";
  switch (code) {
    case "usage_limit_reached":
      return usageLimit(info ?? {}, nowMs);
    case "usage_not_included":
      return new ProxyError(403, `This ChatGPT plan does not include Codex usage (${upstreamMessage}). Use an account whose plan includes Codex.`, {
        code,
      });
    case "rate_limit_exceeded": {
      const seconds = retryAfterFromText(upstreamMessage);
      return new ProxyError(429, `The Codex backend is rate limiting this account: ${upstreamMessage}`, {
        code,
        headers: seconds === undefined ? {} : { "retry-after": String(seconds) },
      });
    }
    case "insufficient_quota":
      return new ProxyError(429, `The account has no quota left: ${upstreamMessage}`, { code });
    case "context_length_exceeded":
      return new ProxyError(400, `${upstreamMessage} Shorten the conversation or start a new one.`, { code, param: "messages" });
    case "server_is_overloaded":
    case "service_unavailable_error":
    case "slow_down":
      return new ProxyError(503, `The Codex backend is overloaded: ${upstreamMessage} Retry in a moment.`, {
        code: "upstream_overloaded",
        headers: { "retry-after": "5" },
      });
    case "invalid_prompt":
    case "cyber_policy":
    case "content_filter":
    case "invalid_request_error":
      return new ProxyError(400, `The Codex backend refused the request: ${upstreamMessage}`, { code, param: info?.param ?? null });
    default:
      return new ProxyError(502, `The Codex backend failed to answer (${code ?? "unknown error"}): ${upstreamMessage}`, {
        code: code ?? "upstream_error",
      });
  }
}

function usageLimit(info: UpstreamErrorInfo, nowMs: number): ProxyError {
  const nowS = nowMs / 1000;
  const seconds =
    typeof info.resets_in_seconds === "number"
      ? info.resets_in_seconds
      : typeof info.resets_at === "number"
        ? info.resets_at - nowS
        : undefined;
  const headers: Record<string, string> = {};
  let when = "";
  if (seconds !== undefined && Number.isFinite(seconds)) {
    const wait = Math.max(1, Math.ceil(seconds));
    headers["retry-after"] = String(wait);
    const resetAt = new Date((typeof info.resets_at === "number" ? info.resets_at : nowS + wait) * 1000);
    when = ` It resets at ${resetAt.toISOString().replace(/\.\d{3}Z$/, "Z")} (in ${humanDuration(wait)}).`;
  }
  const plan = info.plan_type ? ` for the ${info.plan_type} plan` : "";
  return new ProxyError(429, `The ChatGPT Codex usage limit${plan} has been reached.${when}`, {
    code: "usage_limit_reached",
    headers,
  });
}

function humanDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${seconds % 60}s`;
  return `${seconds}s`;
}

function retryAfterFromText(message: string): number | undefined {
  const match = /try again in\s*(\d+(?:\.\d+)?)\s*(ms|s|seconds?)/i.exec(message);
  if (!match) return undefined;
  const value = Number(match[1]) / (match[2]?.toLowerCase() === "ms" ? 1000 : 1);
  return Math.max(1, Math.ceil(value));
}

export interface UpstreamHttpError {
  status: number;
  headers: Headers;
  bodyText: string;
}

/** An upstream answer with a non-2xx status, before any event was streamed. */
export function mapUpstreamHttpError(res: UpstreamHttpError, nowMs: number, loginHint: LoginHint): ProxyError {
  const { status, headers, bodyText } = res;
  const contentType = headers.get("content-type") ?? "";
  if (headers.get("cf-mitigated") === "challenge" || ((status === 403 || status === 503) && /html/i.test(contentType))) {
    return new ProxyError(
      502,
      `The Codex backend's firewall (Cloudflare) blocked this request with a challenge page (HTTP ${status}): it blocks some server and cloud networks. Run the proxy from another network, or route upstream calls through an egress proxy with UPSTREAM_PROXY_URL.`,
      { code: "upstream_blocked" },
    );
  }

  const parsed = parseErrorBody(bodyText);
  if (status === 401 || status === 403) {
    const detail = parsed.info?.message ?? parsed.detail ?? `HTTP ${status}`;
    const code = parsed.info?.code ? `${parsed.info.code}: ` : "";
    return new ProxyError(401, `The Codex backend rejected the ChatGPT login (${code}${detail}). The login needs refreshing: ${loginHint}`, {
      code: "upstream_unauthorized",
    });
  }
  if (status === 429 || (status === 404 && USAGE_LIMIT.test(bodyText))) {
    const mapped = mapUpstreamFailure({ ...(parsed.info ?? {}), code: parsed.info?.code ?? parsed.info?.type ?? "usage_limit_reached" }, nowMs);
    if (mapped.status === 429 || mapped.status === 403) return mapped;
    const retryAfter = headers.get("retry-after");
    return new ProxyError(429, `The Codex backend is rate limiting this account: ${parsed.info?.message ?? parsed.detail ?? "too many requests"}`, {
      code: "rate_limit_exceeded",
      headers: retryAfter ? { "retry-after": retryAfter } : {},
    });
  }
  if (status >= 400 && status < 500) {
    const text = parsed.detail ?? parsed.info?.message ?? (bodyText.trim().slice(0, 500) || `HTTP ${status}`);
    return new ProxyError(status === 413 ? 413 : 400, `The Codex backend rejected the request: ${text}`, {
      code: parsed.info?.code ?? "upstream_invalid_request",
      param: parsed.info?.param ?? null,
      type: "invalid_request_error",
    });
  }
  return new ProxyError(502, `The Codex backend answered HTTP ${status}${parsed.detail || parsed.info?.message ? `: ${parsed.detail ?? parsed.info?.message}` : ""}. This is usually temporary; retry in a moment.`, {
    code: "upstream_unavailable",
  });
}

function parseErrorBody(text: string): { info?: UpstreamErrorInfo; detail?: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof body !== "object" || body === null) return {};
  const { error, detail } = body as { error?: unknown; detail?: unknown };
  const out: { info?: UpstreamErrorInfo; detail?: string } = {};
  if (typeof error === "object" && error !== null) out.info = error as UpstreamErrorInfo;
  else if (typeof error === "string") out.info = { code: error, message: error };
  if (typeof detail === "string") out.detail = detail;
  else if (detail !== undefined) out.detail = JSON.stringify(detail);
  return out;
}
