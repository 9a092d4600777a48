/**
 * `npm run bench`: converter throughput and end-to-end proxy latency on loopback. Numbers are for
 * comparing changes on the same machine, not absolute claims. Bounded: a fixed number of requests.
 */
import { performance } from "node:perf_hooks";
import { ChatStreamConverter } from "../../lambda/dialects/chat/stream.js";
import { ToolNames } from "../../lambda/codex/tool-names.js";
import type { CodexEvent } from "../../lambda/codex/types.js";
import { chatDialect } from "../../lambda/dialects/chat/index.js";
import { messagesDialect } from "../../lambda/dialects/messages/index.js";
import { MessagesStreamConverter } from "../../lambda/dialects/messages/stream.js";
import { responsesDialect } from "../../lambda/dialects/responses/index.js";
import { ResponsesStreamConverter } from "../../lambda/dialects/responses/stream.js";
import type { Frame } from "../../lambda/pipeline/dialect.js";
import { recorded } from "../support/fixtures.js";
import { chatBody, startProxy } from "../support/proxy.js";

const messages = messagesDialect([]);
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))] ?? 0;

/** Each dialect's stream converter alone, frames encoded as they would be sent. */
function converterThroughput(): void {
  const events = recorded("recorded.openai-reasoning-encrypted-content.1.jsonl", 0);
  const rounds = 20_000;
  const dialects: [string, () => { push(e: CodexEvent): Frame[] }, (f: Frame) => string][] = [
    ["chat (converted)", () => new ChatStreamConverter({ id: "x", created: 0, model: "m", includeUsage: true, toolNames: new ToolNames(), now: () => 0 }), (f) => chatDialect.encode(f as never)],
    ["responses (passed through)", () => new ResponsesStreamConverter(new ToolNames(), () => 0), (f) => responsesDialect.encode(f as never)],
    ["messages (converted)", () => new MessagesStreamConverter({ model: "m", inputTokens: 0, toolNames: new ToolNames(), now: () => 0 }), (f) => messages.encode(f as never)],
  ];
  for (const [name, make, encode] of dialects) {
    const start = performance.now();
    let bytes = 0;
    for (let i = 0; i < rounds; i++) {
      const c = make();
      for (const e of events) for (const f of c.push(e)) bytes += encode(f).length;
    }
    const ms = performance.now() - start;
    console.log(`converter ${name}: ${Math.round((rounds * events.length) / (ms / 1000)).toLocaleString()} events/s (${rounds} streams of ${events.length} events in ${ms.toFixed(0)} ms, ${(bytes / rounds).toFixed(0)} bytes each)`);
  }
}

async function endToEnd(): Promise<void> {
  const proxy = await startProxy({ env: { ALLOWED_MODELS: "gpt-5.5" } });
  const events = recorded("recorded.github-copilot-id-rotation.1.jsonl");
  proxy.codex.always(() => ({ kind: "sse", events, chunkSize: 512 }));
  const one = async () => {
    const t0 = performance.now();
    const res = await fetch(`${proxy.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chatBody({ stream: true })) });
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
