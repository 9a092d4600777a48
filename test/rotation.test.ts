/**
 * The rotation function's four steps against the loopback Secrets Manager (real SDK, real JSON
 * protocol) and the fake OAuth endpoint with single-use refresh tokens.
 */
import { RotateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEAD_LOGIN_TAG } from "../lambda/auth/login-marks.js";
import { createLogger } from "../lambda/log.js";
import { createRotationHandler, type RotationEvent } from "../lambda/rotation.js";
import { FakeOAuth, loginDoc } from "./support/fake-oauth.js";
import { FakeSecretsManager } from "./support/fake-secrets-manager.js";
import { ACCOUNT_ID } from "./support/proxy.js";

const SECRET = "codex-tokens";
const STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"] as const;
let sm: FakeSecretsManager;
let oauth: FakeOAuth;
let client: SecretsManagerClient;
let logs: string[];
let rotate: ReturnType<typeof createRotationHandler>;
let original: { access: string; refresh: string };

beforeEach(async () => {
  sm = await new FakeSecretsManager().start();
  oauth = await new FakeOAuth(ACCOUNT_ID).start();
  original = oauth.issue();
  sm.create(SECRET, JSON.stringify(loginDoc(ACCOUNT_ID, original)));
  client = new SecretsManagerClient(sm.clientConfig);
  logs = [];
  rotate = createRotationHandler({ client, refresh: { url: oauth.url, fetch: globalThis.fetch, backoffMs: [10, 20] }, log: createLogger("debug", (l) => logs.push(l)) });
});
afterEach(async () => {
  client.destroy();
  await sm.stop();
  await oauth.stop();
});

/** What RotateSecret does before invoking the function: a new version labelled AWSPENDING. */
async function startRotation(): Promise<string> {
  const out = await client.send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: "arn:aws:lambda:us-east-1:123456789012:function:rotation" }));
  return out.VersionId as string;
}
const step = (Step: RotationEvent["Step"], token: string) => rotate({ Step, SecretId: SECRET, ClientRequestToken: token });
const current = () => JSON.parse(sm.current(SECRET) ?? "{}") as { tokens: Record<string, string>; last_refresh: string; extra_field_we_do_not_know?: unknown };
const stagesOf = () => Object.fromEntries([...sm.find(SECRET).versions.values()].map((v) => [v.id, [...v.stages].sort()]));

