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
}

export function sameCredentials(a: Credentials, b: Credentials): boolean {
  if (a.kind === "chatgpt" && b.kind === "chatgpt") return a.accessToken === b.accessToken && a.accountId === b.accountId;
  if (a.kind === "apikey" && b.kind === "apikey") return a.apiKey === b.apiKey;
  return false;
}
