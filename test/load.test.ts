/**
 * 200 concurrent streamed answers through the local server: every one exact, memory bounded, every
 * upstream response finished. (Speed is the benchmark's business: `npm run bench`.)
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { longTextTurn } from "./support/fixtures.js";
import { chatBody, readSse, startProxy, streamedContent, type RunningProxy } from "./support/proxy.js";

let proxy: RunningProxy;
const TURN = longTextTurn(300); // about 90 KB of SSE per answer
const EXPECTED = TURN.filter((e) => e.type === "response.output_text.delta")
  .map((e) => e.delta)
  .join("");

beforeAll(async () => {
  proxy = await startProxy({ env: { ALLOWED_MODELS: "gpt-5.5" } });
  proxy.codex.always(() => ({ kind: "sse", events: TURN, chunkSize: 4096 }));
});
afterAll(async () => proxy.stop());

it("200 concurrent streams: all exact, memory bounded, no upstream left open", async () => {
  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const contents = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const res = await fetch(`${proxy.baseURL}/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(chatBody({ stream: true })),
        });
        const frames = await readSse(res);
        expect(frames.at(-1)).toBe("[DONE]");
        return streamedContent(frames);
      }),
    );
    for (const content of contents) expect(content).toBe(EXPECTED);
  } finally {
    clearInterval(sampler);
  }
  expect(proxy.codex.responsesCalls.length).toBe(200);
  expect(proxy.codex.abortedResponses).toBe(0);
  // 200 answers of ~90 KB went through; holding them all at once would be ~36 MB of text alone,
  // several times that as strings and chunks. The server side keeps a stream's frames, not its answer.
  expect(peak - rssBefore).toBeLessThan(256 * 1024 * 1024);
}, 120_000);
