/** `npm run tokens:upload` and `npm run dev:lambda` as a user runs them (real processes, loopback only). */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FakeCodex } from "./support/fake-codex.js";
import { FakeSecretsManager } from "./support/fake-secrets-manager.js";
import { accessToken, recorded } from "./support/fixtures.js";
import { ricInstalled } from "./support/lambda.js";
import { ACCOUNT_ID, authJson, chatBody, readSse } from "./support/proxy.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
let dir: string;
let sm: FakeSecretsManager;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "codex-proxy-tools-"));
  sm = await new FakeSecretsManager().start();
  sm.create("CodexTokensSecret-abc", '{"placeholder":"run npm run tokens:upload"}');
});
afterAll(async () => {
  await sm.stop();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.pid) process.kill(c.pid, "SIGTERM");
});

/** Environment with no ambient AWS configuration, so nothing but the loopback fake is ever asked. */
const isolated = (extra: Record<string, string>) => ({
  PATH: process.env.PATH ?? "",
  HOME: dir,
  AWS_EC2_METADATA_DISABLED: "true",
  CODEX_REFRESH_URL: "http://127.0.0.1:9/no-oauth-in-tests",
  AWS_CONFIG_FILE: join(dir, "no-aws-config"),
  AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-aws-credentials"),
  ...extra,
});

function run(script: string, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: ROOT, env: isolated(env), stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const code = new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { code, out: () => out, err: () => err };
}

describe("npm run tokens:upload", () => {
  const upload = (args: string[], env: Record<string, string> = sm.env) => run("bin/tokens-upload.ts", args, env);

  it("validates the login and stores the file as-is, taking the secret from the deploy outputs", async () => {
    const path = join(dir, "auth.json");
    const text = JSON.stringify(authJson(), null, 2);
    writeFileSync(path, text);
    const outputs = join(dir, "cdk-outputs.json");
    writeFileSync(outputs, JSON.stringify({ CodexOpenAIProxy: { TokensSecretName: "CodexTokensSecret-abc", BaseUrl: "https://abc.lambda-url.eu-west-1.on.aws/v1" } }));
    const p = upload(["--auth-path", path, "--outputs", outputs], { ...sm.env, AWS_REGION: "" });
    expect(await p.code, p.err()).toBe(0);
    expect(sm.current("CodexTokensSecret-abc")).toBe(text);
    expect(p.out()).toContain(`ChatGPT account ${ACCOUNT_ID}, access token valid until`);
    expect(p.out() + p.err()).not.toMatch(/eyJ|rt\.1\./);
  });

  it("--login fills one named login's secret (<stack>-login-<name>) and touches no other", async () => {
    sm.create("CodexOpenAIProxy-login-alice", '{"placeholder":"run npm run tokens:upload"}');
    const before = sm.current("CodexTokensSecret-abc");
    const path = join(dir, "alice.json");
    const text = JSON.stringify(authJson(), null, 2);
    writeFileSync(path, text);
    const outputs = join(dir, "cdk-outputs.json");
    writeFileSync(outputs, JSON.stringify({ CodexOpenAIProxy: { TokensSecretName: "CodexTokensSecret-abc", BaseUrl: "https://abc.lambda-url.eu-west-1.on.aws/v1" } }));
    const p = upload(["--auth-path", path, "--login", "alice", "--outputs", outputs]);
    expect(await p.code, p.err()).toBe(0);
    expect(sm.current("CodexOpenAIProxy-login-alice")).toBe(text);
    expect(sm.current("CodexTokensSecret-abc")).toBe(before);
    const bad = upload(["--auth-path", path, "--login", "Not A Name"]);
    expect(await bad.code).toBe(2);
    expect(bad.err()).toContain("--login takes a login's name");
  });

  it("a missing file says how to create a login", async () => {
    const p = upload(["--auth-path", join(dir, "none.json"), "--secret-id", "CodexTokensSecret-abc"]);
    expect(await p.code).toBe(1);
    expect(p.err()).toContain("CODEX_HOME=~/.codex-proxy codex login");
  });

  it("an expired login without a refresh token is refused", async () => {
    const token = accessToken(ACCOUNT_ID, Math.floor(Date.now() / 1000) - 60);
    const path = join(dir, "expired.json");
    writeFileSync(path, JSON.stringify({ tokens: { access_token: token, account_id: ACCOUNT_ID } }));
    const before = sm.count("PutSecretValue");
    const p = upload(["--auth-path", path, "--secret-id", "CodexTokensSecret-abc"]);
    expect(await p.code).toBe(1);
    expect(p.err()).toMatch(/has expired .* no refresh token/);
    expect(sm.count("PutSecretValue")).toBe(before);
  });

  it("no AWS credentials is said plainly", async () => {
    const path = join(dir, "auth.json");
    const p = upload(["--auth-path", path, "--secret-id", "CodexTokensSecret-abc"], { AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url, AWS_REGION: "us-east-1" });
    expect(await p.code).toBe(1);
    expect(p.err()).toContain("No AWS credentials found");
  });

  it("an unknown secret is said plainly", async () => {
    const p = upload(["--auth-path", join(dir, "auth.json"), "--secret-id", "nope"]);
    expect(await p.code).toBe(1);
    expect(p.err()).toContain("The secret nope does not exist in us-east-1");
  });

  it("without a secret id or outputs file it says what to do", async () => {
    const p = upload(["--auth-path", join(dir, "auth.json"), "--outputs", join(dir, "none.json")]);
    expect(await p.code).toBe(2);
    expect(p.err()).toContain("Deploy first");
  });
});

describe.skipIf(!ricInstalled())("npm run dev:lambda", () => {
  it("synthesizes, serves the bundle under the real runtime, and prints a key", async () => {
    const codex = await new FakeCodex().start();
    try {
      codex.always(() => ({ kind: "sse", events: recorded("recorded.openai-phase.1.jsonl") }));
      const path = join(dir, "auth.json");
      writeFileSync(path, JSON.stringify(authJson()));
      const p = run("bin/dev-lambda.ts", ["--port", "0", "--auth-path", path], { CODEX_BASE_URL: codex.url, ALLOWED_MODELS: "gpt-5.5" });
      await expect.poll(() => p.err(), { timeout: 90_000, interval: 500 }).toContain("API key for this session");
      const url = (
        JSON.parse(
          p
            .err()
            .split("\n")
            .find((l) => l.includes("dev:lambda listening")) ?? "{}",
        ) as { url: string }
      ).url;
      const key = /API key for this session: (\S+)/.exec(p.err())?.[1] ?? "";
      const res = await fetch(`${url}/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify(chatBody({ stream: true })),
      });
      expect((await readSse(res)).at(-1)).toBe("[DONE]");
      expect(readFileSync(join(ROOT, "cdk.out", "manifest.json"), "utf8")).toContain("CodexOpenAIProxy");
    } finally {
      await codex.stop();
    }
  }, 120_000);
});
