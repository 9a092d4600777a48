/**
 * Lambda's client keys: a Secrets Manager secret (API_KEYS_SECRET_ID) holding
 * `{"keys": ["key-1", "key-2"]}` (or `{"key": "..."}` as the stack generates it). Several keys may
 * be valid at once, so keys rotate without downtime. A key may be bound to some logins:
 * `{"keys": [{"key": "key-3", "logins": ["alice"]}]}`. If the secret cannot be read, or binds a key
 * to a login there is not, every request is refused: the proxy fails closed, never open.
 */
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ProxyError } from "../errors.js";
import type { Logger } from "../log.js";
import { checkBindings, type ClientKey } from "../config.js";
import { bearerToken, grantOf, matchingKey, missingOrInvalidKey, type ClientKeyCheck, type KeyGrant } from "./client-keys.js";
import { readSecret } from "./secrets.js";
import { TtlCache } from "./ttl-cache.js";

/** An unknown key triggers a re-read (a key was just added) at most this often. */
const RELOAD_ON_MISS_MS = 30_000;

export class SecretClientKeys implements ClientKeyCheck {
  readonly enforced = true;
  private readonly cache: TtlCache<ClientKey[]>;

  constructor(
    client: SecretsManagerClient,
    private readonly secretId: string,
    private readonly log: Logger,
    ttlMs = 300_000,
    private readonly now: () => number = Date.now,
    /** the logins keys may be bound to; a binding to another is refused */
    logins: readonly string[] = ["default"],
  ) {
    this.cache = new TtlCache(
      async () => {
        const keys = parseKeys(await readSecret(client, secretId), secretId);
        checkBindings(keys, logins, `The secret ${secretId}`);
        return keys;
      },
      ttlMs,
      now,
    );
  }

  async verify(authorization: string | null, how?: string): Promise<KeyGrant> {
    const presented = bearerToken(authorization);
    const keys = await this.keys(() => this.cache.get());
    let key = presented === undefined ? undefined : matchingKey(presented, keys);
    if (presented !== undefined && !key && this.now() - (this.cache.readAt ?? 0) > RELOAD_ON_MISS_MS) {
      key = matchingKey(presented, await this.keys(() => this.cache.refresh()));
    }
    if (!key) throw missingOrInvalidKey(presented, how);
    return grantOf(key);
  }

  async warm(): Promise<void> {
    await this.cache.get();
  }

  private async keys(load: () => Promise<ClientKey[]>): Promise<ClientKey[]> {
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

export function parseKeys(text: string, secretId: string): ClientKey[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`the secret ${secretId} is not JSON; it must be {"keys": ["..."]}`);
  }
  const { keys, key } = (typeof doc === "object" && doc !== null ? doc : {}) as { keys?: unknown; key?: unknown };
  const all = [...(Array.isArray(keys) ? keys : []), ...(key === undefined ? [] : [key])];
  const valid: ClientKey[] = [];
  for (const entry of all) {
    const bound: { key?: unknown; logins?: unknown } = typeof entry === "object" && entry !== null ? entry : { key: entry };
    // A key travels in an HTTP header, so only printable ASCII can ever match.
    if (typeof bound.key !== "string" || bound.key.length < 16 || !/^[\x21-\x7e]+$/.test(bound.key)) continue;
    if (bound.logins === undefined) valid.push({ key: bound.key });
    else if (Array.isArray(bound.logins) && bound.logins.length > 0 && bound.logins.every((n: unknown) => typeof n === "string"))
      valid.push({ key: bound.key, logins: bound.logins as string[] });
    else throw new Error(`the secret ${secretId} binds a key to 'logins' that is not a list of login names; write {"key": "...", "logins": ["alice"]}`);
  }
  if (valid.length === 0) {
    throw new Error(`the secret ${secretId} holds no key of 16 or more printable ASCII characters (no spaces); it must be {"keys": ["..."]}`);
  }
  return valid;
}
