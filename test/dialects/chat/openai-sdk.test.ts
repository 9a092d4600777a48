/**
 * The official openai SDK (6.x, what CLINE 3.x uses) against the real proxy and a fake backend
 * replaying recorded upstream streams.
 */
import OpenAI from "openai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { recorded, sseFixtureEvents } from "../../support/fixtures.js";
import { startProxy, streamedContent, type RunningProxy } from "../../support/proxy.js";

let proxy: RunningProxy;
let client: OpenAI;

beforeEach(async () => {
  proxy = await startProxy();
  client = new OpenAI({ baseURL: proxy.baseURL, apiKey: "any-key", maxRetries: 0 });
});
afterEach(async () => proxy.stop());

const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  {
    type: "function",
    function: {
      name: "calculator",
      description: "basic arithmetic",
      parameters: { type: "object", properties: { a: { type: "number" }, b: { type: "number" }, op: { type: "string" } } },
    },
  },
];

describe("streaming with the openai SDK", () => {
  it("streams text deltas, reasoning and the usage chunk, then ends with [DONE]", async () => {
    // Prepare
    proxy.codex.enqueue({ kind: "sse", events: recorded("recorded.github-copilot-id-rotation.1.jsonl") });

    // Act
    const stream = await client.chat.completions.create({
      model: "gpt-5.5",
      messages: [{ role: "user", content: "How many r in strawberry?" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    // Assess
    const text = streamedContent(chunks);
    expect(text).toBe("There are **3** letter **“r”**s in **“strawberry.”**\n\nBreakdown: **s t r a w b e r r y**  \nYou can see **r** at positions **3, 8, and 9**.");
    const reasoning = chunks.map((c) => (c.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? "").join("");
    expect(reasoning).toBe("**Counting character occurrences**");
    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0]?.finish_reason)).toEqual(["stop"]);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual({
      prompt_tokens: 19,
      completion_tokens: 105,
      total_tokens: 124,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 44 },
    });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0]?.id).toMatch(/^chatcmpl-/);
    expect(new Set(chunks.map((c) => c.model))).toEqual(new Set(["gpt-5.5"]));
  });

  it("assembles streamed tool calls with the SDK's own stream helper", async () => {
    proxy.codex.enqueue({ kind: "sse", events: recorded("recorded.openai-reasoning-encrypted-content.1.jsonl", 0) });

    const runner = client.chat.completions.stream({
      model: "gpt-5.5",
      messages: [{ role: "user", content: "(12+7)*3*10 with the calculator" }],
      tools,
    });
    const final = await runner.finalChatCompletion();

    const message = final.choices[0]?.message;
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
    expect(message?.tool_calls).toEqual([{ id: "call_AB6AaRZ1FYZB2RwS6A5vbdqn", type: "function", function: { name: "calculator", arguments: '{"a":12,"b":7,"op":"add"}' } }]);
  });

  it("throws APIError when the upstream fails after streaming began", async () => {
    const events = recorded("recorded.github-copilot-id-rotation.1.jsonl");
    proxy.codex.enqueue({ kind: "sse", events: [...events.slice(0, 20), ...sseFixtureEvents("sse.response-failed.context-length-exceeded.sse")] });

    const stream = await client.chat.completions.create({ model: "gpt-5.5", messages: [{ role: "user", content: "hi" }], stream: true });
    const seen: string[] = [];
    const consume = async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? "");
    };

    await expect(consume()).rejects.toThrow(/context window/);
    expect(seen.join("")).toContain("There are");
  });
});

describe("non-streaming and models", () => {
  it("aggregates one chat.completion from the stream", async () => {
    proxy.codex.enqueue({ kind: "sse", events: recorded("recorded.openai-phase.1.jsonl") });

    const completion = await client.chat.completions.create({ model: "gpt-5.5", messages: [{ role: "user", content: "ideas?" }] });

    expect(completion.object).toBe("chat.completion");
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    expect(completion.choices[0]?.message.content).toMatch(/^Got it/);
    expect(completion.usage?.prompt_tokens_details?.cached_tokens).toBe(3072);
  });

  it("lists the account's models from the live catalog", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["gpt-5.6-sol", "gpt-5.6-terra", "gpt-5.6-luna", "gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.3-codex-spark"]);
    expect(models.data[0]).toMatchObject({ object: "model", owned_by: "openai" });
  });
});
