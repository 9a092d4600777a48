/** The benchmark's goals, judged from one run's figures, and the table it prints. */
import type { Cell } from "./run.js";

/**
 * The reference side: the same answers through a bare node:http pass-through (passthrough.mjs),
 * what any Node proxy costs on this machine. It is judged by nothing; its figure is shown next to
 * the proxy's.
 */
export const PASSTHROUGH = "passthrough";
/**
 * The second reference: the same chat answers through the least a converting proxy can do
 * (minimal-converter.mjs: parse every event, write a chunk). Judged by nothing; its CPU next to the
 * pass-through's says what parsing and re-encoding every event costs on this machine.
 */
export const MINIMAL = "minimal converter";

export interface Goal {
  goal: string;
  measured: string;
  holds: boolean;
}

interface Results {
  machine: { fixed_loop_ms?: Record<string, number> };
  workload: { fresh_server_short_answers?: number };
  phases: Record<string, Record<string, Cell>>;
  proxy_rss_mb: Record<string, number>;
  /** the bare pass-through, fresh, under the same load (a reference, not judged) */
  passthrough_rss_mb?: Record<string, number>;
  /** CPU per answer over a fresh server's first short answers (chat; as many as workload says) */
  fresh_server_short_cpu_ms?: number;
  /** CPU of a fresh server's first long answers, one by one (chat; after its first short answers) */
  fresh_server_long_cpu_ms?: number[];
  fresh_server_failed: number;
  converters: Record<string, { events_per_s: number; events_per_s_encoded: number; requests_per_s_200_messages: number }>;
  lambda: {
    bundle_kb: number;
    import_ms: number;
    import_warm_up_ms?: number;
    bare_ms: number;
    import_rss_mb: number;
    bare_rss_mb: number;
    ric_first_request_ms?: number;
    ric_warm_request_ms?: number;
    ric_init_ms?: number;
    ric_first_request_in_function_ms?: number;
    ric_warm_request_in_function_ms?: number;
  };
  cost: Record<string, unknown>;
}

const DIALECTS = ["chat", "responses", "messages"];
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

export function judge(r: Results): Goal[] {
  const goals: Goal[] = [];
  const p = r.phases;
  const perDialect = (goal: string, value: (d: string) => number, show: (v: number) => string, ok: (v: number) => boolean, withFloor = true) => {
    const values = DIALECTS.map((d) => [d, value(d)] as const);
    const floor = withFloor && p["short c1"]?.[PASSTHROUGH] ? `; a bare node:http pass-through: ${show(value(PASSTHROUGH))}` : "";
    goals.push({ goal, measured: `${values.map(([d, v]) => `${d} ${show(v)}`).join(", ")}${floor}`, holds: values.every(([, v]) => ok(v)) });
  };
  // The goals that measure the proxy's own cost are relative to the bare pass-through of the same
  // run: what any Node proxy costs on this host, so they hold or miss alike on a fast or slow one.
  const passthrough = (phase: string) => p[phase]![PASSTHROUGH]!;
  const overPassthrough = (phase: string) => (p[phase]?.[PASSTHROUGH] ? "" : " (no pass-through measured)");
  perDialect(
    `time to first text, p50, short answers one at a time, over the pass-through's: <= 0.3 ms${overPassthrough("short c1")}`,
    (d) => p["short c1"]![d]!.first_p50_ms - passthrough("short c1").first_p50_ms,
    (v) => `${f2(v)} ms`,
    (v) => v <= 0.3,
    false,
  );
  perDialect(
    "added time to first text, p99: <= 5 ms",
    (d) => p["short c1"]![d]!.first_p99_ms - p["short c1"]!.direct!.first_p99_ms,
    (v) => `${f2(v)} ms`,
    (v) => v <= 5,
  );
  perDialect(
    "total stream time vs direct, 16 at once: <= 1.03x",
    (d) => p["long c16"]![d]!.total_p50_ms / p["long c16"]!.direct!.total_p50_ms,
    (v) => `${f2(v)}x`,
    (v) => v <= 1.03,
  );
  perDialect(
    "total stream time vs direct, 64 at once: <= 1.05x",
    (d) => p["long c64"]![d]!.total_p50_ms / p["long c64"]!.direct!.total_p50_ms,
    (v) => `${f2(v)}x`,
    (v) => v <= 1.05,
  );
  for (const phase of ["long c1", "long c16"]) {
    const ratio = (side: string) => p[phase]![side]!.cpu_ms_per_answer / passthrough(phase).cpu_ms_per_answer;
    perDialect(
      `proxy CPU per long answer, ${phase === "long c1" ? "one at a time" : "16 at once"}, vs the pass-through's: <= 1.25x`,
      ratio,
      (v) => `${f2(v)}x`,
      (v) => v <= 1.25,
      false,
    );
    const last = goals.at(-1)!;
    if (p[phase]?.[MINIMAL]) last.measured += `; a minimal converting proxy: ${f2(ratio(MINIMAL))}x`;
  }
  const rss16 = r.proxy_rss_mb["fresh server, 16 long streams"] ?? NaN;
  const rss200 = r.proxy_rss_mb["fresh server, 200 long streams"] ?? NaN;
  const rssFloor = (n: number) => {
    const mb = r.passthrough_rss_mb?.[`fresh, ${n} long streams`];
    return mb === undefined ? "" : `; a bare node:http pass-through: ${f1(mb)} MB`;
  };
  for (const [n, mb] of [
    [16, rss16],
    [200, rss200],
  ] as const) {
    const floor = r.passthrough_rss_mb?.[`fresh, ${n} long streams`] ?? NaN;
    goals.push({
      goal: `server peak RSS, ${n} streams, vs the pass-through's: <= 1.25x`,
      measured: `${f2(mb / floor)}x (${f1(mb)} MB${rssFloor(n)})`,
      holds: mb / floor <= 1.25,
    });
  }
  const failed = Object.values(p).reduce((n, cells) => n + Object.values(cells).reduce((m, c) => m + c.failed, 0), 0) + r.fresh_server_failed;
  goals.push({ goal: "every answer complete (no truncated or failed stream)", measured: `${failed} failed`, holds: failed === 0 });
  goals.push({ goal: "Lambda proxy bundle: <= 450 KB", measured: `${r.lambda.bundle_kb} KB`, holds: r.lambda.bundle_kb <= 450 });
  const importMs = r.lambda.import_ms - r.lambda.bare_ms;
  const importMb = r.lambda.import_rss_mb - r.lambda.bare_rss_mb;
  const fetching = r.lambda.import_warm_up_ms === undefined ? "" : ` (${f1(r.lambda.import_warm_up_ms)} ms of it fetching)`;
  goals.push({
    goal: "importing the bundle on Node 24 (its whole init: secrets and catalog fetched), over bare node: <= 60 ms and 15 MB",
    measured: `+${f1(importMs)} ms${fetching}, +${f1(importMb)} MB`,
    holds: importMs <= 60 && importMb <= 15,
  });
  perDialect(
    "stream converter alone: > 600,000 events/s",
    (d) => r.converters[d]!.events_per_s,
    (v) => Math.round(v).toLocaleString("en"),
    (v) => v > 600_000,
    false,
  );
  return goals;
}

