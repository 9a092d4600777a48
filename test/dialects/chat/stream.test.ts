/**
 * Responses events -> Chat chunks, checked on the recorded streams: the converter on its own, and
 * through the proxy with the same bytes split at random boundaries.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CodexEvent } from "../../../lambda/codex/types.js";
import { ChatEventMapper, type StreamFrame } from "../../../lambda/dialects/chat/stream.js";
import { StreamLife } from "../../../lambda/pipeline/stream-life.js";
import { ToolNames } from "../../../lambda/codex/tool-names.js";
import { chatDialect } from "../../../lambda/dialects/chat/index.js";
import { toResponse } from "../../../lambda/http/reply.js";
import type { Feed, FeedListener } from "../../../lambda/http/feed.js";
import { sseReply } from "../../../lambda/http/sse.js";
import type { ChatChunk } from "../../../lambda/dialects/chat/types.js";
import { longTextTurn, recorded, recordedTurns, sseFixtureEvents } from "../../support/fixtures.js";
import { chatBody, readSse, readSseSlowly, startProxy, streamedContent, type RunningProxy } from "../../support/proxy.js";

function convert(events: readonly CodexEvent[], includeUsage = true, toolNames = new ToolNames()): StreamFrame[] {
  return new StreamLife(new ChatEventMapper({ id: "chatcmpl-test", created: 1, model: "gpt-5.5", includeUsage, toolNames }), () => 0).run(events);
}
const chunks = (frames: StreamFrame[]): ChatChunk[] => frames.flatMap((f) => (f.kind === "chunk" ? [f.chunk] : []));

/** Two recorded calls answered in one response, as a parallel-tool-call turn streams them. */
function parallelCalls(): CodexEvent[] {
  const turns = recordedTurns("recorded.openai-reasoning-encrypted-content.1.jsonl");
  const call = (events: CodexEvent[], outputIndex: number) =>
    events.filter((e) => e.type.startsWith("response.output_item") || e.type.startsWith("response.function_call")).map((e) => ({ ...e, output_index: outputIndex }));
  const first = turns[1] ?? [];
  const second = turns[2] ?? [];
  return [...first.slice(0, 2), ...call(first, 0), ...call(second, 1), ...first.slice(-1)];
}

/** Tool-call invariants every agent client relies on. */
function assertToolCallContract(all: ChatChunk[], expected: { id: string; name: string; arguments: string }[]) {
  const deltas = all.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
  const calls: { id: string; name: string; arguments: string }[] = [];
  for (const d of deltas) {
    const existing = calls[d.index];
    if (!existing) {
      expect(d.index).toBe(calls.length); // indexes in output order, no gaps
      expect(d.id).toBeTruthy(); // id and name on the first delta of a call
      expect(d.function.name).toBeTruthy();
      calls[d.index] = { id: d.id ?? "", name: d.function.name ?? "", arguments: d.function.arguments };
    } else {
      expect(d.id).toBeUndefined(); // never repeated
      expect(d.function.name).toBeUndefined();
      existing.arguments += d.function.arguments;
    }
  }
  expect(calls).toEqual(expected);
  const finishes = all.flatMap((c) => c.choices.filter((ch) => ch.finish_reason).map((ch) => ch.finish_reason));
  expect(finishes).toEqual(["tool_calls"]);
}

