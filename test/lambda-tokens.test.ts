/**
 * Lambda mode's token lifecycle in-process: the proxy with its Secrets Manager token source, the
 * loopback Secrets Manager invoking the real rotation handler for RotateSecret, the fake OAuth
 * endpoint, and a backend that accepts only live access tokens. The proxy itself has no OAuth
 * client: every refresh below is the rotation function's.
 */
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../lambda/app.js";
import { StaticClientKeys } from "../lambda/auth/client-keys.js";
import { SecretTokenSource } from "../lambda/auth/secret-store.js";
import { createUpstream } from "../lambda/codex/http.js";
import { readCoreConfig } from "../lambda/config.js";
import { createLogger } from "../lambda/log.js";
import { createNodeHandler } from "../lambda/node-adapter.js";
import { createRotationHandler } from "../lambda/rotation.js";
import { FakeCodex } from "./support/fake-codex.js";
import { FakeOAuth, loginDoc } from "./support/fake-oauth.js";
import { FakeSecretsManager } from "./support/fake-secrets-manager.js";
import { fixtureJson, recorded } from "./support/fixtures.js";
import { ACCOUNT_ID, chatBody, readSse } from "./support/proxy.js";

const SECRET = "codex-tokens";
const TEXT = recorded("recorded.openai-phase.1.jsonl");
const EXPIRED_401 = fixtureJson<{ body: unknown }[]>("error.401-auth.samples.json")[1]?.body;

let sm: FakeSecretsManager;
let oauth: FakeOAuth;
let codex: FakeCodex;
let server: Server;
let base: string;
let clients: SecretsManagerClient[];

async function startProxy(login: { access: string; refresh: string }): Promise<void> {
  sm.create(SECRET, JSON.stringify(loginDoc(ACCOUNT_ID, login)));
  const proxyClient = new SecretsManagerClient(sm.clientConfig);
  const rotationClient = new SecretsManagerClient(sm.clientConfig);
  clients = [proxyClient, rotationClient];
  const rotate = createRotationHandler({ client: rotationClient, refresh: { url: oauth.url, fetch: globalThis.fetch, backoffMs: [10] }, log: createLogger("silent") });
  sm.onRotate = async (secretId, token) => {
    for (const Step of ["createSecret", "setSecret", "testSecret", "finishSecret"] as const) await rotate({ Step, SecretId: secretId, ClientRequestToken: token });
  };
  // CODEX_REFRESH_URL points nowhere: if the proxy tried to refresh by itself, the test would fail.
  const config = readCoreConfig({ CODEX_BASE_URL: codex.url, ALLOWED_MODELS: "gpt-5.5", CODEX_REFRESH_URL: "http://127.0.0.1:9/never" });
  const tokens = new SecretTokenSource(proxyClient, SECRET, { rotationPollMs: 50, rotationWaitMs: 10_000 });
  const { handle } = createApp({ tokens, clientKeys: new StaticClientKeys([]), upstream: createUpstream(), config });
  server = createServer(createNodeHandler(handle, createLogger("silent")));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}

beforeEach(async () => {
  sm = await new FakeSecretsManager().start();
  oauth = await new FakeOAuth(ACCOUNT_ID).start();
  codex = await new FakeCodex().start();
  codex.always((req) => (oauth.accepts(req.headers.authorization) ? { kind: "sse", events: TEXT } : { kind: "json", status: 401, body: EXPIRED_401 }));
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  for (const c of clients) c.destroy();
  await Promise.all([sm.stop(), oauth.stop(), codex.stop()]);
});

const ask = () => fetch(`${base}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chatBody({ stream: true })) });

describe("Lambda mode: rotation instead of refresh", () => {
  it("an expired token: concurrent requests wait for one rotation and all succeed", async () => {
    await startProxy(oauth.issue({ expiredAccess: true }));
    const responses = await Promise.all(Array.from({ length: 20 }, ask));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    for (const r of responses) expect((await readSse(r)).at(-1)).toBe("[DONE]");
    expect(oauth.calls.length).toBe(1);
    expect(sm.count("RotateSecret")).toBeGreaterThanOrEqual(1);
    expect(oauth.accepts(`Bearer ${(JSON.parse(sm.current(SECRET) ?? "{}") as { tokens: { access_token: string } }).tokens.access_token}`)).toBe(true);
  });

  it("an upstream 401 mid-conversation: rotated, retried, a normal answer", async () => {
    const login = oauth.issue();
    await startProxy(login);
    expect((await ask()).status).toBe(200);
    oauth.revoke(login.access);
    const res = await ask();
    expect(res.status).toBe(200);
    expect((await readSse(res)).at(-1)).toBe("[DONE]");
    expect(oauth.calls.length).toBe(1);
  });

  it("a token about to expire starts a rotation in the background and keeps serving", async () => {
    oauth.accessTtlS = 120;
    await startProxy(oauth.issue());
    oauth.accessTtlS = 3600;
    expect((await ask()).status).toBe(200);
    await expect.poll(() => oauth.calls.length, { timeout: 5000 }).toBe(1);
    await sm.rotationsSettled;
    expect(codex.responsesCalls.every((r) => r.headers.authorization)).toBe(true);
  });

  it("many requests inside the expiry window cause one rotation, not one per request", async () => {
    oauth.accessTtlS = 120;
    await startProxy(oauth.issue());
    oauth.accessTtlS = 3600;
    for (let i = 0; i < 15; i++) {
      expect((await ask()).status).toBe(200);
      await sm.rotationsSettled;
    }
    expect(oauth.calls.length).toBe(1);
    expect(sm.count("RotateSecret")).toBe(1);
  });

  it("a permanent failure: 401 with how to renew, no loop, the secret unchanged", async () => {
    const login = oauth.issue({ expiredAccess: true });
    oauth.spoil(login.refresh, "refresh_token_expired");
    await startProxy(login);
    const before = sm.current(SECRET);
    for (let i = 0; i < 3; i++) {
      const res = await ask();
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status).toBe(401);
      expect(body.error.code).toBe("login_expired");
      expect(body.error.message).toContain("npm run tokens:upload");
    }
    await sm.rotationsSettled;
    expect(oauth.calls.length).toBe(1);
    expect(sm.current(SECRET)).toBe(before);
  });
});
