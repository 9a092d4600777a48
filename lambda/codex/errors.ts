/**
 * Upstream failures -> ProxyError. The backend reports failures three ways (an HTTP status with a
 * JSON body, a `response.failed` event, an `error` event); all of them end up here so one failure
 * reads the same to a client however it arrived. Facts: docs/backend.md §5
 */
import { ProxyError } from "../errors.js";
import type { UpstreamErrorInfo } from "./types.js";
import type { HeaderMap } from "../http/headers.js";

const USAGE_LIMIT = /usage_limit_reached|usage_not_included|rate_limit_exceeded|usage limit/i;

/** The failures mapUpstreamFailure knows by code, whether they came in the stream or as an HTTP status. */
const SHARED_CODES = new Set(["rate_limit_exceeded", "context_length_exceeded", "server_is_overloaded", "service_unavailable_error", "slow_down", "invalid_encrypted_content"]);

/** Upstream fields as bounded strings: a hostile body may put anything anywhere. */
const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value.slice(0, 2000) : undefined);

/** Which login the user must renew, phrased for where the proxy runs. */
export type LoginHint = string;

export function mapUpstreamFailure(info: UpstreamErrorInfo | undefined, nowMs: number): ProxyError {
  const code = text(info?.code) ?? text(info?.type) ?? null;
  const upstreamMessage = text(info?.message)?.trim() || "no message";
  switch (code) {
    case "usage_limit_reached":
      return usageLimit(info ?? {}, nowMs);
    case "usage_not_included":
      return new ProxyError(403, `This ChatGPT plan does not include Codex usage (${upstreamMessage}). Use an account whose plan includes Codex.`, {
        code,
      });
    case "rate_limit_exceeded": {
      const seconds = info?.retry_after_seconds ?? retryAfterFromText(upstreamMessage);
      return new ProxyError(429, `The Codex backend is rate limiting this account: ${upstreamMessage}${seconds === undefined ? "" : ` Retry in ${humanDuration(seconds)}.`}`, {
        code,
        headers: seconds === undefined ? {} : { "retry-after": String(seconds) },
      });
    }
    case "insufficient_quota":
      return new ProxyError(429, `The account has no quota left: ${upstreamMessage}`, { code });
    case "context_length_exceeded":
      // no `param`: which field holds the conversation differs by dialect (messages, input)
      return new ProxyError(400, `${upstreamMessage} Shorten the conversation or start a new one.`, { code });
    case "server_is_overloaded":
    case "service_unavailable_error":
    case "slow_down":
      return new ProxyError(503, `The Codex backend is overloaded: ${upstreamMessage} Retry in a moment.`, {
        code: "upstream_overloaded",
        headers: { "retry-after": String(info?.retry_after_seconds ?? 5) },
      });
    case "invalid_encrypted_content":
      return encryptedContentRefused(upstreamMessage);
    case "invalid_prompt":
    case "cyber_policy":
    case "content_filter":
    case "invalid_request_error":
      return new ProxyError(400, `The Codex backend refused the request: ${upstreamMessage}`, { code, param: text(info?.param) ?? null });
    default:
      return new ProxyError(502, `The Codex backend failed to answer (${code ?? "unknown error"}): ${upstreamMessage}`, {
        code: code ?? "upstream_error",
      });
  }
}

/**
 * Encrypted reasoning and compaction content is bound to the login that minted it (and a compaction
 * item to its `cmp_` id): replayed under another login it cannot be read. Retrying cannot help.
 */
function encryptedContentRefused(upstreamMessage: string): ProxyError {
  return new ProxyError(
    400,
    `The conversation carries encrypted reasoning or compaction content that the backend cannot read under this ChatGPT login (${upstreamMessage}). Such content only works with the login that created it: the proxy's login has changed since (a new login as another account), or the items were altered. Start a new thread (in the Codex CLI: /new); a client that keeps its own history can instead resend it without its reasoning and compaction items.`,
    { code: "invalid_encrypted_content", param: "input" },
  );
}

function usageLimit(info: UpstreamErrorInfo, nowMs: number): ProxyError {
  const nowS = nowMs / 1000;
  const resetsAt = epochSeconds(info.resets_at);
  const fromResetsAt = typeof info.resets_in_seconds !== "number";
  const seconds = plausibleWait(fromResetsAt ? (resetsAt === undefined ? undefined : resetsAt - nowS) : (info.resets_in_seconds as number));
  const headers: Record<string, string> = {};
  let when = "";
  if (seconds !== undefined) {
    const wait = Math.max(1, Math.ceil(seconds));
    headers["retry-after"] = String(wait);
    const resetAt = new Date((fromResetsAt && resetsAt !== undefined ? resetsAt : nowS + wait) * 1000);
    when = ` It resets at ${resetAt.toISOString().replace(/\.\d{3}Z$/, "Z")} (in ${humanDuration(wait)}).`;
  }
  const plan = typeof info.plan_type === "string" && /^[\w-]{1,40}$/.test(info.plan_type) ? ` for the ${info.plan_type} plan` : "";
  return new ProxyError(429, `The ChatGPT Codex usage limit${plan} has been reached.${when}`, {
    code: "usage_limit_reached",
    headers,
  });
}

/** The plan's longest window is a week; anything past a month, negative or not a number is noise. */
const MAX_WAIT_S = 31 * 24 * 3600;

function plausibleWait(seconds: number | undefined): number | undefined {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds > MAX_WAIT_S) return undefined;
  return Math.max(0, seconds);
}

