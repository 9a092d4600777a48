/**
 * The proxy's own API keys (what clients send as `Authorization: Bearer <key>`). Each key is
 * compared as a SHA-256 digest with timingSafeEqual, against every configured key, so neither the
 * content nor the position of a match shows in the timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { ClientKey } from "../config.js";
import { ProxyError } from "../errors.js";

export type { ClientKey } from "../config.js";

export interface ClientKeyCheck {
  /** false when no keys are configured and every request is let in */
  readonly enforced: boolean;
  /**
   * Throws a 401 ProxyError unless the request carries a valid key; resolves to what the key may
   * use. `how`: how this route's clients send the key, for the error's advice (BEARER_HINT when unset).
   */
  verify(authorization: string | null, how?: string): Promise<KeyGrant>;
  /** Loads the keys ahead of the first request, where they come from somewhere slow. */
  warm?(): Promise<void>;
}

/** What a key may use: the logins it is bound to, or every login when unset. */
export interface KeyGrant {
  logins?: readonly string[];
}

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest();

export function bearerToken(authorization: string | null): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? "");
  return match?.[1]?.trim();
}

/** The matching key, found by comparing against every key alike (no early exit). */
export function matchingKey(presented: string, keys: readonly ClientKey[]): ClientKey | undefined {
  const given = digest(presented);
  let found: ClientKey | undefined;
  for (const entry of keys) if (timingSafeEqual(given, digest(entry.key)) && found === undefined) found = entry;
  return found;
}

export function grantOf(key: ClientKey): KeyGrant {
  return key.logins ? { logins: key.logins } : {};
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
  private readonly keys: readonly ClientKey[];

  constructor(keys: readonly (string | ClientKey)[]) {
    this.keys = keys.map((k) => (typeof k === "string" ? { key: k } : k));
    this.enforced = keys.length > 0;
  }

  async verify(authorization: string | null, how?: string): Promise<KeyGrant> {
    if (!this.enforced) return {};
    const presented = bearerToken(authorization);
    const key = presented === undefined ? undefined : matchingKey(presented, this.keys);
    if (!key) throw missingOrInvalidKey(presented, how);
    return grantOf(key);
  }
}