describe("the chat mapper on recorded streams", () => {
  it("streams one tool call incrementally after its reasoning", () => {
    const frames = convert(recorded("recorded.openai-reasoning-encrypted-content.1.jsonl", 0));
    const all = chunks(frames);
    expect(all[0]?.choices[0]?.delta).toEqual({ role: "assistant", content: "" });
    assertToolCallContract(all, [{ id: "call_AB6AaRZ1FYZB2RwS6A5vbdqn", name: "calculator", arguments: '{"a":12,"b":7,"op":"add"}' }]);
    // arguments arrive as many small deltas, not one blob at the end
    expect(all.filter((c) => c.choices[0]?.delta.tool_calls?.[0]?.function.arguments).length).toBeGreaterThan(5);
    const reasoning = all.map((c) => c.choices[0]?.delta.reasoning_content ?? "").join("");
    expect(reasoning).toMatch(/^\*\*Calculating step-by-step using calculator\*\*\n\nI'll compute 12 plus 7, .* final product\.$/);
    expect(frames.at(-1)).toEqual({ kind: "done" });
  });

  it("gives parallel calls stable indexes in output order", () => {
    const all = chunks(convert(parallelCalls()));
    assertToolCallContract(all, [
      { id: "call_Q6pW65MUgW9vF59BmItYGos3", name: "calculator", arguments: '{"a":19,"b":3,"op":"multiply"}' },
      { id: "call_Zl5vIMnD7dVAjgU6FkhmiCZh", name: "calculator", arguments: '{"a":57,"b":10,"op":"multiply"}' },
    ]);
  });

  it("emits a whole call from output_item.done when no added event came", () => {
    const events = recorded("recorded.openai-client-tool-search.2.jsonl").filter((e) => e.type !== "response.output_item.added" && !e.type.startsWith("response.function_call"));
    assertToolCallContract(chunks(convert(events)), [
      { id: "call_Q7pq6EfVGRnauPLWSSYBGJ1l", name: "get_weather", arguments: '{"location":"San Francisco, CA","unit":"fahrenheit"}' },
    ]);
  });

  it("shows commentary and final answer as content, one paragraph each", () => {
    const content = streamedContent(chunks(convert(recorded("recorded.openai-phase.1.jsonl"))));
    expect(content).toMatch(/^Got it — I’ll quickly check reliable, up-to-date sources for AI headlines[^\n]*\n\nHere are a few \*\*AI headlines for today/);
  });

  it("rebuilds text from output_item.done when response.completed.output is empty", () => {
    const frames = convert(sseFixtureEvents("sse.synthetic.completed-with-empty-output.sse"));
    expect(streamedContent(chunks(frames))).toBe("ok");
    expect(chunks(frames).at(-1)?.usage).toMatchObject({ prompt_tokens: 8, completion_tokens: 28, total_tokens: 36 });
  });

  it("keys items by output_index, so rotating item ids change nothing", () => {
    const text = streamedContent(chunks(convert(recorded("recorded.github-copilot-id-rotation.1.jsonl"))));
    expect(text).toBe("There are **3** letter **“r”**s in **“strawberry.”**\n\nBreakdown: **s t r a w b e r r y**  \nYou can see **r** at positions **3, 8, and 9**.");
  });

  it("drops codex.* frames and obfuscation padding", () => {
    const events: CodexEvent[] = [
      { type: "codex.rate_limits" } as CodexEvent,
      ...recorded("recorded.openai-client-tool-search.2.jsonl"),
      { type: "codex.response.metadata" } as CodexEvent,
    ];
    const out = JSON.stringify(convert(events));
    expect(out).not.toContain("obfuscation");
    expect(out).not.toContain("codex.");
  });

  it("maps response.incomplete to finish_reason length, even mid tool call", () => {
    const events = recorded("recorded.openai-client-tool-search.2.jsonl").slice(0, 10);
    const incomplete = {
      type: "response.incomplete",
      response: { status: "incomplete", incomplete_details: { reason: "max_output_tokens" }, usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 } },
    };
    const all = chunks(convert([...events, incomplete]));
    expect(all.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter(Boolean)).toEqual(["length"]);
  });

  it("maps content_filter", () => {
    const incomplete = { type: "response.incomplete", response: { incomplete_details: { reason: "content_filter" } } };
    const all = chunks(convert([...recorded("recorded.openai-phase.1.jsonl").slice(0, 6), incomplete]));
    expect(all.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter(Boolean)).toEqual(["content_filter"]);
  });

  it("without include_usage there is no usage chunk", () => {
    const frames = convert(recorded("recorded.openai-phase.1.jsonl"), false);
    expect(chunks(frames).some((c) => c.usage)).toBe(false);
    expect(chunks(frames).at(-1)?.choices[0]?.finish_reason).toBe("stop");
  });

  it("restores shortened tool names byte for byte", () => {
    const names = new ToolNames();
    const long = `mcp__filesystem__${"read_multiple_files_with_metadata_".repeat(3)}`;
    const short = names.toUpstream(long);
    const events = recorded("recorded.openai-client-tool-search.2.jsonl").map((e) => (e.item?.name ? { ...e, item: { ...e.item, name: short } } : e));
    const first = chunks(convert(events, true, names)).find((c) => c.choices[0]?.delta.tool_calls);
    expect(first?.choices[0]?.delta.tool_calls?.[0]?.function.name).toBe(long);
  });
});

/** A feed that pushes a batch per turn of the event loop while it is listened to and not paused. */
function endlessFeed(batchOf: (n: number) => StreamFrame[]) {
  const state = { pushed: 0, closed: false, paused: true };
  let listener: FeedListener<StreamFrame> | undefined;
  const pump = () => {
    if (state.paused || state.closed || !listener) return;
    listener.batch(batchOf(state.pushed++));
    setImmediate(pump);
  };
  const feed: Feed<StreamFrame> = {
    listen(next) {
      listener = next;
      feed.resume();
    },
    pause: () => {
      state.paused = true;
    },
    resume: () => {
      if (!state.paused) return;
      state.paused = false;
      setImmediate(pump);
    },
    close: () => {
      state.closed = true;
    },
  };
  return { feed, state };
}

