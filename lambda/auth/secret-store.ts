/**
 * Lambda's token source: the Codex auth.json text stored as-is in a Secrets Manager secret
 * (CODEX_SECRET_ID), cached with a TTL and re-read at once when the upstream rejects the token.
 *
 * The proxy never refreshes a login itself (many instances would spend the same single-use refresh
 * token). When the token is about to expire, or the upstream rejects it and the secret holds nothing
 * newer, it asks Secrets Manager to rotate the secret — the rotation function refreshes, and the
 * service runs one rotation at a time — and waits, bounded, for the new AWSCURRENT version.
 */
import { DescribeSecretCommand, RotateSecretCommand, type DescribeSecretCommandOutput, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ProxyError } from "../errors.js";
import { silentLogger, type Logger } from "../log.js";
import { AuthFileError, parseAuthJson, type ParsedAuth } from "./auth-json.js";
import { isExpired, refreshDue } from "./freshness.js";
import { loginFacts } from "./login-facts.js";
import { carriesDeadMark, isMarkedDead } from "./login-marks.js";
import { readSecret, secretError } from "./secrets.js";
import { sameCredentials, type Credentials, type LoginFacts, type TokenSource } from "./tokens.js";
import { TtlCache } from "./ttl-cache.js";

export const UPLOAD_HINT =
  "log in again with a login of the proxy's own (`CODEX_HOME=~/.codex-proxy codex login`), then upload it with `npm run tokens:upload` (see the README, 'Deploy to AWS').";

export interface SecretTokenOptions {
  ttlMs?: number;
  now?: () => number;
  log?: Logger;
  /** how long a request may wait for a rotation to finish, and how often it looks */
  rotationWaitMs?: number;
  rotationPollMs?: number;
}

export class SecretTokenSource implements TokenSource {
  readonly kind = "secrets-manager";
  readonly loginHint = UPLOAD_HINT;
  private readonly cache: TtlCache<ParsedAuth>;
  private renewing: Promise<ParsedAuth> | undefined;
  private nextNudgeAt = 0;
  private readonly now: () => number;
  private readonly log: Logger;
  /** the secret's rotation dates and marks, for /status: read at most twice a minute */
  private readonly description: TtlCache<DescribeSecretCommandOutput>;

  constructor(
    private readonly client: SecretsManagerClient,
    readonly secretId: string,
    private readonly options: SecretTokenOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.log = options.log ?? silentLogger;
    this.cache = new TtlCache(async () => parseSecret(await readSecret(client, secretId), secretId), options.ttlMs ?? 300_000, this.now);
    this.description = new TtlCache(() => client.send(new DescribeSecretCommand({ SecretId: secretId })), 30_000, this.now);
  }

  async describe(): Promise<LoginFacts> {
    let auth: ParsedAuth;
    try {
      auth = await this.cache.get();
    } catch (err) {
      const advice = err instanceof ProxyError ? err.message : `The login could not be read from ${this.secretId}.`;
      return { name: this.secretId, state: "missing", advice };
    }
    let secret: DescribeSecretCommandOutput | undefined;
    try {
      secret = await this.description.get();
    } catch (err) {
      this.log.warn("could not describe the tokens secret for /status", { error: String(err) });
    }
    const dead = carriesDeadMark(secret?.Tags, auth.refreshToken);
    const facts = dead
      ? loginFacts(this.secretId, auth, "dead", `The login can no longer be refreshed: ${UPLOAD_HINT}`)
      : this.renewing
        ? loginFacts(this.secretId, auth, "refreshing", "Secrets Manager is rotating the login; requests wait for the new one.")
        : loginFacts(this.secretId, auth, "ok");
    if (secret?.NextRotationDate) facts.next_rotation = new Date(secret.NextRotationDate).toISOString();
    if (secret?.LastRotatedDate) facts.last_rotation = new Date(secret.LastRotatedDate).toISOString();
    return facts;
  }

  async get(): Promise<Credentials> {
    const auth = await this.cache.get();
    if (!refreshDue(auth, this.now())) return auth.credentials;
    if (isExpired(auth, this.now())) return (await this.renew(auth)).credentials;
    // Still valid for a few minutes: see that a rotation runs, and keep serving meanwhile.
    return (await this.nudge(auth)).credentials;
  }

  /**
   * Asks for a rotation of a login that is about to expire — after re-reading the secret, since
   * the rotation may already have happened (this instance's cache is up to a TTL old), and at most
   * once a minute per instance: every RotateSecret after a finished rotation would refresh again.
   */
  private async nudge(auth: ParsedAuth): Promise<ParsedAuth> {
    if (this.now() < this.nextNudgeAt) return auth;
    this.nextNudgeAt = this.now() + 60_000;
    try {
      const fresh = await this.cache.refresh();
      if (!refreshDue(fresh, this.now())) return fresh;
      await this.requestRotation();
      return fresh;
    } catch (err) {
      this.log.warn("could not start a rotation; the current token is still valid", { error: String(err) });
      return auth;
    }
  }

  async recover(rejected: Credentials): Promise<Credentials | undefined> {
    const fresh = await this.cache.refresh();
    if (!sameCredentials(fresh.credentials, rejected)) return fresh.credentials;
    if (!fresh.refreshToken) return undefined;
    const renewed = await this.renew(fresh);
    return sameCredentials(renewed.credentials, rejected) ? undefined : renewed.credentials;
  }

  private renew(basis: ParsedAuth): Promise<ParsedAuth> {
    this.renewing ??= this.rotateAndWait(basis).finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  private async rotateAndWait(basis: ParsedAuth): Promise<ParsedAuth> {
    const latest = await this.cache.refresh();
    if (!sameCredentials(latest.credentials, basis.credentials)) return latest; // rotated meanwhile
    await this.failIfDead(basis);
    await this.requestRotation();
    const waitMs = this.options.rotationWaitMs ?? 25_000;
    const pollMs = this.options.rotationPollMs ?? 1_000;
    const giveUpAt = this.now() + waitMs;
    while (this.now() < giveUpAt) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      const fresh = await this.cache.refresh();
      if (!sameCredentials(fresh.credentials, basis.credentials)) return fresh;
      await this.failIfDead(basis);
    }
    throw new ProxyError(503, "The ChatGPT login is being refreshed and the new one is not stored yet. Retry in a moment.", {
      code: "login_refresh_pending",
      headers: { "retry-after": "10" },
    });
  }

  private async failIfDead(basis: ParsedAuth): Promise<void> {
    let dead: boolean;
    try {
      dead = await isMarkedDead(this.client, this.secretId, basis.refreshToken);
    } catch (err) {
      throw secretError(err, this.secretId);
    }
    if (dead) {
      throw new ProxyError(401, `The ChatGPT login stored in ${this.secretId} can no longer be refreshed, so it must be renewed: ${UPLOAD_HINT}`, {
        code: "login_expired",
      });
    }
  }

  /** A rotation already in progress is as good as one started now. */
  private async requestRotation(): Promise<void> {
    try {
      await this.client.send(new RotateSecretCommand({ SecretId: this.secretId }));
      this.log.info("asked Secrets Manager to rotate the login", { secret_id: this.secretId });
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === "InvalidRequestException" && /isn't complete|in progress|already/i.test((err as Error).message)) return;
      throw secretError(err, this.secretId);
    }
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
