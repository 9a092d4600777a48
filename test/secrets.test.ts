/**
 * The Secrets Manager sources against the loopback service with its real error shapes, through the
 * real AWS SDK (which retries throttling and 5xx itself): cache, single in-flight read, fail closed.
 */
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SecretClientKeys } from "../lambda/auth/secret-keys.js";
import { SecretTokenSource } from "../lambda/auth/secret-store.js";
import type { ProxyError } from "../lambda/errors.js";
import { createLogger } from "../lambda/log.js";
import { FakeSecretsManager } from "./support/fake-secrets-manager.js";
import { authJson } from "./support/proxy.js";

const KEY = "sk-secret-test-key-0000000001";
let sm: FakeSecretsManager;
let client: SecretsManagerClient;
let logs: string[];

beforeEach(async () => {
  sm = await new FakeSecretsManager().start();
  sm.create("tokens", JSON.stringify(authJson()));
  sm.create("keys", JSON.stringify({ keys: [KEY] }));
  client = new SecretsManagerClient(sm.clientConfig);
  logs = [];
});
afterEach(async () => {
  client.destroy();
  await sm.stop();
});

const keys = () =>
  new SecretClientKeys(
    client,
    "keys",
    createLogger("debug", (l) => logs.push(l)),
  );
const rejection = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as ProxyError;
  }
  throw new Error("expected a rejection");
};

describe("tokens secret", () => {
  it("50 concurrent cold reads make one GetSecretValue call, then the cache serves", async () => {
    const tokens = new SecretTokenSource(client, "tokens");
    const all = await Promise.all(Array.from({ length: 50 }, () => tokens.get()));
    expect(new Set(all.map((c) => (c.kind === "chatgpt" ? c.accessToken : "")).values()).size).toBe(1);
    await tokens.get();
    expect(sm.count("GetSecretValue")).toBe(1);
  });

  it("throttling and a 5xx are retried by the SDK", async () => {
    sm.failNext("GetSecretValue", "ThrottlingException", 400, "Rate exceeded").failNext("GetSecretValue", "InternalServiceError", 500);
    const creds = await new SecretTokenSource(client, "tokens").get();
    expect(creds.kind).toBe("chatgpt");
    expect(sm.count("GetSecretValue")).toBe(3);
  });

  it("a lasting 5xx becomes a 503 to retry, a missing secret a 500 that names it", async () => {
    for (let i = 0; i < 3; i++) sm.failNext("GetSecretValue", "InternalServiceError", 500);
    const down = await rejection(new SecretTokenSource(client, "tokens").get());
    expect([down.status, down.code]).toEqual([503, "secrets_unavailable"]);
    const missing = await rejection(new SecretTokenSource(client, "nope").get());
    expect([missing.status, missing.code]).toEqual([500, "secret_not_found"]);
    expect(missing.message).toContain("nope");
  });
});

describe("API keys secret", () => {
  it("accepts any listed key and refuses others", async () => {
    await expect(keys().verify(`Bearer ${KEY}`)).resolves.toEqual({});
    expect((await rejection(keys().verify("Bearer sk-wrong-key-0000000000"))).status).toBe(401);
    expect((await rejection(keys().verify(null))).message).toMatch(/Missing API key/);
  });

  it("picks up a newly added key without waiting for the cache, re-reading at most every 30 s", async () => {
    let t = Date.now();
    const check = new SecretClientKeys(client, "keys", createLogger("silent"), 300_000, () => t);
    await check.verify(`Bearer ${KEY}`);
    sm.putCurrent("keys", JSON.stringify({ keys: [KEY, "sk-brand-new-key-000000001"] }));
    t += 10_000;
    expect((await rejection(check.verify("Bearer sk-brand-new-key-000000001"))).status).toBe(401);
    expect(sm.count("GetSecretValue")).toBe(1);
    t += 30_000;
    await expect(check.verify("Bearer sk-brand-new-key-000000001")).resolves.toEqual({});
    expect(sm.count("GetSecretValue")).toBe(2);
  });

  it("fails closed, with a log line, when the secret cannot be read", async () => {
    for (let i = 0; i < 3; i++) sm.failNext("GetSecretValue", "InternalServiceError", 500);
    const err = await rejection(keys().verify(`Bearer ${KEY}`));
    expect([err.status, err.code]).toEqual([503, "api_keys_unavailable"]);
    expect(logs.some((l) => l.includes("refusing every request"))).toBe(true);
    expect(logs.join("\n")).not.toContain(KEY);
  });

  it("a keys secret with no usable key refuses every request", async () => {
    sm.putCurrent("keys", JSON.stringify({ keys: ["short"] }));
    expect((await rejection(keys().verify("Bearer short"))).code).toBe("api_keys_unavailable");
  });
});
