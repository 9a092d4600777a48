/**
 * When a login should be refreshed, as Codex decides it: the access token expires within 5 minutes,
 * or — when the token carries no expiry — the last refresh is more than 8 days old.
 */
import type { ParsedAuth } from "./auth-json.js";
import { decodeJwtClaims } from "./jwt.js";

export const REFRESH_WINDOW_MS = 5 * 60_000;
export const MAX_REFRESH_AGE_MS = 8 * 24 * 3600_000;

export function expiresAt(auth: ParsedAuth): number | undefined {
  if (auth.credentials.kind !== "chatgpt") return undefined;
  const exp = decodeJwtClaims(auth.credentials.accessToken)?.exp;
  return typeof exp === "number" ? exp * 1000 : undefined;
}

export function refreshDue(auth: ParsedAuth, nowMs: number): boolean {
  if (auth.credentials.kind !== "chatgpt" || !auth.refreshToken) return false;
  const exp = expiresAt(auth);
  if (exp !== undefined) return exp - nowMs <= REFRESH_WINDOW_MS;
  const last = auth.lastRefresh ? Date.parse(auth.lastRefresh) : Number.NaN;
  return Number.isNaN(last) || nowMs - last > MAX_REFRESH_AGE_MS;
}

export function isExpired(auth: ParsedAuth, nowMs: number): boolean {
  const exp = expiresAt(auth);
  return exp !== undefined && exp <= nowMs;
}