describe("rotation steps", () => {
  it("refresh once, store as AWSPENDING, promote to AWSCURRENT; the old version becomes AWSPREVIOUS", async () => {
    const oldVersion = [...sm.find(SECRET).versions.keys()][0] as string;
    const token = await startRotation();
    await step("createSecret", token);
    expect(stagesOf()[token]).toEqual(["AWSPENDING"]);
    for (const s of STEPS.slice(1)) await step(s, token);

    expect(oauth.calls.map((c) => c.refreshToken)).toEqual([original.refresh]);
    const doc = current();
    expect(oauth.accepts(`Bearer ${doc.tokens.access_token}`)).toBe(true);
    expect(doc.tokens.refresh_token).not.toBe(original.refresh);
    expect(doc.tokens.account_id).toBe(ACCOUNT_ID);
    expect(doc.extra_field_we_do_not_know).toEqual({ kept: true });
    expect(Date.now() - Date.parse(doc.last_refresh)).toBeLessThan(60_000);
    expect(stagesOf()).toEqual({ [oldVersion]: ["AWSPREVIOUS"], [token]: ["AWSCURRENT"] });
  });

  it("every step can be retried without a second refresh", async () => {
    const token = await startRotation();
    for (const s of STEPS) {
      await step(s, token);
      await step(s, token);
    }
    expect(oauth.calls.length).toBe(1);
    expect(oauth.accepts(`Bearer ${current().tokens.access_token}`)).toBe(true);
  });

  it("a crash between the refresh and finishSecret is completed from the stored AWSPENDING value", async () => {
    const token = await startRotation();
    await step("createSecret", token); // ... and the function dies here
    await expect(startRotation()).rejects.toThrow(/previous rotation isn't complete/); // a new RotateSecret is refused
    for (const s of STEPS) await step(s, token); // the service reattempts with the same token
    expect(oauth.calls.length).toBe(1);
    expect(stagesOf()[token]).toEqual(["AWSCURRENT"]);
    expect(oauth.accepts(`Bearer ${current().tokens.access_token}`)).toBe(true);
  });

  it("concurrent RotateSecret calls give one rotation and one OAuth call", async () => {
    sm.onRotate = async (secretId, token) => {
      for (const s of STEPS) await rotate({ Step: s, SecretId: secretId, ClientRequestToken: token });
    };
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => startRotation()));
    await sm.rotationsSettled;
    expect(results.filter((r) => r.status === "fulfilled").length).toBeGreaterThanOrEqual(1);
    for (const r of results) if (r.status === "rejected") expect(String(r.reason)).toMatch(/previous rotation isn't complete/);
    expect(oauth.calls.length).toBe(1);
    expect(oauth.accepts(`Bearer ${current().tokens.access_token}`)).toBe(true);
  });

  it("transient OAuth failures are retried within the step", async () => {
    oauth.failNext = 2;
    const token = await startRotation();
    for (const s of STEPS) await step(s, token);
    expect(oauth.calls.length).toBe(3);
    expect(oauth.accepts(`Bearer ${current().tokens.access_token}`)).toBe(true);
  });

  it("a slow token endpoint (token spent at once, answer late) is waited for and stored: one OAuth call", async () => {
    oauth.delayMs = 1_500;
    const token = await startRotation();
    await rotate({ Step: "createSecret", SecretId: SECRET, ClientRequestToken: token }, { getRemainingTimeInMillis: () => 120_000 });
    for (const s of STEPS.slice(1)) await step(s, token);
    expect(oauth.calls.map((c) => c.refreshToken)).toEqual([original.refresh]);
    expect(oauth.accepts(`Bearer ${current().tokens.access_token}`)).toBe(true);
  });

  it("a refresh still unanswered when the function's time is nearly up is given up on and never resent; the login is not marked dead", async () => {
    oauth.delayMs = 3_000;
    const before = sm.current(SECRET);
    const token = await startRotation();
    // 31.5 s left: the refresh may wait 1.5 s, leaving 30 s to store its answer
    const started = Date.now();
    await expect(rotate({ Step: "createSecret", SecretId: SECRET, ClientRequestToken: token }, { getRemainingTimeInMillis: () => 31_500 })).rejects.toThrow(/outcome is unknown/);
    expect(Date.now() - started).toBeLessThan(2_900);
    expect(oauth.calls.length).toBe(1);
    expect(sm.current(SECRET)).toBe(before);
    expect(sm.find(SECRET).tags.get(DEAD_LOGIN_TAG)).toBeUndefined();
    const failures = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === "rotation_failed");
    expect(failures).toEqual([expect.objectContaining({ level: "error", permanent: false, secret_id: SECRET })]);
  });

  it("a permanent failure leaves the secret unchanged, marks the login, logs one structured line, and is never retried", async () => {
    oauth.spoil(original.refresh, "refresh_token_invalidated");
    const before = sm.current(SECRET);
    const token = await startRotation();
    await expect(step("createSecret", token)).rejects.toThrow(/refresh_token_invalidated/);
    await expect(step("createSecret", token)).rejects.toThrow(/refused for good earlier/);
    expect(oauth.calls.length).toBe(1);
    expect(sm.current(SECRET)).toBe(before);
    expect(sm.find(SECRET).tags.get(DEAD_LOGIN_TAG)).toMatch(/^[0-9a-f]{32}$/);
    const failures = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === "rotation_failed");
    expect(failures).toEqual([expect.objectContaining({ level: "error", permanent: true, code: "refresh_token_invalidated", secret_id: SECRET })]);
    expect(logs.join("\n")).not.toContain(original.refresh);
  });

  it("testSecret never discards a pending login whose refresh already happened", async () => {
    oauth.accessTtlS = -30; // the endpoint hands out an already expired access token
    const token = await startRotation();
    await step("createSecret", token);
    await expect(step("testSecret", token)).rejects.toThrow(/kept as AWSPENDING/);
    expect(stagesOf()[token]).toEqual(["AWSPENDING"]);
    expect(sm.find(SECRET).versions.get(token)?.text).toContain("refresh_token");
    expect(oauth.calls.length).toBe(1);
  });

  it("with no login uploaded yet, a scheduled rotation is a quiet no-op, not a failure", async () => {
    const placeholder = '{"placeholder":"run npm run tokens:upload"}';
    sm.putCurrent(SECRET, placeholder);
    const token = await startRotation();
    for (const s of STEPS) await step(s, token);
    expect(sm.current(SECRET)).toBe(placeholder);
    expect(oauth.calls.length).toBe(0);
    expect(logs.some((l) => l.includes("nothing to refresh"))).toBe(true);
  });

  it("refuses a version that is not pending, and does nothing for one already current", async () => {
    const token = await startRotation();
    for (const s of STEPS) await step(s, token);
    await expect(step("createSecret", token)).resolves.toBeUndefined(); // already AWSCURRENT
    await expect(step("createSecret", "unknown-token")).rejects.toThrow(/has no stage for rotation/);
    expect(oauth.calls.length).toBe(1);
  });
});

