/**
 * The real Codex CLI (pinned, installed by `npm run codex:install` into a cache outside the project)
 * run headless against a proxy, in either setup users choose:
 * - "custom": a model provider of its own (`wire_api = "responses"`, the key from an env variable);
 * - "builtin": the built-in OpenAI provider pointed at the proxy (`openai_base_url`), with the proxy
 *   key stored by `codex login --with-api-key`.
 * Each run gets its own HOME and CODEX_HOME, and the process it starts is stopped by its pid.
 *
 * `scriptedAgent` plays the model on the fake backend: it calls `exec_command` once, reporting usage
 * above the compaction limit, so Codex compacts in the middle of the task, then answers.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import type { CodexEvent } from "../../lambda/codex/types.js";
import { functionCall, message, turnOf } from "./codex-turns.js";
import type { FakeCodex, RecordedRequest, Responder } from "./fake-codex.js";

export const CODEX_VERSION = "0.171.0";
/** Above it, Codex compacts (config `model_auto_compact_token_limit`). */
export const COMPACT_LIMIT = 20_000;

export function codexCli(): string | undefined {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  const bin = join(cache, "codex-openai-proxy", `codex-${CODEX_VERSION}`, "node_modules", ".bin", "codex");
  return existsSync(bin) ? bin : undefined;
}

export type CodexSetup = "custom" | "builtin";

export interface CodexRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function runCodex(options: { setup: CodexSetup; baseURL: string; key: string; prompt: string; timeoutMs?: number }): Promise<CodexRun> {
  const bin = codexCli();
  if (!bin) throw new Error("the Codex CLI is not installed: npm run codex:install");
  const home = mkdtempSync(join(tmpdir(), "codex-cli-home-"));
  const codexHome = join(home, ".codex");
  const work = join(home, "work");
  mkdirSync(codexHome);
  mkdirSync(work);
  const common = [`model = "gpt-5.5"`, `model_auto_compact_token_limit = ${COMPACT_LIMIT}`, `check_for_update_on_startup = false`];
  const config =
    options.setup === "custom"
      ? [
          ...common,
          `model_provider = "proxy"`,
          `[model_providers.proxy]`,
          `name = "codex-openai-proxy"`,
          `base_url = "${options.baseURL}"`,
          `wire_api = "responses"`,
          `env_key = "CODEX_PROXY_KEY"`,
        ]
      : [`openai_base_url = "${options.baseURL}"`, ...common];
  writeFileSync(join(codexHome, "config.toml"), `${config.join("\n")}\n`);
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CODEX_HOME: codexHome, CODEX_PROXY_KEY: options.key, TERM: "dumb" };
  try {
    if (options.setup === "builtin") {
      const login = await run(bin, ["login", "--with-api-key"], env, home, 30_000, `${options.key}\n`);
      if (login.code !== 0) throw new Error(`codex login --with-api-key failed: ${login.stderr}`);
    }
    return await run(bin, ["exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "-C", work, options.prompt], env, work, options.timeoutMs ?? 60_000);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

function run(bin: string, args: string[], env: Record<string, string>, cwd: string, timeoutMs: number, stdin?: string): Promise<CodexRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, cwd, stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    if (stdin !== undefined) child.stdin?.end(stdin);
    const timer = setTimeout(() => {
      if (child.pid) process.kill(child.pid, "SIGKILL");
      reject(new Error(`codex ${args[0]} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** What the command prints: computed by the shell, so the call's own arguments never contain it. */
export const TOOL_OUTPUT = "tool-42-ran";
export const FINAL_ANSWER = "The command printed tool-42-ran; all done.";

type Input = { type?: string; role?: string; content?: unknown }[];

/** The model's side of one Codex task, on the fake backend (see the file comment). */
export function scriptedAgent(codex: FakeCodex): Responder {
  return (request: RecordedRequest) => ({ kind: "sse", events: agentTurn(codex, request) });
}

function agentTurn(codex: FakeCodex, request: RecordedRequest): CodexEvent[] {
  const input = ((request.body as { input?: Input }).input ?? []) as Input;
  const last = input.at(-1);
  if (last?.type === "compaction_trigger") return turnOf([codex.compactions.mint(request.headers["chatgpt-account-id"] ?? "")]);
  const toolRan = input.some((item) => item.type === "compaction") || JSON.stringify(input).includes(TOOL_OUTPUT);
  if (!toolRan) return turnOf([functionCall("exec_command", { cmd: "echo tool-$((6*7))-ran" })], { input_tokens: COMPACT_LIMIT * 3, output_tokens: 40 });
  // A custom provider compacts locally: an ordinary request whose last user message asks for a
  // "handoff summary" (Codex's compaction prompt), then the history restarts from that summary.
  if (isSummaryRequest(last)) return turnOf([message(`Summary: the user asked to run a command; it printed ${TOOL_OUTPUT}.`)]);
  return turnOf([message(FINAL_ANSWER)]);
}

export function isSummaryRequest(item: Input[number] | undefined): boolean {
  return item?.type === "message" && item.role === "user" && /handoff summary/i.test(JSON.stringify(item.content));
}
