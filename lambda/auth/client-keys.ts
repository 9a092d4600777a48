/**
 * The proxy's own API keys (what clients send as `Authorization: Bearer <key>`). Each key is
 * compared as a SHA-256 digest with timingSafeEqual, against every configured key, so neither the
 * content nor the position of a match shows in the timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { ProxyError } from "../errors.js";

export interface ClientKeyCheck {
  /** false when no keys are configured and every request is let in */
  readonly enforced: boolean;
  /**
   * Throws a 401 ProxyError unless the request carries a valid key. `how`: how this route's clients
   * send the key, for the error's advice (BEARER_HINT when unset).
   */
  verify(authorization: string | null, how?: string): Promise<void>;
  /** Loads the keys ahead of the first request, where they come from somewhere slow. */
  warm?(): Promise<void>;
}

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest();

export function bearerToken(authorization: string | null): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? "");
  return match?.[1]?.trim();
}

export function keysMatch(presented: string, keys: readonly string[]): boolean {
  const given = digest(presented);
  let ok = false;
  for (const key of keys) ok = timingSafeEqual(given, digest(key)) || ok;
  return ok;
}

export const BEARER_HINT = "'Authorization: Bearer <key>'";

export function missingOrInvalidKey(presented: string | undefined, how = BEARER_HINT): ProxyError {
  return new ProxyError(
    401,
    presented === undefined
      ? `Missing API key. Send the proxy's key as ${how} (one of PROXY_API_KEYS).`
      : "Invalid API key. Use one of the keys configured for this proxy (PROXY_API_KEYS).",
    { code: "invalid_api_key" },
  );
}

export class StaticClientKeys implements ClientKeyCheck {
  readonly enforced: boolean;

  constructor(private readonly keys: readonly string[]) {
    this.enforced = keys.length > 0;
  }

  async verify(authorization: string | null, how?: string): Promise<void> {
    if (!this.enforced) return;
    const presented = bearerToken(authorization);
    if (presented === undefined || !keysMatch(presented, this.keys)) throw missingOrInvalidKey(presented, how);
  }
}
