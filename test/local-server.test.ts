/**
 * `npm start` as a real process: what a user sees when the login is missing or a setting is wrong,
 * and that a correctly configured start serves requests. Processes are stopped by pid.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeCodex } from "./support/fake-codex.js";
import { recorded } from "./support/fixtures.js";
import { authJson, chatBody, readSse } from "./support/proxy.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
let dir: string;
const started: ChildProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "codex-proxy-local-"));
});
afterEach(() => {
  for (const child of started.splice(0)) if (child.exitCode === null && child.pid) process.kill(child.pid, "SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ["--import", "tsx", "lambda/local.ts", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: dir, CODEX_REFRESH_URL: "http://127.0.0.1:9/no-oauth-in-tests", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

describe("start-up failures say what happened and what to do", () => {
  it("a missing auth.json names the path and `codex login`", async () => {
    const path = join(dir, "nope", "auth.json");
    const p = start(["--auth-path", path]);
    expect(await p.exited).toBe(1);
    expect(p.err()).toContain(`No Codex login found at ${path}`);
    expect(p.err()).toContain("codex login");
  });

  it("the default path is ~/.codex/auth.json", async () => {
    const p = start([]);
    expect(await p.exited).toBe(1);
    expect(p.err()).toContain(join(dir, ".codex", "auth.json"));
  });

  it("a malformed auth.json names the path", async () => {
    const path = join(dir, "auth.json");
    writeFileSync(path, "{ broken");
    const p = start([], { CODEX_AUTH_PATH: path });
    expect(await p.exited).toBe(1);
    expect(p.err()).toContain(`${path} is not valid JSON`);
  });

  it.each([
    [{ PORT: "eighty" }, /PORT must be a port number/],
    [{ LOG_LEVEL: "loud" }, /LOG_LEVEL must be one of debug, info, warn, error, silent/],
    [{ CODEX_BASE_URL: "ftp://x" }, /CODEX_BASE_URL must be an http\(s\) URL/],
    [{ CODEX_CLIENT_VERSION: "latest" }, /CODEX_CLIENT_VERSION must be a Codex CLI version/],
    [{ ALLOWED_MODELS: "gpt-5.5,,gpt-5.4" }, /ALLOWED_MODELS is a comma-separated list with an empty entry/],
    [{ HOST: "0.0.0.0" }, /HOST=0\.0\.0\.0 would expose your ChatGPT subscription.*PROXY_API_KEYS/],
    [{ PROXY_API_KEYS: "sk-ключ-0123456789" }, /PROXY_API_KEYS holds a key with a space, a control or a non-ASCII character/],
    [{ CORS_ORIGINS: "*" }, /CORS_ORIGINS lists web origins such as http:\/\/localhost:3000/],
    [{ CORS_ORIGINS: "http://localhost:3000/app" }, /CORS_ORIGINS lists web origins/],
    [{ UPSTREAM_MAX_CONNECTIONS: "0" }, /UPSTREAM_MAX_CONNECTIONS must be a whole number from 1 to 100000/],
    [{ ANTHROPIC_MODEL_MAP: "opus" }, /ANTHROPIC_MODEL_MAP is a comma-separated list of name=model pairs/],
  ])("invalid %o stops the start naming the variable", async (env, message) => {
    const p = start([], env);
    expect(await p.exited).toBe(2);
    expect(p.err()).toMatch(message);
  });

  it("an unknown flag is refused", async () => {
    const p = start(["--prot", "1"]);
    expect(await p.exited).toBe(2);
    expect(p.err()).toContain("Unknown option --prot");
  });

  it("--help and --version", async () => {
    const help = start(["--help"]);
    expect(await help.exited).toBe(0);
    expect(help.out()).toContain("--auth-path");
    expect(help.out()).toContain("PROXY_API_KEYS");
    const version = start(["--version"]);
    expect(await version.exited).toBe(0);
    expect(version.out().trim()).toBe("0.1.0");
  });
});

describe("a configured start serves clients", () => {
  let codex: FakeCodex;
  beforeEach(async () => {
    codex = await new FakeCodex().start();
  });
  afterEach(async () => codex.stop());

  it("listens, warns once without keys, and streams an answer", async () => {
    const path = join(dir, "auth.json");
    writeFileSync(path, JSON.stringify(authJson()));
    codex.always(() => ({ kind: "sse", events: recorded("recorded.openai-phase.1.jsonl") }));
    const p = start(["--port", "0", "--auth-path", path], { CODEX_BASE_URL: codex.url });
    await expect.poll(() => p.err(), { timeout: 15_000 }).toContain('"msg":"listening"');
    const listening = JSON.parse(
      p
        .err()
        .split("\n")
        .find((l) => l.includes('"listening"')) ?? "{}",
    ) as { url: string };
    expect(listening.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(p.err().match(/PROXY_API_KEYS is not set/g)?.length).toBe(1);

    const res = await fetch(`${listening.url}/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer anything", "content-type": "application/json" },
      body: JSON.stringify(chatBody({ stream: true })),
    });
    expect((await readSse(res)).at(-1)).toBe("[DONE]");
    expect(p.err()).not.toMatch(/eyJ|rt\.1\.test/); // no token in the logs
  });

  it("with PROXY_API_KEYS set, requires one of them", async () => {
    const path = join(dir, "auth.json");
    writeFileSync(path, JSON.stringify(authJson()));
    const p = start(["--port=0"], { CODEX_BASE_URL: codex.url, CODEX_AUTH_PATH: path, PROXY_API_KEYS: "sk-one,sk-two", ALLOWED_MODELS: "gpt-5.5" });
    await expect.poll(() => p.err(), { timeout: 15_000 }).toContain('"msg":"listening"');
    const { url } = JSON.parse(
      p
        .err()
        .split("\n")
        .find((l) => l.includes('"listening"')) ?? "{}",
    ) as { url: string };
    expect(p.err()).not.toContain("PROXY_API_KEYS is not set");
    expect((await fetch(`${url}/models`)).status).toBe(401);
    const ok = await fetch(`${url}/models`, { headers: { authorization: "Bearer sk-two" } });
    expect(await ok.json()).toMatchObject({ object: "list", data: [{ id: "gpt-5.5", object: "model" }] });
    expect(p.err()).not.toContain("sk-two");
  });
});

/** The pids whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
const commandLine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);

describe("npm start, as the README gives it", () => {
  it("builds the server and runs it as one Node process, no loader in between", async () => {
    const codex = await new FakeCodex().start();
    const path = join(dir, "auth.json");
    writeFileSync(path, JSON.stringify(authJson()));
    const npm = spawn("npm", ["start", "--", "--port", "0", "--auth-path", path], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: dir, CODEX_BASE_URL: codex.url, ALLOWED_MODELS: "gpt-5.5", CODEX_REFRESH_URL: "http://127.0.0.1:9/no-oauth-in-tests" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    started.push(npm);
    let stderr = "";
    npm.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    npm.stdout?.resume();
    let server: number | undefined;
    try {
      await expect.poll(() => stderr, { timeout: 60_000 }).toContain('"msg":"listening"');
      const { url } = JSON.parse(stderr.split("\n").find((l) => l.includes('"listening"')) ?? "{}") as { url: string };
      const serving = childrenOf(npm.pid as number);
      expect(serving).toHaveLength(1);
      server = serving[0] as number;
      // npm's shell execs node, which runs the built file itself: one process serves, and it has no children.
      // Its young generation, its old generation's growth and V8's helper threads are kept small (README, Performance).
      expect(commandLine(server).slice(1, 5)).toEqual(["--max-semi-space-size=1", "--v8-pool-size=1", "--heap-growing-percent=30", "dist/local.cjs"]);
      expect(childrenOf(server)).toEqual([]);
      expect((await fetch(`${url}/models`)).status).toBe(200);
    } finally {
      if (server !== undefined) process.kill(server, "SIGTERM");
      await new Promise((resolve) => (npm.exitCode === null ? npm.once("exit", resolve) : resolve(null)));
      await codex.stop();
    }
  }, 90_000);
});