describe("SSE body backpressure", () => {
  it("reads the upstream only as fast as the reader takes its frames", async () => {
    const chunk = (n: number): StreamFrame => ({
      kind: "chunk",
      chunk: { id: "c", object: "chat.completion.chunk", created: 0, model: "m", choices: [{ index: 0, delta: { content: String(n) }, finish_reason: null, logprobs: null }] },
    });
    const { feed, state } = endlessFeed((n) => [chunk(n)]);
    const body = toResponse(sseReply([], feed, { encode: chatDialect.encode, keepAliveMs: 60_000, onEnd: () => {}, onCancel: () => {} })).body!;
    const reader = body.getReader();
    await new Promise((r) => setTimeout(r, 50));
    expect(state.pushed).toBe(0); // nothing read yet: nothing asked of the upstream
    for (let i = 0; i < 10; i++) await reader.read();
    await new Promise((r) => setTimeout(r, 50));
    expect(state.pushed).toBeGreaterThanOrEqual(10);
    expect(state.pushed).toBeLessThanOrEqual(12);
    expect(state.paused).toBe(true);
    await reader.cancel();
    expect(state.closed).toBe(true);
  });
});

describe("an SSE body cancelled before its first read", () => {
  it("still ends the upstream read and reports the stream as cancelled", async () => {
    const { feed, state } = endlessFeed(() => [{ kind: "done" }]);
    const outcomes: string[] = [];
    const body = toResponse(sseReply([], feed, { encode: chatDialect.encode, keepAliveMs: 60_000, onEnd: (outcome) => outcomes.push(outcome), onCancel: () => {} })).body!;
    await body.cancel();
    await new Promise((r) => setImmediate(r));
    expect(outcomes).toEqual(["cancelled"]);
    expect(state.closed).toBe(true);
    expect(state.pushed).toBe(0);
  });
});

