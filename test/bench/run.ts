/**
 * `npm run bench`: what the proxy costs next to the backend that feeds it, in one bounded run
 * (about seven minutes). The scripted backend (backend.mjs), a bare node:http pass-through proxy
 * (passthrough.mjs, the reference) and the local server (`dist/local.cjs`, what `npm start` runs)
 * are separate processes; this one is only the client. Every measurement alternates between reading
 * the backend directly, through the pass-through, and through each dialect, so machine noise lands
 * on every side alike. Prints a table; writes bench/results.json.
 */
import { execSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { authJson } from "../support/proxy.js";
import { answerEvents, recordedEvents } from "./answer.mjs";
import type { ConverterFigures } from "./converters.js";
import { measureCost } from "./cost.js";
import { measureLambda } from "./lambda.js";
import { burst, closeClient, percentile, stream, type Sample, type Side } from "./load.js";
import { cpuMs, PeakRss, rssMb, startChild, type Child } from "./procs.js";
import { judge, MINIMAL, PASSTHROUGH, printTable } from "./report.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FIXTURE = join(ROOT, "test/fixtures/upstream/recorded.openai-phase.1.jsonl");
const LONG_DELTAS = 1815;
/** short answers per side before the phases, and a fresh server's first short answers measured on their own */
const WARM_SHORT = 500;
const FRESH_SHORT = 100;
/** The Node flags `npm start` runs the server with, so the bench runs it the same way. */
const START_FLAGS = (() => {
  const start = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts.start ?? "";
  const flags = /exec node (.*?)dist\/local\.cjs/.exec(start)?.[1];
  if (flags === undefined) throw new Error(`the start script no longer runs 'exec node … dist/local.cjs': ${start}`);
  return flags.split(/\s+/).filter(Boolean);
})();

const userText = (long: boolean) => (long ? "bench:long — write the whole file" : "bench:short — one line");
function sides(backendPort: number, passthroughPort: number, minimalPort: number, proxyPort: number): Side[] {
  const direct: Side = {
    name: "direct",
    port: backendPort,
    path: "/responses",
    headers: {},
    body: (long) =>
      JSON.stringify({ model: "gpt-5.5", stream: true, store: false, instructions: "", input: [{ role: "user", content: [{ type: "input_text", text: userText(long) }] }] }),
    firstText: '"delta":"Got"',
    terminator: "event: response.completed",
  };
  const chat: Side = {
    name: "chat",
    port: proxyPort,
    path: "/v1/chat/completions",
    headers: {},
    body: (long) => JSON.stringify({ model: "gpt-5.5", stream: true, messages: [{ role: "user", content: userText(long) }] }),
    firstText: '"content":"Got"',
    terminator: "data: [DONE]",
  };
  return [
    direct,
    // The references, not judged: the same bytes through a bare node:http pass-through, and the
    // same chat answers through the least a converting proxy can do.
    { ...direct, name: PASSTHROUGH, port: passthroughPort },
    { ...chat, name: MINIMAL, port: minimalPort },
    chat,
    {
      name: "responses",
      port: proxyPort,
      path: "/v1/responses",
      headers: {},
      body: (long) => JSON.stringify({ model: "gpt-5.5", stream: true, input: userText(long) }),
      firstText: '"delta":"Got"',
      terminator: "event: response.completed",
    },
    {
      name: "messages",
      port: proxyPort,
      path: "/v1/messages",
      headers: { "anthropic-version": "2023-06-01" },
      body: (long) => JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 4096, stream: true, messages: [{ role: "user", content: userText(long) }] }),
      firstText: '"text":"Got"',
      terminator: "event: message_stop",
    },
  ];
}

export interface Cell {
  first_p50_ms: number;
  first_p99_ms: number;
  total_p50_ms: number;
  total_p99_ms: number;
  answers: number;
  failed: number;
  /** CPU per answer of the proxy process (the backend's own, on the direct side) */
  cpu_ms_per_answer: number;
  backend_cpu_ms_per_answer: number;
}

interface Phase {
  name: string;
  long: boolean;
  concurrency: number;
  /** per side and repetition: sequential batches of `concurrency` streams */
  batches: number;
  reps: number;
}

