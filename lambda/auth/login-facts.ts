/**
 * What /status may show of a login, read from the login itself: its plan and expiry from the access
 * token's claims, the date of its last refresh, and the end of its account id. Nothing here is a
 * credential: no token, no refresh token, no whole account id, no e-mail address (the id token,
 * which carries the address, is never read).
 */
import type { ParsedAuth } from "./auth-json.js";
import { expiresAt } from "./freshness.js";
import { decodeJwtClaims } from "./jwt.js";
import type { LoginFacts } from "./tokens.js";

export function loginFacts(name: string, auth: ParsedAuth, state: LoginFacts["state"], advice?: string): LoginFacts {
  const facts: LoginFacts = { name, state };
  if (advice) facts.advice = advice;
  if (auth.credentials.kind === "chatgpt") {
    const plan = decodeJwtClaims(auth.credentials.accessToken)?.["https://api.openai.com/auth"]?.chatgpt_plan_type;
    if (typeof plan === "string" && /^[\w-]{1,40}$/.test(plan)) facts.plan = plan;
    const account = auth.credentials.accountId;
    if (account.length >= 8) facts.account = `…${account.slice(-4)}`;
    const exp = expiresAt(auth);
    if (exp !== undefined) facts.access_expires_at = new Date(exp).toISOString();
  } else {
    facts.plan = "API key";
  }
  const last = auth.lastRefresh ? Date.parse(auth.lastRefresh) : Number.NaN;
  if (Number.isFinite(last)) facts.last_refresh = new Date(last).toISOString();
  return facts;
}
