/**
 * Refreshing a Codex login at the OAuth token endpoint (docs/backend.md §7).
 * Refresh tokens are single-use: the answer carries a new one and the old one is dead from then on,
 * so callers must store the result before using it, and must never retry a refresh that was
 * refused for good.
 *
 * Nor may a refresh whose outcome is unknown be sent again: once the request has gone out, the
 * endpoint may have spent the token even if its answer is slow, and a second call with it would only
 * get `refresh_token_reused`, losing the new tokens the first call produced. So a sent request is
 * waited for as long as its answer can still come, and only a request that never left (the
 * connection could not be made) or an answer that refused it for now is tried again.
 */
import { ProxyError } from "../errors.js";
import type { Fetch } from "../codex/http.js";

export const CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann";

/** Codes after which the login can only be renewed by logging in again. */
const PERMANENT = new Set([
  "refresh_token_expired",
  "refresh_token_reused",
  "refresh_token_invalidated",
  "invalid_grant",
  "token_expired",
  "account_deactivated",
  "account_suspended",
  "account_deleted",
]);

export interface RefreshResult {
  access_token?: string;
  id_token?: string;
  refresh_token?: string;
}

export class RefreshError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly code: string | null,
    /** the request went out and no complete answer came back: the token may be spent */
    readonly outcomeUnknown = false,
  ) {
    super(message);
    this.name = "RefreshError";
  }

  get retryable(): boolean {
    return !this.permanent && !this.outcomeUnknown;
  }
}

/**
 * How long a sent refresh is waited for. auth.openai.com sits behind Cloudflare, which gives up on a
 * silent origin after 100 s (its 524), so no answer comes later than that; this stays under the
 * file lock's 120 s staleness too, so no other process can take the login over meanwhile.
 */
export const ANSWER_WAIT_MS = 105_000;

/** Errors raised before the request could leave: nothing reached the token endpoint. */
const NOT_SENT = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL|ERR_EGRESS_PROXY)$|CERT|TLS|SSL/;

/** The error's own code, or its cause's (fetch wraps the socket's error as its cause). */
function neverSent(err: unknown): boolean {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === "string" && NOT_SENT.test(code);
}

export interface RefreshOptions {
  url: string;
  fetch: Fetch;
  /** waits between attempts on transient failures; the number of entries + 1 is the attempt count */
  backoffMs?: readonly number[];
  sleep?: (ms: number) => Promise<void>;
  /** how long a sent call is waited for (ANSWER_WAIT_MS); never resent after that */
  answerWaitMs?: number;
}

export async function requestRefresh(refreshToken: string, options: RefreshOptions): Promise<RefreshResult> {
  let res: Response;
  try {
    res = await options.fetch(options.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ client_id: CODEX_CLIENT_ID, grant_type: "refresh_token", refresh_token: refreshToken }),
      // A redirect would carry the refresh token to whatever host it names.
      redirect: "manual",
      signal: AbortSignal.timeout(options.answerWaitMs ?? ANSWER_WAIT_MS),
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (neverSent(err)) throw new RefreshError(`the token endpoint could not be reached (${why})`, false, null);
    throw new RefreshError(
      `the token endpoint did not answer a refresh that was sent (${why}); its outcome is unknown, so it is not sent again with the same token`,
      false,
      null,
      true,
    );
  }
  if (res.status >= 300 && res.status <= 399) {
    await res.body?.cancel().catch(() => {});
    throw new RefreshError(`the token endpoint answered with a redirect (HTTP ${res.status}), which is not followed; check CODEX_REFRESH_URL`, false, null);
  }
  let text: string;
  try {
    text = (await res.text()).slice(0, 64 * 1024);
  } catch (err) {
    throw new RefreshError(
      `the token endpoint's answer was cut off (${err instanceof Error ? err.message : String(err)}); its outcome is unknown, so it is not sent again with the same token`,
      false,
      null,
      true,
    );
  }
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // an HTML challenge page or an empty body; classified by status below
  }
  if (res.ok && typeof body.access_token === "string") return body as RefreshResult;
  const error = body.error;
  const code =
    (typeof error === "object" && error !== null ? ((error as { code?: string }).code ?? null) : typeof error === "string" ? error : null) ??
    (typeof body.code === "string" ? body.code : null);
  const message =
    (typeof error === "object" && error !== null ? (error as { message?: string }).message : undefined) ??
    (typeof body.error_description === "string" ? body.error_description : undefined) ??
    `HTTP ${res.status}`;
  const permanent = res.status === 401 || (code !== null && PERMANENT.has(code));
  // Token endpoints have been seen to quote the refresh token back in their message.
  const said = `${code ? `${code}: ` : ""}${String(message).slice(0, 500)}`;
  throw new RefreshError(refreshToken.length >= 8 ? said.replaceAll(refreshToken, "[redacted]") : said, permanent, code);
}

/** Retries failures that cannot have spent the token, with backoff; anything else is thrown at once. */
export async function refreshWithRetry(refreshToken: string, options: RefreshOptions): Promise<RefreshResult> {
  const waits = options.backoffMs ?? [1000, 3000];
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 0; ; attempt++) {
    try {
      return await requestRefresh(refreshToken, options);
    } catch (err) {
      if (!(err instanceof RefreshError) || !err.retryable || attempt >= waits.length) throw err;
      await sleep(waits[attempt] ?? 0);
    }
  }
}

/** The stored document with the refreshed tokens in place; every other field is kept. */
export function applyRefresh(doc: Record<string, unknown>, result: RefreshResult, nowMs: number): Record<string, unknown> {
  const nested = typeof doc.tokens === "object" && doc.tokens !== null;
  const tokens: Record<string, unknown> = { ...(nested ? (doc.tokens as Record<string, unknown>) : doc) };
  for (const key of ["access_token", "id_token", "refresh_token"] as const) {
    if (typeof result[key] === "string") tokens[key] = result[key];
  }
  const last_refresh = new Date(nowMs).toISOString();
  return nested ? { ...doc, tokens, last_refresh } : { ...tokens, last_refresh };
}

/** What a client sees when the login cannot be refreshed any more. */
export function loginDeadError(err: RefreshError, renewHint: string): ProxyError {
  return new ProxyError(401, `The ChatGPT login can no longer be refreshed (${err.message}), so it must be renewed: ${renewHint}`, {
    code: "login_expired",
  });
}