/** Unix seconds; a value in milliseconds (some backends send those) is scaled down. */
function epochSeconds(value: unknown): number | undefined {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) return undefined;
  const seconds = value > 1e11 ? value / 1000 : value;
  return seconds > 1e11 ? undefined : seconds;
}

/** A Retry-After header as seconds to wait: delta-seconds or an HTTP date. */
export function retryAfterSeconds(header: string | null, nowMs: number): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const text = header.trim();
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : (Date.parse(text) - nowMs) / 1000;
  const wait = plausibleWait(seconds);
  return wait === undefined ? undefined : Math.max(1, Math.ceil(wait));
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
  headers: HeaderMap;
  bodyText: string;
}

export function isChallenge(status: number, headers: HeaderMap): boolean {
  return headers.get("cf-mitigated") === "challenge" || ((status === 403 || status === 503) && /html/i.test(headers.get("content-type") ?? ""));
}

/** An upstream answer with a non-2xx status, before any event was streamed. */
export function mapUpstreamHttpError(res: UpstreamHttpError, nowMs: number, loginHint: LoginHint): ProxyError {
  const { status, headers, bodyText } = res;
  if (isChallenge(status, headers)) {
    return new ProxyError(
      502,
      `The Codex backend's firewall (Cloudflare) blocked this request with a challenge page (HTTP ${status}): it blocks some server and cloud networks. Run the proxy from another network, or route upstream calls through an egress proxy with UPSTREAM_PROXY_URL.`,
      { code: "upstream_blocked" },
    );
  }
  if (status >= 300 && status <= 399) {
    return new ProxyError(
      502,
      `The Codex backend answered with a redirect (HTTP ${status}${redirectHost(headers)}), which the proxy does not follow: it would send the conversation and the account id elsewhere. Check CODEX_BASE_URL.`,
      { code: "upstream_redirect" },
    );
  }

  const parsed = parseErrorBody(bodyText);
  const retryAfter = retryAfterSeconds(headers.get("retry-after"), nowMs);
  if (status === 401 || status === 403) {
    const detail = parsed.info?.message ?? parsed.detail ?? `HTTP ${status}`;
    const code = parsed.info?.code ? `${parsed.info.code}: ` : "";
    return new ProxyError(401, `The Codex backend rejected the ChatGPT login (${code}${detail}). The login needs refreshing: ${loginHint}`, {
      code: "upstream_unauthorized",
    });
  }
  const limitCode = [parsed.info?.code, parsed.info?.type].find((c) => c === "usage_limit_reached" || c === "usage_not_included" || c === "insufficient_quota");
  if (limitCode || (status === 404 && USAGE_LIMIT.test(bodyText))) {
    const mapped = mapUpstreamFailure({ ...(parsed.info ?? {}), code: limitCode ?? "usage_limit_reached" }, nowMs);
    if (retryAfter !== undefined && mapped.headers["retry-after"] === undefined) mapped.headers["retry-after"] = String(retryAfter);
    return mapped;
  }
  // One table for the conditions both paths share (mapUpstreamFailure): a code says which, else the status.
  const message = parsed.info?.message ?? parsed.detail;
  const retry = retryAfter === undefined ? {} : { retry_after_seconds: retryAfter };
  const code = parsed.info?.code ?? parsed.info?.type;
  if (code && SHARED_CODES.has(code)) return mapUpstreamFailure({ ...parsed.info, ...retry, code }, nowMs);
  if (status === 429) return mapUpstreamFailure({ ...retry, message: message ?? "too many requests", code: "rate_limit_exceeded" }, nowMs);
  if (status >= 400 && status < 500) {
    const text = parsed.detail ?? parsed.info?.message ?? (bodyText.trim().slice(0, 500) || `HTTP ${status}`);
    return new ProxyError(status === 413 ? 413 : 400, `The Codex backend rejected the request: ${text}`, {
      code: parsed.info?.code ?? "upstream_invalid_request",
      param: parsed.info?.param ?? null,
      type: "invalid_request_error",
    });
  }
  const said = parsed.detail ?? parsed.info?.message;
  if (status === 503) return mapUpstreamFailure({ ...retry, message: said ?? "HTTP 503", code: "service_unavailable_error" }, nowMs);
  return new ProxyError(502, `The Codex backend answered HTTP ${status}${said ? `: ${said}` : ""}. This is usually temporary; retry in a moment.`, {
    code: "upstream_unavailable",
  });
}

function redirectHost(headers: HeaderMap): string {
  try {
    const location = headers.get("location");
    return location ? ` to ${new URL(location, "http://relative.invalid").host}` : "";
  } catch {
    return "";
  }
}

function parseErrorBody(bodyText: string): { info?: UpstreamErrorInfo; detail?: string } {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return {};
  }
  if (typeof body !== "object" || body === null) return {};
  const { error, detail } = body as { error?: unknown; detail?: unknown };
  const out: { info?: UpstreamErrorInfo; detail?: string } = {};
  if (typeof error === "object" && error !== null) {
    const e = error as Record<string, unknown>;
    out.info = { code: text(e.code) ?? null, type: text(e.type) ?? null, message: text(e.message) ?? null, param: text(e.param) ?? null };
    if (typeof e.plan_type === "string") out.info.plan_type = e.plan_type;
    if (typeof e.resets_at === "number") out.info.resets_at = e.resets_at;
    if (typeof e.resets_in_seconds === "number") out.info.resets_in_seconds = e.resets_in_seconds;
  } else if (typeof error === "string") out.info = { code: error, message: error };
  if (typeof detail === "string") out.detail = detail.slice(0, 2000);
  else if (detail !== undefined) out.detail = JSON.stringify(detail).slice(0, 2000);
  return out;
}
