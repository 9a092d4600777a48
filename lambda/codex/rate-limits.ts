/**
 * The plan's usage windows, as the backend reports them in response headers
 * (docs/backend.md §5): passed on to clients, shown by /health, and emitted as
 * metrics. Only these numeric facts are kept; nothing here is a secret.
 */
import type { HeaderMap } from "../http/headers.js";

export interface UsageWindow {
  used_percent?: number;
  window_minutes?: number;
  reset_after_seconds?: number;
  reset_at?: number;
}

export interface RateLimits {
  primary?: UsageWindow;
  secondary?: UsageWindow;
  plan_type?: string;
  /** when the proxy read them, ISO 8601 */
  observed_at: string;
}

const FIELDS: [keyof UsageWindow, string][] = [
  ["used_percent", "used-percent"],
  ["window_minutes", "window-minutes"],
  ["reset_after_seconds", "reset-after-seconds"],
  ["reset_at", "reset-at"],
];

/** The `x-codex-*` headers a client may see: the plan's windows and credits, no identifiers. */
export function usageHeaders(headers: HeaderMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (/^x-codex-(primary|secondary)-|^x-codex-(plan-type|active-limit|credits-)/.test(name) && value.length <= 100) out[name] = value;
  }
  return out;
}

export function readRateLimits(headers: HeaderMap, nowMs: number): RateLimits | undefined {
  const primary = usageWindow(headers, "primary");
  const secondary = usageWindow(headers, "secondary");
  if (!primary && !secondary) return undefined;
  const limits: RateLimits = { observed_at: new Date(nowMs).toISOString() };
  if (primary) limits.primary = primary;
  if (secondary) limits.secondary = secondary;
  const plan = headers.get("x-codex-plan-type");
  if (plan && /^[\w-]{1,40}$/.test(plan)) limits.plan_type = plan;
  return limits;
}

/** When a window resets, in ms since the epoch: the time it names, or its seconds left when it was read. */
export function windowResetsAt(window: UsageWindow, observedMs: number): number | undefined {
  if (window.reset_at !== undefined) return window.reset_at * 1000;
  return window.reset_after_seconds === undefined ? undefined : observedMs + window.reset_after_seconds * 1000;
}

function usageWindow(headers: HeaderMap, which: "primary" | "secondary"): UsageWindow | undefined {
  const window: UsageWindow = {};
  let any = false;
  for (const [key, suffix] of FIELDS) {
    const text = headers.get(`x-codex-${which}-${suffix}`);
    const value = text === null || text.trim() === "" ? Number.NaN : Number(text);
    if (Number.isFinite(value)) {
      window[key] = value;
      any = true;
    }
  }
  return any ? window : undefined;
}
