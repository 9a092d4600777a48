/**
 * The Lambda side: the proxy bundle `cdk synth` writes, what importing it costs on Node 24 (the
 * runtime the stack deploys) over bare `node`, and a cold start under the real runtime client
 * (aws-lambda-ric) with its secrets in a loopback Secrets Manager.
 */
import { execFile, spawnSync } from "node:child_process";
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { FakeSecretsManager } from "../support/fake-secrets-manager.js";
import { lambdaRuntimes, ricInstalled, startEmulator, type synthBundle } from "../support/lambda.js";
import { authJson } from "../support/proxy.js";
import { percentile } from "./load.js";

export interface LambdaFigures {
  node: string;
  bundle_kb: number;
  /** every file of the function's code, source map excluded */
  files_kb: Record<string, number>;
  import_ms: number;
  /** the part of import_ms the init spent fetching the login, the client keys and the catalog (its "ready" line) */
  import_warm_up_ms?: number;
  import_rss_mb: number;
  bare_ms: number;
  bare_rss_mb: number;
  /** from spawning the runtime client to its first poll for an event (the init phase) */
  ric_init_ms?: number;
  ric_first_request_ms?: number;
  ric_warm_request_ms?: number;
  /** the same, as the function's own log line times them (from its handler getting the event to the stream's end) */
  ric_first_request_in_function_ms?: number;
  ric_warm_request_in_function_ms?: number;
}

const KEY = "sk-bench-key-0123456789";

/** One process: import (or not) the bundle, print the time and RSS it took. */
const PROBE = `
const t0 = performance.now();
globalThis.awslambda ??= { streamifyResponse: (f) => f, HttpResponseStream: { from: (s) => s } };
if (process.argv[1]) await import(process.argv[1]);
console.log(JSON.stringify({ ms: performance.now() - t0, rss: process.memoryUsage().rss / 1048576 }));
process.exit(0);
`;

/** What a child printed last: the programs run here end with one JSON line. */
const lastJsonLine = <T>(stdout: string): T => JSON.parse(stdout.trim().split("\n").at(-1)!) as T;

/** Asynchronous, so the loopback Secrets Manager in this process can answer the bundle's init. */
async function probe(nodePath: string, bundle: string | undefined, env: Record<string, string>): Promise<{ ms: number; rss: number; warmUpMs?: number }> {
  const { stdout, stderr } = await run(nodePath, ["--input-type=module", "-e", PROBE, bundle ?? ""], {
    env: { PATH: process.env.PATH ?? "", ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  const figures = lastJsonLine<{ ms: number; rss: number }>(stdout);
  const ready = stderr.split("\n").find((line) => line.includes('"msg":"ready"'));
  if (bundle && !ready?.includes('"warm_up":"done"')) throw new Error(`the bundle's init did not fetch everything it prepares:\n${stderr}`);
  return ready ? { ...figures, warmUpMs: (JSON.parse(ready) as { warm_up_ms: number }).warm_up_ms } : figures;
}
const run = promisify(execFile);

export async function measureLambda(backendUrl: string, answerBody: string): Promise<LambdaFigures> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", fileURLToPath(new URL("synth-main.ts", import.meta.url))], {
    encoding: "utf8",
    timeout: 300_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const { outdir, bundleDir } = lastJsonLine<ReturnType<typeof synthBundle>>(stdout);
  const sm = await new FakeSecretsManager().start();
  try {
    sm.create("codex-tokens", JSON.stringify(authJson()));
    sm.create("proxy-keys", JSON.stringify({ keys: [KEY] }));
    const runtime = lambdaRuntimes().find((r) => r.name === "Node 24") ?? lambdaRuntimes()[0]!;
    const env = { ...sm.env, CODEX_SECRET_ID: "codex-tokens", API_KEYS_SECRET_ID: "proxy-keys", CODEX_BASE_URL: backendUrl, ALLOWED_MODELS: "gpt-5.5" };
    const files_kb: Record<string, number> = {};
    for (const f of readdirSync(bundleDir)) if (!f.endsWith(".map")) files_kb[f] = Math.round(statSync(join(bundleDir, f)).size / 1024);
    const bundle = join(bundleDir, "index.mjs");
    const imports: { ms: number; rss: number; warmUpMs?: number }[] = [];
    const bares: { ms: number; rss: number }[] = [];
    for (let i = 0; i < 7; i++) {
      bares.push(await probe(runtime.nodePath, undefined, env));
      imports.push(await probe(runtime.nodePath, pathToFileURL(bundle).href, env));
    }
    const figures: LambdaFigures = {
      node: spawnSync(runtime.nodePath, ["--version"], { encoding: "utf8" }).stdout.trim(),
      bundle_kb: Math.round(statSync(bundle).size / 1024),
      files_kb,
      import_ms: percentile(
        imports.map((x) => x.ms),
        50,
      ),
      import_warm_up_ms: percentile(
        imports.map((x) => x.warmUpMs ?? NaN),
        50,
      ),
      import_rss_mb: percentile(
        imports.map((x) => x.rss),
        50,
      ),
      bare_ms: percentile(
        bares.map((x) => x.ms),
        50,
      ),
      bare_rss_mb: percentile(
        bares.map((x) => x.rss),
        50,
      ),
    };
    if (ricInstalled()) {
      const t0 = performance.now();
      const logs: string[] = [];
      const lambda = await startEmulator({ bundleDir, env, nodePath: runtime.nodePath, timeoutMs: 60_000 }, logs);
      await lambda.initDone;
      figures.ric_init_ms = performance.now() - t0;
      try {
        const ask = async () => {
          const t = performance.now();
          const res = await fetch(`${lambda.url}/v1/chat/completions`, {
            method: "POST",
            headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
            body: answerBody,
          });
          const text = await res.text();
          if (res.status !== 200 || !text.includes("[DONE]")) throw new Error(`the Lambda bundle answered ${res.status}: ${text.slice(0, 300)}\n${logs.join("\n")}`);
          return performance.now() - t;
        };
        figures.ric_first_request_ms = await ask();
        const warm: number[] = [];
        for (let i = 0; i < 5; i++) warm.push(await ask());
        figures.ric_warm_request_ms = percentile(warm, 50);
        const inFunction = logs.flatMap((line) => {
          const m = /"msg":"stream ended".*"ms":(\d+)/.exec(line);
          return m ? [Number(m[1])] : [];
        });
        if (inFunction[0] !== undefined) figures.ric_first_request_in_function_ms = inFunction[0];
        figures.ric_warm_request_in_function_ms = percentile(inFunction.slice(1), 50);
      } finally {
        await lambda.stop();
      }
    }
    return figures;
  } finally {
    await sm.stop();
    rmSync(outdir, { recursive: true, force: true });
  }
}
