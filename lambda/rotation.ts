/**
 * The rotation function of the tokens secret: Secrets Manager's four steps, with the Codex refresh
 * as the "new secret". Only this function ever calls the OAuth endpoint in a deployment, and
 * Secrets Manager runs one rotation of a secret at a time: that is the lock across every Lambda
 * instance. Refresh tokens are single-use, so:
 * - createSecret stores the refreshed login as AWSPENDING immediately, under the rotation's
 *   ClientRequestToken; a retried step finds it there and never refreshes twice, and a rotation
 *   interrupted before finishSecret is completed from that stored value;
 * - testSecret never discards a pending value (its refresh already consumed the old token);
 * - a permanent refusal is marked on the secret (login-marks.ts) and never retried;
 * - a refresh that was sent is waited for until just before the function's own time runs out
 *   (leaving time to store the answer), and never sent again with the same token (oauth.ts).
 */
import { DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient, UpdateSecretVersionStageCommand } from "@aws-sdk/client-secrets-manager";
import { parseAuthJson, type ParsedAuth } from "./auth/auth-json.js";
import { isExpired } from "./auth/freshness.js";
import { isMarkedDead, markDead } from "./auth/login-marks.js";
import { ANSWER_WAIT_MS, applyRefresh, refreshWithRetry, RefreshError, type RefreshOptions, type RefreshResult } from "./auth/oauth.js";
import { createUpstream } from "./codex/http.js";
import { readCoreConfig } from "./config.js";
import { createLogger, type Logger } from "./log.js";

export interface RotationEvent {
  Step: "createSecret" | "setSecret" | "testSecret" | "finishSecret";
  SecretId: string;
  ClientRequestToken: string;
  RotationToken?: string;
}

/** The part of the Lambda context the rotation reads: how long it may still run. */
export interface RotationContext {
  getRemainingTimeInMillis(): number;
}

/** What storing a refreshed login may take after the answer (putWithRetry's six tries and backoff). */
const STORE_MARGIN_MS = 30_000;

export interface RotationDeps {
  client: SecretsManagerClient;
  refresh: RefreshOptions;
  log: Logger;
  now?: () => number;
}

const isNotFound = (err: unknown) => (err as { name?: string }).name === "ResourceNotFoundException";

function refreshable(text: string): ParsedAuth | undefined {
  try {
    return parseAuthJson(text, "the secret");
  } catch {
    return undefined;
  }
}