describe("the bundled rotation function", () => {
  it("rotates the secret from the artifact cdk synth wrote", async () => {
    const { synthBundle } = await import("./support/lambda.js");
    const bundle = synthBundle();
    try {
      Object.assign(process.env, sm.env, { CODEX_REFRESH_URL: oauth.url, LOG_LEVEL: "silent" });
      const mod = (await import(pathToFileURL(join(bundle.rotationDir, "index.mjs")).href)) as { handler: (e: RotationEvent) => Promise<void> };
      const token = await startRotation();
      for (const Step of STEPS) await mod.handler({ Step, SecretId: SECRET, ClientRequestToken: token });
      expect(oauth.calls.length).toBe(1);
      expect(stagesOf()[token]).toEqual(["AWSCURRENT"]);
      expect(oauth.accepts(`Bearer ${current().tokens.access_token}`)).toBe(true);
    } finally {
      rmSync(bundle.outdir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("rotation of several logins' secrets", () => {
  it("each login's secret rotates on its own: one refresh each, the other untouched, and a dead one marked alone", async () => {
    const alice = oauth.issue({ accountId: "acc-alice-000001" });
    const bob = oauth.issue({ accountId: "acc-bob-0000002" });
    sm.create("proxy-login-alice", JSON.stringify(loginDoc("acc-alice-000001", alice)));
    sm.create("proxy-login-bob", JSON.stringify(loginDoc("acc-bob-0000002", bob)));
    const rotateLogin = async (secret: string) => {
      const out = await client.send(new RotateSecretCommand({ SecretId: secret, RotationLambdaARN: "arn:aws:lambda:us-east-1:123456789012:function:rotation" }));
      for (const s of STEPS) await rotate({ Step: s, SecretId: secret, ClientRequestToken: out.VersionId as string });
    };
    const bobBefore = sm.current("proxy-login-bob");
    await rotateLogin("proxy-login-alice");
    expect(oauth.calls.map((c) => c.refreshToken)).toEqual([alice.refresh]);
    expect(sm.current("proxy-login-bob")).toBe(bobBefore);
    const rotated = JSON.parse(sm.current("proxy-login-alice") ?? "{}") as { tokens: { account_id: string; refresh_token: string } };
    expect(rotated.tokens.account_id).toBe("acc-alice-000001");
    expect(rotated.tokens.refresh_token).not.toBe(alice.refresh);

    oauth.spoil(bob.refresh, "refresh_token_invalidated");
    await expect(rotateLogin("proxy-login-bob")).rejects.toThrow();
    expect(sm.find("proxy-login-bob").tags.get(DEAD_LOGIN_TAG)).toBeDefined();
    expect(sm.find("proxy-login-alice").tags.get(DEAD_LOGIN_TAG)).toBeUndefined();
    expect(sm.find(SECRET).tags.get(DEAD_LOGIN_TAG)).toBeUndefined();
  });
});
