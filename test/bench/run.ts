/**
 * `npm run bench`: converter throughput and end-to-end proxy latency on loopback. Numbers are for
 * comparing changes on the same machine, not absolute claims. Bounded: a fixed number of requests.
 */
import { performance } from "node:perf_hooks";
import { ChatStreamConverter } from "../../lambda/dialects/chat/stream.js";
import { ToolNames } from "../../lambda/codex/tool-names.js";
import { recorded } from "../support/fixtures.js";
import { chatBody, startProxy } from "../support/proxy.js";

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))] ?? 0;

function converterThroughput(): void {
  const events = recorded("recorded.openai-reasoning-encrypted-content.1.jsonl", 0);
  const rounds = 20_000;
  const start = performance.now();
  for (let i = 0; i < rounds; i++) {
    const c = new ChatStreamConverter({ id: "x", created: 0, model: "m", includeUsage: true, toolNames: new ToolNames(), now: () => 0 });
    for (const e of events) c.push(e);
  }
  const ms = performance.now() - start;
  console.log(`converter: ${Math.round((rounds * events.length) / (ms / 1000)).toLocaleString()} events/s (${rounds} streams of ${events.length} events in ${ms.toFixed(0)} ms)`);
}

async function endToEnd(): Promise<void> {
  const proxy = await startProxy({ env: { ALLOWED_MODELS: "gpt-5.5" } });
  const events = recorded("recorded.github-copilot-id-rotation.1.jsonl");
  proxy.codex.always(() => ({ kind: "sse", events, chunkSize: 512 }));
  const one = async () => {
    const t0 = performance.now();
    const res = await fetch(`${proxy.baseURL}/chat/completions`, { method: "POST", body: JSON.stringify(chatBody({ stream: true })) });
    const reader = res.body!.getReader();
    await reader.read();
    const first = performance.now() - t0;
    while (!(await reader.read()).done);
    return { first, total: performance.now() - t0 };
  };
  try {
    const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
    for (let i = 0; i < 20; i++) await one(); // warm-up
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const sequential = [];
    for (let i = 0; i < 300; i++) sequential.push(await one());
    const t0 = performance.now();
    const concurrent = await Promise.all(Array.from({ length: 50 }, one));
    const wall = performance.now() - t0;
    gc();
    const heapAfter = process.memoryUsage().heapUsed;
    const fmt = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(1)} ms, p95 ${percentile(xs, 95).toFixed(1)} ms`;
    console.log(`sequential (300): first byte ${fmt(sequential.map((r) => r.first))}; complete ${fmt(sequential.map((r) => r.total))}`);
    console.log(`concurrent (50): complete ${fmt(concurrent.map((r) => r.total))}; wall ${wall.toFixed(0)} ms`);
    console.log(`heap after GC: ${(heapBefore / 1e6).toFixed(1)} MB -> ${(heapAfter / 1e6).toFixed(1)} MB after 350 more streams (the fake backend keeps a record of each request)`);
  } finally {
    await proxy.stop();
  }
}

converterThroughput();
await endToEnd();