describe("through the proxy", () => {
  let proxy: RunningProxy;
  beforeEach(async () => {
    proxy = await startProxy({ limits: { keepAliveMs: 40 } });
  });
  afterEach(async () => proxy.stop());

  const streamOf = async (body: Record<string, unknown>) => {
    const res = await fetch(`${proxy.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chatBody({ stream: true, stream_options: { include_usage: true }, ...body })),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    return readSse(res);
  };
  const normalise = (frames: unknown[]) =>
    JSON.stringify(frames)
      .replace(/chatcmpl-[0-9a-f]+/g, "ID")
      .replace(/"created":\d+/g, '"created":0');

  it.each([
    ["reasoning + tool call", recorded("recorded.openai-reasoning-encrypted-content.1.jsonl", 0)],
    ["text with rotating ids", recorded("recorded.github-copilot-id-rotation.1.jsonl")],
    ["phases", recorded("recorded.openai-phase.1.jsonl")],
  ])("the same upstream bytes split at random boundaries give identical output (%s)", async (_name, events) => {
    proxy.codex.enqueue({ kind: "sse", events });
    const whole = normalise(await streamOf({}));
    for (const seed of [1, 7, 42, 1234, 99991]) {
      proxy.codex.enqueue({ kind: "sse", events, chunkSize: "random", seed });
      expect(normalise(await streamOf({}))).toBe(whole);
    }
    for (const size of [1, 3]) {
      proxy.codex.enqueue({ kind: "sse", events, chunkSize: size });
      expect(normalise(await streamOf({}))).toBe(whole);
    }
    expect(JSON.parse(whole).at(-1)).toBe("[DONE]");
  });

  it("is a fetch-style app too: a fetch Request in, the same stream out as a fetch Response", async () => {
    const events = recorded("recorded.openai-phase.1.jsonl");
    const body = JSON.stringify(chatBody({ stream: true, stream_options: { include_usage: true } }));
    proxy.codex.enqueue({ kind: "sse", events });
    const overHttp = normalise(await streamOf({}));
    proxy.codex.enqueue({ kind: "sse", events, chunkSize: 7 });
    const res = await proxy.app.fetch(new Request(`${proxy.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body }));
    expect(res).toBeInstanceOf(Response);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(normalise(await readSse(res))).toBe(overHttp);

    const refused = await proxy.app.fetch(new Request(`${proxy.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" }));
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
  });

  it("sends the first chunk before the upstream has finished", async () => {
    proxy.codex.enqueue({ kind: "sse", events: recorded("recorded.github-copilot-id-rotation.1.jsonl"), chunkSize: 400, delayMs: 20 });
    const started = Date.now();
    const res = await fetch(`${proxy.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chatBody({ stream: true })),
    });
    const reader = res.body!.getReader();
    await reader.read();
    const firstAt = Date.now() - started;
    while (!(await reader.read()).done);
    const totalAt = Date.now() - started;
    expect(totalAt - firstAt).toBeGreaterThan(400); // the rest kept arriving for a long while after the first chunk
  });

  it("keeps a silent stream alive with SSE comments", async () => {
    const events = recorded("recorded.github-copilot-id-rotation.1.jsonl");
    proxy.codex.enqueue({ kind: "sse", events, chunkSize: 4000, delayMs: 150 });
    const res = await fetch(`${proxy.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chatBody({ stream: true })),
    });
    const raw = await res.text();
    expect(raw).toContain(": keep-alive\n\n");
    expect(raw.trimEnd().endsWith("data: [DONE]")).toBe(true);
  });

  it("aborts the upstream request as soon as the client goes away", async () => {
    const events = recorded("recorded.github-copilot-id-rotation.1.jsonl").slice(0, 12);
    proxy.codex.enqueue({ kind: "sse", events, hang: true });
    const client = new AbortController();
    const res = await fetch(`${proxy.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chatBody({ stream: true })),
      signal: client.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    client.abort();
    await expect.poll(() => proxy.codex.abortedResponses, { timeout: 5000 }).toBe(1);
  });

  it("a slow reader gets every byte of a long answer intact", async () => {
    proxy.codex.enqueue({ kind: "sse", events: longTextTurn(6000), chunkSize: 16_384 });
    const res = await fetch(`${proxy.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chatBody({ stream: true })),
    });
    const frames = await readSseSlowly(res, 40, 25);
    expect(frames.at(-1)).toBe("[DONE]");
    const content = streamedContent(frames);
    for (const i of [0, 2999, 5999]) expect(content).toContain(`${"x".repeat(200)}${i};`);
  });

  it("HEAD /health answers without a body", async () => {
    const res = await fetch(`${proxy.url}/health`, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
  });

  it("a client that leaves before the first byte is logged as such, not as a failure", async () => {
    const lines: string[] = [];
    const quiet = await startProxy({ logLines: lines, env: { ALLOWED_MODELS: "gpt-5.5" } });
    try {
      quiet.codex.enqueue({ kind: "sse", events: recorded("recorded.openai-phase.1.jsonl"), firstByteDelayMs: 2000 });
      const client = new AbortController();
      const pending = fetch(`${quiet.baseURL}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(chatBody({ stream: true })),
        signal: client.signal,
      });
      await expect.poll(() => quiet.codex.responsesCalls.length).toBe(1);
      client.abort();
      await expect(pending).rejects.toThrow();
      await expect.poll(() => lines.some((l) => l.includes('"status":499')), { timeout: 5000 }).toBe(true);
      expect(lines.some((l) => l.includes("unexpected failure"))).toBe(false);
    } finally {
      await quiet.stop();
    }
  });

  it("restores a shortened tool name in the streamed answer", async () => {
    const long = `mcp__github__${"create_or_update_file_contents_".repeat(3)}`;
    const events = recorded("recorded.openai-client-tool-search.2.jsonl");
    proxy.codex.enqueue((req) => {
      const upstreamName = (req.body as { tools: { name: string }[] }).tools[0]?.name ?? "";
      expect(upstreamName.length).toBeLessThanOrEqual(64);
      return { kind: "sse", events: events.map((e) => (e.item?.name ? { ...e, item: { ...e.item, name: upstreamName } } : e)) };
    });
    const frames = await streamOf({ tools: [{ type: "function", function: { name: long, parameters: { type: "object" } } }] });
    const names = (frames as ChatChunk[]).flatMap((f) => f.choices?.[0]?.delta.tool_calls?.map((t) => t.function.name) ?? []).filter(Boolean);
    expect(names).toEqual([long]);
  });

  it("retries once with the renewed login after an upstream 401 and answers normally", async () => {
    const { readFileSync, writeFileSync } = await import("node:fs");
    const renewed = "renewed-access-token";
    proxy.codex.enqueue(
      () => {
        const doc = JSON.parse(readFileSync(proxy.authPath, "utf8")) as { tokens: { access_token: string } };
        doc.tokens.access_token = renewed; // what `codex login` would do meanwhile
        writeFileSync(proxy.authPath, JSON.stringify(doc));
        return { kind: "json", status: 401, body: { error: { message: "Provided authentication token is expired.", code: "token_expired" } } };
      },
      { kind: "sse", events: recorded("recorded.openai-phase.1.jsonl") },
    );
    const frames = await streamOf({});
    expect(frames.at(-1)).toBe("[DONE]");
    expect(proxy.codex.responsesCalls.map((r) => r.headers.authorization)).toEqual([expect.not.stringContaining(renewed), `Bearer ${renewed}`]);
  });
});
