/**
 * `npm run dev:lambda`: runs the exact bundle `cdk synth` produces under the real Lambda runtime
 * interface client, behind a local emulated Function URL. Tokens come from a local auth.json
 * (default) or a Secrets Manager endpoint (CODEX_SECRET_ID with AWS_ENDPOINT_URL_SECRETS_MANAGER).
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { SETTINGS } from "../lambda/settings.js";
import { bundleDirIn } from "../lib/synth-bundle.js";
import { fail, parseArgs } from "./cli-args.js";
import { LambdaEmulator } from "./lambda-emulator.js";

const TOOL = "dev:lambda";
const HELP = `Usage: npm run dev:lambda -- [--port <n>] [--auth-path <file>] [--no-synth]

Synthesizes the stack (npx cdk synth) and serves its Lambda bundle at http://127.0.0.1:<port>/v1
under the real aws-lambda-ric. Keys: PROXY_API_KEYS, or one generated key printed at start.
Tokens: --auth-path / CODEX_AUTH_PATH (default ~/.codex/auth.json), or CODEX_SECRET_ID with
AWS_ENDPOINT_URL_SECRETS_MANAGER for a Secrets Manager endpoint. The function's other settings are
passed to it as they are: ${SETTINGS.filter((s) => s.where === "both")
  .map((s) => s.env)
  .join(", ")}.`;

/** Every setting the deployed function takes (lambda/settings.ts), and the AWS SDK's own. */
const PASSED = [
  ...SETTINGS.filter((s) => s.where === "both").map((s) => s.env),
  "AWS_ENDPOINT_URL_SECRETS_MANAGER",
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
];

async function main(): Promise<void> {
  let args: Record<string, string | true>;
  try {
    args = parseArgs(process.argv.slice(2), { port: "string", "auth-path": "string", "no-synth": "boolean", help: "boolean" });
  } catch (err) {
    return fail(TOOL, (err as Error).message, 2);
  }
  if (args.help) return void console.log(HELP);

  const stackName = (JSON.parse(readFileSync("cdk.json", "utf8")) as { context?: { stackName?: string } }).context?.stackName ?? "CodexOpenAIProxy";
  if (!args["no-synth"]) {
    const synth = spawnSync("npx", ["cdk", "synth", "--no-notices", "-q"], { stdio: ["ignore", "inherit", "inherit"] });
    if (synth.status !== 0) fail(TOOL, "`npx cdk synth` failed; see above.");
  }
  let bundleDir: string;
  try {
    bundleDir = bundleDirIn("cdk.out", stackName);
  } catch (err) {
    return fail(TOOL, (err as Error).message);
  }

  const env: Record<string, string> = { NODE_OPTIONS: "--enable-source-maps" };
  for (const name of PASSED) if (process.env[name]) env[name] = process.env[name] as string;
  if (process.env.CODEX_SECRET_ID) env.CODEX_SECRET_ID = process.env.CODEX_SECRET_ID;
  else {
    const authPath = typeof args["auth-path"] === "string" ? args["auth-path"] : (process.env.CODEX_AUTH_PATH ?? join(homedir(), ".codex", "auth.json"));
    if (!existsSync(authPath)) fail(TOOL, `No Codex login at ${authPath}. Create one with \`codex login\`, or pass --auth-path.`);
    env.CODEX_AUTH_PATH = authPath;
  }
  const generated = process.env.PROXY_API_KEYS ? undefined : `sk-local-${randomBytes(18).toString("hex")}`;
  env.PROXY_API_KEYS = process.env.PROXY_API_KEYS ?? (generated as string);

  let emulator: LambdaEmulator;
  try {
    emulator = await new LambdaEmulator({
      bundleDir,
      env,
      concurrency: 2,
      port: typeof args.port === "string" ? Number(args.port) : 8080,
      onLog: (line) => process.stderr.write(`${line}\n`),
    }).start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "MODULE_NOT_FOUND" || /aws-lambda-ric/.test(e.message)) {
      fail(
        TOOL,
        "aws-lambda-ric is not installed or not built. Install autoconf, automake and libtool (apt-get install -y autoconf automake libtool), then `npm rebuild aws-lambda-ric`.",
      );
    }
    return fail(TOOL, e.code === "EADDRINUSE" ? "That port is in use; pass --port." : e.message);
  }
  process.stderr.write(`${JSON.stringify({ msg: "dev:lambda listening", url: `${emulator.url}/v1`, bundle: bundleDir })}\n`);
  if (generated) process.stderr.write(`API key for this session: ${generated}\n`);
  const stop = () => void emulator.stop().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

await main();