const PHASES: Phase[] = [
  { name: "short c1", long: false, concurrency: 1, batches: 40, reps: 4 },
  { name: "short c16", long: false, concurrency: 16, batches: 5, reps: 3 },
  { name: "short c64", long: false, concurrency: 64, batches: 2, reps: 2 },
  { name: "long c1", long: true, concurrency: 1, batches: 1, reps: 3 },
  { name: "long c16", long: true, concurrency: 16, batches: 1, reps: 2 },
  { name: "long c64", long: true, concurrency: 64, batches: 1, reps: 2 },
];

async function runPhase(phase: Phase, all: Side[], proxy: Child, references: Record<string, Child>, backend: Child, peaks: Record<string, number>): Promise<Record<string, Cell>> {
  const samples: Record<string, Sample[]> = {};
  const cpu: Record<string, { proxy: number; backend: number }> = {};
  for (let rep = 0; rep < phase.reps; rep++) {
    // A different side goes first in each repetition.
    const order = all.map((_, i) => all[(i + rep) % all.length]!);
    for (const side of order) {
      // CPU and memory of the process the side reads through: the proxy, or a reference.
      const through = references[side.name] ?? proxy;
      // Short answers, as many at once, not timed: a process that sat idle while the other sides
      // ran served its next burst slower, and the first of the proxy's sides after the two
      // references (chat, in every rotation) paid for it each time: first text of a long answer
      // 4.6 ms one at a time and 13.6 ms at 16 (the other dialects 3.2-3.5 and 7.3-9.9). With
      // this, 2.1-2.8 and 5.7-7.0: every side is timed as a server already serving that load.
      if ((await burst(side, false, phase.concurrency)).some((s) => !s.ok)) throw new Error(`${side.name}: a short burst before the ${phase.name} one failed`);
      const peak = phase.long && through === proxy && side.name !== "direct" ? new PeakRss(proxy.pid) : undefined;
      const p0 = cpuMs(through.pid);
      const b0 = cpuMs(backend.pid);
      for (let b = 0; b < phase.batches; b++) (samples[side.name] ??= []).push(...(await burst(side, phase.long, phase.concurrency)));
      const c = (cpu[side.name] ??= { proxy: 0, backend: 0 });
      c.proxy += cpuMs(through.pid) - p0;
      c.backend += cpuMs(backend.pid) - b0;
      if (peak) peaks[phase.name] = Math.max(peaks[phase.name] ?? 0, peak.stop());
    }
  }
  const cells: Record<string, Cell> = {};
  for (const side of all) {
    const s = samples[side.name] ?? [];
    const ok = s.filter((x) => x.ok);
    const at = (of: "first" | "total", q: number) =>
      round(
        percentile(
          ok.map((x) => x[of]),
          q,
        ),
      );
    cells[side.name] = {
      first_p50_ms: at("first", 50),
      first_p99_ms: at("first", 99),
      total_p50_ms: at("total", 50),
      total_p99_ms: at("total", 99),
      answers: s.length,
      failed: s.length - ok.length,
      cpu_ms_per_answer: round(side.name === "direct" ? 0 : cpu[side.name]!.proxy / s.length),
      backend_cpu_ms_per_answer: round(cpu[side.name]!.backend / s.length),
    };
  }
  return cells;
}

/** The converters as they ship: bundled like the server, run in a process of their own. */
function measureConvertersBundled(): Record<string, ConverterFigures> {
  const out = join(ROOT, "dist/bench-converters.mjs");
  execSync(`npx esbuild test/bench/converters-main.ts --bundle --platform=node --format=esm --target=node20 --packages=external --outfile=${out} --log-level=warning`, {
    cwd: ROOT,
    stdio: "inherit",
  });
  return JSON.parse(execSync(`"${process.execPath}" ${out} ${FIXTURE} ${LONG_DELTAS}`, { encoding: "utf8" })) as Record<string, ConverterFigures>;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * How long a fixed CPU-bound loop takes in this process, best of three: the same work every time,
 * so the figures taken between phases show whether the shared machine was steady through the run
 * (a slow spell here made the loop 2-5x slower for seconds at a time).
 */
function fixedLoopMs(): number {
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const start = performance.now();
    let x = 0;
    for (let i = 0; i < 30_000_000; i++) x = (x + i) | 0;
    // x is read after the loop (it is never 0.5), so the loop cannot be dropped as dead code.
    best = Math.min(best, performance.now() - start + (x === 0.5 ? 1 : 0));
  }
  return round(best, 1);
}

