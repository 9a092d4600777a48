/**
 * Where upstream credentials come from. The app only sees this interface, so the local auth.json
 * file, Secrets Manager and (later) refreshing stores plug in without touching request handling.
 */

export type Credentials = { kind: "chatgpt"; accessToken: string; accountId: string } | { kind: "apikey"; apiKey: string };

export interface TokenSource {
  /** shown by /health, e.g. "auth.json" or "secrets-manager"; never a secret */
  readonly kind: string;
  /** the sentence that tells a user how to renew a rejected login, for where this source lives */
  readonly loginHint: string;
  get(): Promise<Credentials>;
  /**
   * The upstream answered 401 to `rejected`. Resolves to different credentials to retry the request
   * with once (another process may have refreshed the login), or undefined when there are none.
   */
  recover(rejected: Credentials): Promise<Credentials | undefined>;
  /** The login as /status shows it; never a token, a whole account id or an e-mail address. */
  describe(): Promise<LoginFacts>;
}

/** A login's state and dates, safe to show: see login-facts.ts. */
export interface LoginFacts {
  /** the login's name: its auth.json file, or its secret */
  name: string;
  /** ok; refreshing (a new token is being fetched); dead (it must be renewed by hand); missing (none stored yet) */
  state: "ok" | "refreshing" | "dead" | "missing";
  /** what to do about the state, when there is something to do */
  advice?: string;
  /** the plan, from the access token's claims (plus, pro, …) */
  plan?: string;
  /** the last four characters of the ChatGPT account id, to tell logins apart */
  account?: string;
  /** when the access token expires, ISO 8601 */
  access_expires_at?: string;
  /** when the login was last refreshed, as the login records it */
  last_refresh?: string;
  /** AWS: when Secrets Manager rotates the login next, and when it last did */
  next_rotation?: string;
  last_rotation?: string;
}

export function sameCredentials(a: Credentials, b: Credentials): boolean {
  if (a.kind === "chatgpt" && b.kind === "chatgpt") return a.accessToken === b.accessToken && a.accountId === b.accountId;
  if (a.kind === "apikey" && b.kind === "apikey") return a.apiKey === b.apiKey;
  return false;
}
