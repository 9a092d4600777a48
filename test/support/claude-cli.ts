/**
 * The real Claude Code CLI (pinned, installed by `npm run claude:install` into a cache outside the
 * project) run headless (`claude -p`) against a proxy, with its own HOME and CLAUDE_CONFIG_DIR; the
 * process it starts is stopped by its pid.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

export const CLAUDE_CODE_VERSION = "2.1.332";

export function claudeCli(): string | undefined {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  const bin = join(cache, "codex-openai-proxy", `claude-code-${CLAUDE_CODE_VERSION}`, "node_modules", ".bin", "claude");
  return existsSync(bin) ? bin : undefined;
}

export interface ClaudeRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `claude -p <prompt> --output-format json`, with `allowedTools` granted without asking. */
export async function runClaude(options: { baseURL: string; key: string; prompt: string; allowedTools: string[]; timeoutMs?: number }): Promise<ClaudeRun> {
  const bin = claudeCli();
  if (!bin) throw new Error("Claude Code is not installed: npm run claude:install");
  const home = mkdtempSync(join(tmpdir(), "claude-cli-home-"));
  mkdirSync(join(home, ".claude"));
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    CLAUDE_CONFIG_DIR: join(home, ".claude"),
    ANTHROPIC_BASE_URL: options.baseURL,
    ANTHROPIC_AUTH_TOKEN: options.key,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
  };
  try {
    return await new Promise<ClaudeRun>((resolve, reject) => {
      const child = spawn(bin, ["-p", options.prompt, "--output-format", "json", "--allowedTools", ...options.allowedTools], { env, cwd: home, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => {
        if (child.pid) process.kill(child.pid, "SIGKILL");
        reject(new Error(`claude -p did not finish within ${options.timeoutMs ?? 60_000} ms\n${stdout}\n${stderr}`));
      }, options.timeoutMs ?? 60_000);
      child.on("error", reject);
      child.on("exit", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
