import { stream, closeClient, percentile, type Side } from "../load.js";
import { startChild, cpuMs } from "../procs.js";
const ROOT = "/work/main/";
const b = await startChild(process.execPath, [ROOT + "test/bench/backend.mjs", ROOT + "test/fixtures/upstream/recorded.openai-phase.1.jsonl", "1815"], { PATH: process.env.PATH }, (l) => /port":(\d+)/.exec(l)?.[1]);
const p = await startChild(process.execPath, [ROOT + "test/bench/tmp/passthrough.mjs", String(b.value)], { PATH: process.env.PATH }, (l) => /"port":(\d+)/.exec(l)?.[1]);
const direct: Side = { name: "direct", port: Number(b.value), path: "/responses", headers: {}, body: (lg) => JSON.stringify({ input: lg ? "bench:long" : "hi" }), firstText: '"delta":"Got"', terminator: "response.completed" };
const pass: Side = { ...direct, name: "pass", port: Number(p.value), firstText: '"content":"Got"', terminator: "[DONE]" };
for (const long of [false, true]) {
  const n = long ? 3 : 200;
  for (const s of [direct, pass, direct, pass]) {
    const c0 = cpuMs(p.child.pid), b0 = cpuMs(b.child.pid);
    const r = [];
    for (let i = 0; i < n; i++) r.push(await stream(s, long));
    console.log(long ? "long" : "short", s.name, "first p50", percentile(r.map((x) => x.first), 50).toFixed(2), "total p50", percentile(r.map((x) => x.total), 50).toFixed(1), "proxy cpu/ans", ((cpuMs(p.child.pid) - c0) / n).toFixed(1), "backend cpu/ans", ((cpuMs(b.child.pid) - b0) / n).toFixed(1), r.every((x) => x.ok));
  }
}
closeClient(); await p.child.stop(); await b.child.stop();