export function printTable(r: Results, goals: Goal[]): void {
  const rows: string[][] = [["phase", "side", "first p50", "first p99", "total p50", "total p99", "vs direct", "proxy CPU/answer", "backend CPU/answer", "failed"]];
  for (const [phase, cells] of Object.entries(r.phases)) {
    const direct = cells.direct!;
    for (const [side, c] of Object.entries(cells)) {
      rows.push([
        phase,
        side,
        `${f2(c.first_p50_ms)} ms`,
        `${f2(c.first_p99_ms)} ms`,
        `${f1(c.total_p50_ms)} ms`,
        `${f1(c.total_p99_ms)} ms`,
        side === "direct" ? "" : `${f2(c.total_p50_ms / direct.total_p50_ms)}x`,
        side === "direct" ? "" : `${f1(c.cpu_ms_per_answer)} ms`,
        `${f1(c.backend_cpu_ms_per_answer)} ms`,
        String(c.failed),
      ]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  "));
  const loop = r.machine.fixed_loop_ms;
  if (loop) {
    const values = Object.values(loop);
    const spread = Math.max(...values) / Math.min(...values);
    console.log(
      `\na fixed CPU loop between phases: ${Object.entries(loop)
        .map(([k, v]) => `${k} ${f1(v)} ms`)
        .join(", ")} (${spread > 1.3 ? `${f2(spread)}x apart: the machine was not steady, compare this run's sides with each other only` : "steady"})`,
    );
  }
  console.log(
    `\nproxy RSS: ${Object.entries(r.proxy_rss_mb)
      .map(([k, v]) => `${k} ${f1(v)} MB`)
      .join(", ")}`,
  );
  if (r.fresh_server_short_cpu_ms !== undefined)
    console.log(`a fresh server's first ${r.workload.fresh_server_short_answers ?? ""} short answers (chat), CPU each on average: ${r.fresh_server_short_cpu_ms} ms`);
  if (r.fresh_server_long_cpu_ms) console.log(`a fresh server's first long answers (chat), CPU each: ${r.fresh_server_long_cpu_ms.map((ms) => `${ms} ms`).join(", ")}`);
  if (r.passthrough_rss_mb)
    console.log(
      `bare pass-through RSS: ${Object.entries(r.passthrough_rss_mb)
        .map(([k, v]) => `${k} ${f1(v)} MB`)
        .join(", ")}`,
    );
  for (const [d, c] of Object.entries(r.converters)) {
    console.log(
      `converter ${d}: ${c.events_per_s.toLocaleString("en")} events/s alone, ${c.events_per_s_encoded.toLocaleString("en")} encoded; request converter ${c.requests_per_s_200_messages.toLocaleString("en")} 200-message requests/s`,
    );
  }
  const l = r.lambda;
  console.log(
    `lambda: bundle ${l.bundle_kb} KB; import ${f1(l.import_ms)} ms (${f1(l.import_warm_up_ms ?? NaN)} ms of it fetching the login, the keys and the catalog) / ${f1(l.import_rss_mb)} MB (bare node ${f1(l.bare_ms)} ms / ${f1(l.bare_rss_mb)} MB); RIC init ${f1(l.ric_init_ms ?? NaN)} ms, first request ${f1(l.ric_first_request_ms ?? NaN)} ms (${f1(l.ric_first_request_in_function_ms ?? NaN)} ms in the function), warm ${f1(l.ric_warm_request_ms ?? NaN)} ms (${f1(l.ric_warm_request_in_function_ms ?? NaN)} ms)`,
  );
  console.log(`cost per 1,000 30-s answers: ${JSON.stringify(r.cost.usd_per_1000_answers)}`);
  console.log("\ngoals:");
  for (const g of goals) console.log(`${g.holds ? "PASS" : "MISS"}  ${g.goal}: ${g.measured}`);
}
