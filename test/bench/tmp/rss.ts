import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authJson } from "../../support/proxy.js";
import { burst, closeClient, type Side } from "../load.js";
import { PeakRss, rssMb, startChild, cpuMs } from "../procs.js";
const ROOT = "/work/main/";
const flags = process.argv.slice(2);
const tmp = mkdtempSync(join(tmpdir(), "rss-"));
writeFileSync(join(tmp, "auth.json"), JSON.stringify(authJson()));
const b = await startChild(process.execPath, [ROOT + "test/bench/backend.mjs", ROOT + "test/fixtures/upstream/recorded.openai-phase.1.jsonl", "1815"], { PATH: process.env.PATH }, (l) => /port":(\d+)/.exec(l)?.[1]);
const p = await startChild(process.execPath, [...flags, ROOT + "dist/local.mjs", "--port", "0", "--auth-path", join(tmp, "auth.json")], { PATH: process.env.PATH, CODEX_BASE_URL: `http://127.0.0.1:${b.value}`, ALLOWED_MODELS: "gpt-5.5" }, (l) => /"msg":"listening".*"port":(\d+)/.exec(l)?.[1]);
const side: Side = { name: "chat", port: Number(p.value), path: "/v1/chat/completions", headers: {}, body: (lg) => JSON.stringify({ model: "gpt-5.5", stream: true, messages: [{ role: "user", content: lg ? "bench:long" : "hi" }] }), firstText: '"content":"Got"', terminator: "[DONE]" };
await burst(side, false, 1, 30);
const idle = rssMb(p.child.pid);
for (const c of [1, 16, 200]) {
  const peak = new PeakRss(p.child.pid); const c0 = cpuMs(p.child.pid);
  const r = await burst(side, true, c);
  console.log(flags.join(" ") || "(no flags)", `c${c}`, "peak", peak.stop().toFixed(1), "MB", "cpu/ans", ((cpuMs(p.child.pid) - c0) / c).toFixed(0), "ok", r.every((x) => x.ok));
}
console.log("idle", idle.toFixed(1));
closeClient(); await p.child.stop(); await b.child.stop();