/**
 * A fresh process's memory, which it then stops: its RSS after 30 short answers, and its peak
 * under 16, then 200 long streams at once (the phases leave a grown heap behind, so this is apart).
 */
async function freshMemory(child: Child, side: Side): Promise<{ idle: number; peaks: [number, number][]; failed: number }> {
  await burst(side, false, 1, 30);
  const idle = rssMb(child.pid);
  const peaks: [number, number][] = [];
  let failed = 0;
  for (const concurrency of [16, 200]) {
    const peak = new PeakRss(child.pid);
    failed += (await burst(side, true, concurrency)).filter((s) => !s.ok).length;
    peaks.push([concurrency, peak.stop()]);
  }
  await child.stop();
  return { idle, peaks, failed };
}

/** One of the bench's plain scripts (backend.mjs, passthrough.mjs), ready once it prints {"port":N}. */
function startScript(script: string, ...args: string[]): Promise<{ child: Child; value: number }> {
  return startChild(process.execPath, [join(ROOT, "test/bench", script), ...args], { PATH: process.env.PATH }, (line) => {
    const m = /^\{"port":(\d+)\}$/.exec(line);
    return m ? Number(m[1]) : undefined;
  });
}

/** The local server as `npm start` runs it (after its build step), on a port of its own. */
function startProxy(backendPort: number, authPath: string): Promise<{ child: Child; value: number }> {
  return startChild(
    process.execPath,
    [...START_FLAGS, join(ROOT, "dist/local.cjs"), "--port", "0", "--auth-path", authPath],
    { PATH: process.env.PATH, CODEX_BASE_URL: `http://127.0.0.1:${backendPort}`, ALLOWED_MODELS: "gpt-5.5", CODEX_REFRESH_URL: "http://127.0.0.1:9/no-refresh-in-bench" },
    (line) => {
      const m = /"msg":"listening".*"port":(\d+)/.exec(line);
      return m ? Number(m[1]) : undefined;
    },
  );
}

