/**
 * The Vercel AI SDK's OpenAI-compatible provider (what CLINE 4.x uses) against the proxy: it is
 * stricter than openai-node about finish reasons, tool-call deltas and the usage chunk.
 */
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { jsonSchema, streamText, tool } from "ai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { recorded, sseFixtureEvents } from "../../support/fixtures.js";
import { startProxy, type RunningProxy } from "../../support/proxy.js";

let proxy: RunningProxy;
beforeEach(async () => {
  proxy = await startProxy();
});
afterEach(async () => proxy.stop());

const provider = () => createOpenAICompatible({ name: "codex-proxy", baseURL: proxy.baseURL, apiKey: "k", includeUsage: true });

describe("AI SDK openai-compatible provider", () => {
  it("reads text, reasoning, the finish reason and usage", async () => {
    proxy.codex.enqueue({ kind: "sse", events: recorded("recorded.github-copilot-id-rotation.1.jsonl") });
    const result = streamText({ model: provider()("gpt-5.5"), prompt: "strawberry?" });
    expect(await result.text).toMatch(/^There are \*\*3\*\* letter/);
    expect(await result.reasoningText).toBe("**Counting character occurrences**");
    expect(await result.finishReason).toBe("stop");
    expect((await result.usage).inputTokens).toBe(19);
    expect((await result.usage).outputTokens).toBe(105);
  });

  it("receives a streamed tool call with its arguments", async () => {
    proxy.codex.enqueue({ kind: "sse", events: recorded("recorded.openai-client-tool-search.2.jsonl") });
    const result = streamText({
      model: provider()("gpt-5.5"),
      prompt: "weather?",
      tools: {
        get_weather: tool({
          description: "weather",
          inputSchema: jsonSchema<{ location: string; unit: string }>({ type: "object", properties: { location: { type: "string" }, unit: { type: "string" } } }),
        }),
      },
    });
    const calls = await result.toolCalls;
    expect(calls.map((c) => [c.toolCallId, c.toolName, c.input])).toEqual([
      ["call_Q7pq6EfVGRnauPLWSSYBGJ1l", "get_weather", { location: "San Francisco, CA", unit: "fahrenheit" }],
    ]);
    expect(await result.finishReason).toBe("tool-calls");
  });

  it("surfaces an in-band failure as an error, not a finished answer", async () => {
    const text = recorded("recorded.github-copilot-id-rotation.1.jsonl");
    proxy.codex.enqueue({ kind: "sse", events: [...text.slice(0, 20), ...sseFixtureEvents("sse.response-failed.insufficient-quota.sse")] });
    const errors: unknown[] = [];
    const result = streamText({ model: provider()("gpt-5.5"), prompt: "x", onError: ({ error }) => void errors.push(error) });
    await result.consumeStream();
    expect(String((errors[0] as Error | undefined)?.message ?? JSON.stringify(errors[0]))).toMatch(/quota/);
    expect(await result.finishReason).not.toBe("stop");
  });
});