export function createRotationHandler(deps: RotationDeps): (event: RotationEvent, context?: RotationContext) => Promise<void> {
  const { client, log } = deps;
  const now = deps.now ?? Date.now;

  async function createSecret(secretId: string, token: string, context: RotationContext | undefined): Promise<void> {
    try {
      await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionId: token, VersionStage: "AWSPENDING" }));
      log.info("rotation: pending login already stored for this token; not refreshing again", { secret_id: secretId, step: "createSecret" });
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const current = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: "AWSCURRENT" }));
    const currentText = current.SecretString ?? "";
    const auth = refreshable(currentText);
    if (!auth?.refreshToken) {
      // Nothing to refresh (no login uploaded yet, or an API key): a no-op rotation, not an alarm.
      await putWithRetry(secretId, token, currentText);
      log.info("rotation: no refreshable login stored; nothing to refresh", { secret_id: secretId, step: "createSecret" });
      return;
    }
    if (await isMarkedDead(client, secretId, auth.refreshToken)) {
      throw new Error(`the login in ${secretId} was refused for good earlier; upload a new one with npm run tokens:upload (not refreshing again)`);
    }
    const left = context ? context.getRemainingTimeInMillis() - STORE_MARGIN_MS : Number.POSITIVE_INFINITY;
    const answerWaitMs = Math.max(1_000, Math.min(deps.refresh.answerWaitMs ?? ANSWER_WAIT_MS, left));
    let result: RefreshResult;
    try {
      result = await refreshWithRetry(auth.refreshToken, { ...deps.refresh, answerWaitMs });
    } catch (err) {
      if (err instanceof RefreshError && err.outcomeUnknown) {
        log.error("rotation: the token endpoint did not answer the refresh in time; not sending it again with the same token", {
          event: "rotation_failed",
          permanent: false,
          secret_id: secretId,
          waited_ms: answerWaitMs,
        });
      }
      if (err instanceof RefreshError && err.permanent) {
        await markDead(client, secretId, auth.refreshToken);
        log.error("rotation failed: the login can no longer be refreshed; run `codex login` with a dedicated CODEX_HOME and `npm run tokens:upload`", {
          event: "rotation_failed",
          permanent: true,
          code: err.code ?? "unknown",
          secret_id: secretId,
        });
      }
      throw err;
    }
    const text = JSON.stringify(applyRefresh(auth.doc, result, now()), null, 2);
    // The old refresh token is spent: store the new login before anything else can fail.
    await putWithRetry(secretId, token, text);
    log.info("rotation: refreshed login stored as AWSPENDING", { secret_id: secretId, step: "createSecret" });
  }

  async function putWithRetry(secretId: string, token: string, text: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.send(new PutSecretValueCommand({ SecretId: secretId, ClientRequestToken: token, SecretString: text, VersionStages: ["AWSPENDING"] }));
        return;
      } catch (err) {
        if (attempt >= 6) {
          log.error("rotation: the refreshed login could not be stored; a new login will be needed", { event: "rotation_failed", permanent: true, secret_id: secretId });
          throw err;
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
      }
    }
  }

  async function testSecret(secretId: string, token: string): Promise<void> {
    const pending = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionId: token, VersionStage: "AWSPENDING" }));
    const auth = refreshable(pending.SecretString ?? "");
    if (!auth?.refreshToken) {
      const current = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: "AWSCURRENT" }));
      if (current.SecretString === pending.SecretString) return; // the no-op rotation above
    }
    if (auth?.credentials.kind !== "chatgpt" || isExpired(auth, now())) {
      // Left in place on purpose: it is the only copy of the refreshed login.
      throw new Error(`the pending login of ${secretId} is not a usable ChatGPT login; it is kept as AWSPENDING`);
    }
  }

  async function finishSecret(secretId: string, token: string, stages: Record<string, string[]>): Promise<void> {
    const current = Object.entries(stages).find(([, s]) => s.includes("AWSCURRENT"))?.[0];
    if (current !== token) {
      await client.send(new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: "AWSCURRENT", MoveToVersionId: token, RemoveFromVersionId: current }));
    }
    await client.send(new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: "AWSPENDING", RemoveFromVersionId: token }));
    log.info("rotation finished: the refreshed login is current", { secret_id: secretId });
  }

  return async (event, context) => {
    const { Step: step, SecretId: secretId, ClientRequestToken: token } = event;
    const described = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
    if (!described.RotationEnabled) throw new Error(`rotation is not enabled for ${secretId}`);
    const stages = described.VersionIdsToStages ?? {};
    const tokenStages = stages[token];
    if (!tokenStages) throw new Error(`version ${token} of ${secretId} has no stage for rotation`);
    if (tokenStages.includes("AWSCURRENT")) {
      log.info("rotation: version already current", { secret_id: secretId, step });
      return;
    }
    if (!tokenStages.includes("AWSPENDING")) throw new Error(`version ${token} of ${secretId} is not AWSPENDING`);
    switch (step) {
      case "createSecret":
        return createSecret(secretId, token, context);
      case "setSecret":
        return; // the provider issued the tokens: nothing to push anywhere
      case "testSecret":
        return testSecret(secretId, token);
      case "finishSecret":
        return finishSecret(secretId, token, stages);
      default:
        throw new Error(`unknown rotation step ${String(step)}`);
    }
  };
}

/** Lambda entry point: config from the environment, once per cold start. */
export const handler = (() => {
  let rotate: ((event: RotationEvent, context?: RotationContext) => Promise<void>) | undefined;
  return async (event: RotationEvent, context?: RotationContext): Promise<void> => {
    if (!rotate) {
      const config = readCoreConfig(process.env);
      rotate = createRotationHandler({
        client: new SecretsManagerClient({}),
        refresh: { url: config.refreshUrl, fetch: createUpstream(config.upstreamProxyUrl).fetch },
        log: createLogger(config.logLevel),
      });
    }
    return rotate(event, context);
  };
})();
