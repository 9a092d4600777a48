/**
 * Lambda's client keys: a Secrets Manager secret (API_KEYS_SECRET_ID) holding
 * `{"keys": ["key-1", "key-2"]}` (or `{"key": "..."}` as the stack generates it). Several keys may
 * be valid at once, so keys rotate without downtime. If the secret cannot be read every request is
 * refused: the proxy fails closed, never open.
 */
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ProxyError } from "../errors.js";
import type { Logger } from "../log.js";
import { bearerToken, keysMatch, missingOrInvalidKey, type ClientKeyCheck } from "./client-keys.js";
import { readSecret } from "./secrets.js";
import { TtlCache } from "./ttl-cache.js";

/** An unknown key triggers a re-read (a key was just added) at most this often. */
const RELOAD_ON_MISS_MS = 30_000;

export class SecretClientKeys implements ClientKeyCheck {
  readonly enforced = true;
  private readonly cache: TtlCache<string[]>;

  constructor(
    client: SecretsManagerClient,
    private readonly secretId: string,
    private readonly log: Logger,
    ttlMs = 300_000,
    private readonly now: () => number = Date.now,
  ) {
    this.cache = new TtlCache(async () => parseKeys(await readSecret(client, secretId), secretId), ttlMs, now);
  }

  async verify(authorization: string | null, how?: string): Promise<void> {
    const presented = bearerToken(authorization);
    let keys = await this.keys(() => this.cache.get());
    if (presented !== undefined && !keysMatch(presented, keys) && this.now() - (this.cache.readAt ?? 0) > RELOAD_ON_MISS_MS) {
      keys = await this.keys(() => this.cache.refresh());
    }
    if (presented === undefined || !keysMatch(presented, keys)) throw missingOrInvalidKey(presented, how);
  }

  async warm(): Promise<void> {
    await this.cache.get();
  }

  private async keys(load: () => Promise<string[]>): Promise<string[]> {
    try {
      return await load();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.log.error("cannot read the API keys secret; refusing every request until it can be read", { secret_id: this.secretId, reason });
      throw new ProxyError(503, "The proxy cannot check API keys right now, so it refuses requests. Retry in a moment; if it persists, check the function's logs.", {
        code: "api_keys_unavailable",
        headers: { "retry-after": "5" },
      });
    }
  }
}

export function parseKeys(text: string, secretId: string): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`the secret ${secretId} is not JSON; it must be {"keys": ["..."]}`);
  }
  const { keys, key } = (typeof doc === "object" && doc !== null ? doc : {}) as { keys?: unknown; key?: unknown };
  const all = [...(Array.isArray(keys) ? keys : []), ...(key === undefined ? [] : [key])];
  // A key travels in an HTTP header, so only printable ASCII can ever match.
  const valid = all.filter((k): k is string => typeof k === "string" && k.length >= 16 && /^[\x21-\x7e]+$/.test(k));
  if (valid.length === 0) {
    throw new Error(`the secret ${secretId} holds no key of 16 or more printable ASCII characters (no spaces); it must be {"keys": ["..."]}`);
  }
  return valid;
}
