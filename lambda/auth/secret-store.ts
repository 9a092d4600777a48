/**
 * Lambda's token source: the Codex auth.json text stored as-is in a Secrets Manager secret
 * (CODEX_SECRET_ID), cached with a TTL and re-read at once when the upstream rejects the token.
 */
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ProxyError } from "../errors.js";
import { AuthFileError, parseAuthJson, type ParsedAuth } from "./auth-json.js";
import { readSecret } from "./secrets.js";
import { sameCredentials, type Credentials, type TokenSource } from "./tokens.js";
import { TtlCache } from "./ttl-cache.js";

export const UPLOAD_HINT = "upload a fresh Codex login with `npm run tokens:upload` (see the README, 'Deploy to AWS').";

export class SecretTokenSource implements TokenSource {
  readonly kind = "secrets-manager";
  readonly loginHint = UPLOAD_HINT;
  private readonly cache: TtlCache<ParsedAuth>;

  constructor(
    client: SecretsManagerClient,
    readonly secretId: string,
    ttlMs = 300_000,
    now: () => number = Date.now,
  ) {
    this.cache = new TtlCache(async () => parseSecret((await readSecret(client, secretId)).text, secretId), ttlMs, now);
  }

  async get(): Promise<Credentials> {
    return (await this.cache.get()).credentials;
  }

  async recover(rejected: Credentials): Promise<Credentials | undefined> {
    const fresh = (await this.cache.refresh()).credentials;
    return sameCredentials(fresh, rejected) ? undefined : fresh;
  }
}

export function parseSecret(text: string, secretId: string): ParsedAuth {
  try {
    return parseAuthJson(text, `The secret ${secretId}`);
  } catch (err) {
    if (!(err instanceof AuthFileError)) throw err;
    throw new ProxyError(503, `${err.message.replace(/ Recreate it with.*| Log in.*/, "")} No usable Codex login is stored yet: ${UPLOAD_HINT}`, {
      code: "login_not_uploaded",
    });
  }
}