async function main(): Promise<void> {
  const started = Date.now();
  const tmp = mkdtempSync(join(tmpdir(), "codex-proxy-bench-"));
  const children: Child[] = [];
  try {
    console.log("building dist/local.cjs (as npm start does) ...");
    execSync("npm run -s build:local", { cwd: ROOT, stdio: "inherit" });

    const backend = await startScript("backend.mjs", FIXTURE, String(LONG_DELTAS));
    children.push(backend.child);
    const passthrough = await startScript("passthrough.mjs", String(backend.value));
    children.push(passthrough.child);
    const minimal = await startScript("minimal-converter.mjs", String(backend.value));
    children.push(minimal.child);
    const authPath = join(tmp, "auth.json");
    writeFileSync(authPath, JSON.stringify(authJson()), { mode: 0o600 });
    const proxy = await startProxy(backend.value, authPath);
    children.push(proxy.child);
    const all = sides(backend.value, passthrough.value, minimal.value, proxy.value);

    console.log("warming up ...");
    // V8 goes on optimizing a server's request path for its first thousand or so answers: after 30
    // short answers the proxy still spent about a third of its CPU in the optimizing compiler (perf),
    // and CPU per short answer kept falling until about 1,500 (the pass-through's too, from 6.8 to
    // 2.9 ms). The phases measure a warm server; a fresh one's first short answers are measured apart.
    for (let i = 0; i < WARM_SHORT; i++) for (const side of all) if (!(await stream(side, false)).ok) throw new Error(`${side.name}: a warm-up answer failed`);
    // Long answers too: V8 optimizes the streaming path only over the first few of them (a fresh
    // server's first long answer cost about three times the CPU of its fourth), and every phase
    // measures a warm process. The cold cost is measured apart, below.
    for (const side of all)
      if (side.name !== "direct") for (let i = 0; i < 3; i++) if (!(await stream(side, true)).ok) throw new Error(`${side.name}: a long warm-up answer failed`);
    const idleRss = rssMb(proxy.child.pid);

    const peaks: Record<string, number> = {};
    const phases: Record<string, Record<string, Cell>> = {};
    const loopMs: Record<string, number> = { before: fixedLoopMs() };
    for (const phase of PHASES) {
      process.stdout.write(`${phase.name} ...\n`);
      phases[phase.name] = await runPhase(phase, all, proxy.child, { [PASSTHROUGH]: passthrough.child, [MINIMAL]: minimal.child }, backend.child, peaks);
      loopMs[`after ${phase.name}`] = fixedLoopMs();
    }
    // Peak memory in a server of its own: the phases above leave a grown heap behind.
    process.stdout.write("peak memory of a fresh server: 16, then 200 long streams at once ...\n");
    await proxy.child.stop();
    const fresh = await startProxy(backend.value, authPath);
    children.push(fresh.child);
    const chat = all.find((side) => side.name === "chat")!;
    const server = await freshMemory(fresh.child, { ...chat, port: fresh.value });
    const freshIdle = server.idle;
    for (const [concurrency, mb] of server.peaks) peaks[`fresh server, ${concurrency} long streams`] = mb;
    let manyFailed = server.failed;
    // The same, for a fresh bare pass-through: the memory any Node proxy has here, beside the server's.
    const freshPassthrough = await startScript("passthrough.mjs", String(backend.value));
    children.push(freshPassthrough.child);
    const bare = await freshMemory(freshPassthrough.child, { ...all.find((side) => side.name === PASSTHROUGH)!, port: freshPassthrough.value });
    const passthroughPeaks: Record<string, number> = { "fresh, idle": round(bare.idle, 1) };
    for (const [concurrency, mb] of bare.peaks) passthroughPeaks[`fresh, ${concurrency} long streams`] = round(mb, 1);
    manyFailed += bare.failed;
    // What the warm-up hides: a fresh server's first long answers, one at a time, each on its own.
    const cold = await startProxy(backend.value, authPath);
    children.push(cold.child);
    const coldChat = { ...chat, port: cold.value };
    const s0 = cpuMs(cold.child.pid);
    for (const sample of await burst(coldChat, false, 1, FRESH_SHORT)) if (!sample.ok) manyFailed++;
    const coldShortCpu = round((cpuMs(cold.child.pid) - s0) / FRESH_SHORT, 2);
    const coldCpu: number[] = [];
    for (let i = 0; i < 4; i++) {
      const c0 = cpuMs(cold.child.pid);
      if (!(await stream(coldChat, true)).ok) manyFailed++;
      coldCpu.push(round(cpuMs(cold.child.pid) - c0, 0));
    }
    await cold.child.stop();

    process.stdout.write("converters ...\n");
    const converters = measureConvertersBundled();

    process.stdout.write("the Lambda bundle (cdk synth, Node 24, aws-lambda-ric) ...\n");
    const lambda = await measureLambda(`http://127.0.0.1:${backend.value}`, chat.body(false));

    const results = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? "", kernel: release(), fixed_loop_ms: loopMs },
      node: { bench_and_local_server: process.version, local_server_flags: START_FLAGS.join(" "), lambda: lambda.node },
      workload: {
        fixture: "recorded.openai-phase.1.jsonl",
        long_answer_deltas: LONG_DELTAS,
        pace_ms_per_delta: 1,
        short_answer_events: answerEvents(recordedEvents(FIXTURE)).length,
        warm_up_short_answers_per_side: WARM_SHORT,
        fresh_server_short_answers: FRESH_SHORT,
      },
      phases,
      proxy_rss_mb: { idle: round(idleRss, 1), "fresh server, idle": round(freshIdle, 1), ...Object.fromEntries(Object.entries(peaks).map(([k, v]) => [k, round(v, 1)])) },
      passthrough_rss_mb: passthroughPeaks,
      fresh_server_short_cpu_ms: coldShortCpu,
      fresh_server_long_cpu_ms: coldCpu,
      fresh_server_failed: manyFailed,
      converters,
      lambda,
      cost: measureCost(phases["long c1"]!, lambda),
      duration_s: Math.round((Date.now() - started) / 1000),
    };
    const goals = judge(results);
    mkdirSync(join(ROOT, "bench"), { recursive: true });
    writeFileSync(join(ROOT, "bench/results.json"), `${JSON.stringify({ ...results, goals }, null, 2)}\n`);
    printTable(results, goals);
    console.log(`\nwrote bench/results.json (${results.duration_s} s)`);
    if (goals.some((g) => g.holds === false)) process.exitCode = 1;
  } finally {
    closeClient();
    for (const c of children.reverse()) await c.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
