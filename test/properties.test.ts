/**
 * Property-based tests of both converters (fast-check, seeded so a failure replays):
 * - any valid Chat Completions request converts without throwing and keeps its messages, tool
 *   calls, tool results and images;
 * - any event sequence the backend can send, in the shapes of the recorded fixtures, becomes a
 *   chunk stream the `openai` SDK parses, with exactly one finish_reason on success and, on a failure
 *   or a cut, an error and no [DONE];
 * - a text delta written from its stream's prefix (chat) or its block's (messages) is byte for byte
 *   the chunk or event stringified;
 * - what a stream remembers of the text it sent (a length and a hash) tells the unsent end of the
 *   final text exactly as comparing the texts would.
 */
import fc from "fast-check";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CodexEvent, InputItem } from "../lambda/codex/types.js";
import { convertChatRequest } from "../lambda/dialects/chat/request.js";
import { SentText } from "../lambda/dialects/sent-text.js";
import { ChatEventMapper, encodeChunk } from "../lambda/dialects/chat/stream.js";
import { encodeEvent, MessagesEventMapper } from "../lambda/dialects/messages/stream.js";
import { StreamLife } from "../lambda/pipeline/stream-life.js";
import { ToolNames } from "../lambda/codex/tool-names.js";
import { sseFixtureEvents } from "./support/fixtures.js";
import { readSse, startProxy, type RunningProxy } from "./support/proxy.js";

const SEED = 20261130;
const text = fc.string({ unit: "grapheme", maxLength: 40 });
const name = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_-]{0,80}$/);
const image = fc.webUrl().map((url) => ({ type: "image_url", image_url: { url } }));

/** A turn: a user message, or an assistant's tool calls followed by their results. */
const turn = fc.oneof(
  fc.record({
    kind: fc.constant("user" as const),
    parts: fc.array(
      fc.oneof(
        text.map((t) => ({ type: "text", text: t })),
        image,
      ),
      { minLength: 1, maxLength: 3 },
    ),
  }),
  fc.record({ kind: fc.constant("text" as const), text }),
  fc.record({
    kind: fc.constant("calls" as const),
    calls: fc.uniqueArray(fc.record({ id: fc.stringMatching(/^call_[a-zA-Z0-9]{1,12}$/), name, args: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)), result: text }), {
      minLength: 1,
      maxLength: 3,
      selector: (c) => c.id,
    }),
  }),
);

const chatRequest = fc.record({
  system: fc.option(text, { nil: undefined }),
  turns: fc.array(turn, { minLength: 1, maxLength: 8 }),
  tools: fc.uniqueArray(name, { maxLength: 4 }),
});
type ChatRequestCase = typeof chatRequest extends fc.Arbitrary<infer T> ? T : never;

/** Call ids must be unique across the conversation for the pairing to be valid: suffix with the turn. */
function toChat(c: ChatRequestCase): Record<string, unknown> {
  const messages: Record<string, unknown>[] = [];
  if (c.system !== undefined) messages.push({ role: "system", content: c.system });
  c.turns.forEach((t, i) => {
    if (t.kind === "user") messages.push({ role: "user", content: t.parts });
    else if (t.kind === "text") messages.push({ role: "assistant", content: t.text });
    else {
      messages.push({
        role: "assistant",
        content: null,
        tool_calls: t.calls.map((k) => ({ id: `${k.id}_${i}`, type: "function", function: { name: k.name, arguments: k.args } })),
      });
      for (const k of t.calls) messages.push({ role: "tool", tool_call_id: `${k.id}_${i}`, content: k.result });
    }
  });
  const body: Record<string, unknown> = { model: "gpt-5.5", messages };
  if (c.tools.length > 0) body.tools = c.tools.map((n) => ({ type: "function", function: { name: n, parameters: { type: "object" } } }));
  return body;
}

describe("request converter", () => {
  it("any valid request converts and keeps its messages, tool calls, results and images", () => {
    fc.assert(
      fc.property(chatRequest, (c) => {
        const chat = toChat(c);
        const { body, toolNames } = convertChatRequest(chat, { model: "gpt-5.5" });
        const input = body.input as InputItem[];
        const users = c.turns.filter((t) => t.kind === "user");
        const userItems = input.filter((i) => i.type === "message" && i.role === "user");
        expect(userItems.length).toBe(users.length);
        const images = users.flatMap((u) => u.parts.filter((p) => p.type === "image_url").map((p) => (p as { image_url: { url: string } }).image_url.url));
        const parts: { type: string; image_url?: string }[] = userItems.flatMap((i) => (i.type === "message" ? (i.content as { type: string; image_url?: string }[]) : []));
        const imageUrls = parts.flatMap((p) => (p.type === "input_image" ? [p.image_url] : []));
        expect(imageUrls).toEqual(images);
        const calls = c.turns.flatMap((t, i) => (t.kind === "calls" ? t.calls.map((k) => ({ call_id: `${k.id}_${i}`, name: k.name, arguments: k.args, result: k.result })) : []));
        const callItems = input.flatMap((i) => (i.type === "function_call" ? [i] : []));
        expect(callItems.map((i) => ({ call_id: i.call_id, name: toolNames.toClient(i.name), arguments: i.arguments }))).toEqual(calls.map(({ result: _, ...k }) => k));
        expect(callItems.every((i) => i.name.length <= 64)).toBe(true);
        const results = input.flatMap((i) => (i.type === "function_call_output" ? [i] : []));
        expect(results.map((r) => ({ call_id: r.call_id, output: r.output }))).toEqual(calls.map((k) => ({ call_id: k.call_id, output: k.result })));
        if (c.system !== undefined) expect(body.instructions).toBe(c.system);
        expect(body.store).toBe(false);
        expect(body.stream).toBe(true);
      }),
      { numRuns: 500, seed: SEED },
    );
  });
});

// -------------------------------------------------------------------------------------------
// stream converter, through the real proxy and the SDK

/** One output item of a response, in the event shapes of the recorded fixtures. */
const item = fc.oneof(
  fc.record({ kind: fc.constant("message" as const), deltas: fc.array(fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant("reasoning" as const), deltas: fc.array(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 4 }) }),
  fc.record({
    kind: fc.constant("call" as const),
    name,
    args: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    pieces: fc.integer({ min: 1, max: 6 }),
  }),
);
const ending = fc.constantFrom("completed", "incomplete", "failed", "error", "cut");
const stream = fc.record({ items: fc.array(item, { minLength: 1, maxLength: 5 }), ending });
type StreamCase = typeof stream extends fc.Arbitrary<infer T> ? T : never;

function split(textValue: string, pieces: number): string[] {
  const size = Math.max(1, Math.ceil(textValue.length / pieces));
  const out: string[] = [];
  for (let i = 0; i < textValue.length; i += size) out.push(textValue.slice(i, i + size));
  return out.length > 0 ? out : [""];
}

function eventsOf(c: StreamCase): CodexEvent[] {
  const events: CodexEvent[] = [
    { type: "response.created", response: { id: "resp_p", status: "in_progress" } } as CodexEvent,
    { type: "response.in_progress", response: { id: "resp_p", status: "in_progress" } } as CodexEvent,
  ];
  c.items.forEach((it, index) => {
    const id = `item_${index}`;
    if (it.kind === "message") {
      events.push({ type: "response.output_item.added", output_index: index, item: { id, type: "message", role: "assistant", content: [] } } as CodexEvent);
      for (const delta of it.deltas) events.push({ type: "response.output_text.delta", output_index: index, item_id: id, content_index: 0, delta } as CodexEvent);
      const full = it.deltas.join("");
      events.push({ type: "response.output_text.done", output_index: index, item_id: id, content_index: 0, text: full } as CodexEvent);
      events.push({
        type: "response.output_item.done",
        output_index: index,
        item: { id, type: "message", role: "assistant", content: [{ type: "output_text", text: full }] },
      } as CodexEvent);
    } else if (it.kind === "reasoning") {
      events.push({ type: "response.output_item.added", output_index: index, item: { id, type: "reasoning" } } as CodexEvent);
      for (const delta of it.deltas) events.push({ type: "response.reasoning_summary_text.delta", output_index: index, item_id: id, summary_index: 0, delta } as CodexEvent);
      events.push({ type: "response.output_item.done", output_index: index, item: { id, type: "reasoning" } } as CodexEvent);
    } else {
      const call = { id, type: "function_call", call_id: `call_${index}`, name: it.name, arguments: "" };
      events.push({ type: "response.output_item.added", output_index: index, item: { ...call, status: "in_progress" } } as CodexEvent);
      for (const delta of split(it.args, it.pieces)) events.push({ type: "response.function_call_arguments.delta", output_index: index, item_id: id, delta } as CodexEvent);
      events.push({ type: "response.function_call_arguments.done", output_index: index, item_id: id, arguments: it.args } as CodexEvent);
      events.push({ type: "response.output_item.done", output_index: index, item: { ...call, arguments: it.args, status: "completed" } } as CodexEvent);
    }
  });
  const usage = { input_tokens: 10, input_tokens_details: { cached_tokens: 2 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 1 }, total_tokens: 15 };
  if (c.ending === "completed") events.push({ type: "response.completed", response: { id: "resp_p", status: "completed", output: [], usage } } as CodexEvent);
  if (c.ending === "incomplete")
    events.push({ type: "response.incomplete", response: { id: "resp_p", status: "incomplete", incomplete_details: { reason: "max_output_tokens" }, usage } } as CodexEvent);
  if (c.ending === "failed") events.push(...sseFixtureEvents("sse.response-failed.rate-limit-exceeded.sse"));
  if (c.ending === "error") events.push({ type: "error", code: "server_is_overloaded", message: "Our servers are currently overloaded.", param: null } as CodexEvent);
  return events;
}

describe("stream converter", () => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy({ env: { ALLOWED_MODELS: "gpt-5.5" } });
  });
  afterAll(async () => proxy.stop());
  const tools = (c: StreamCase) =>
    c.items.flatMap((it) => (it.kind === "call" ? [{ type: "function" as const, function: { name: it.name, parameters: { type: "object" } } }] : []));

  it("any event sequence: one finish_reason on success; an error and no [DONE] on a failure or a cut", async () => {
    await fc.assert(
      fc.asyncProperty(stream, async (c) => {
        proxy.codex.enqueue({ kind: "sse", events: eventsOf(c), chunkSize: "random", seed: c.items.length });
        const toolList = tools(c);
        const res = await fetch(`${proxy.baseURL}/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "gpt-5.5", messages: [{ role: "user", content: "go" }], stream: true, ...(toolList.length ? { tools: toolList } : {}) }),
        });
        const frames = await readSse(res);
        const chunks = frames.filter((f): f is { choices: { finish_reason: string | null }[] } => typeof f === "object" && f !== null && "choices" in f);
        const finishes = chunks.flatMap((f) => f.choices.filter((ch) => ch.finish_reason !== null));
        const succeeded = c.ending === "completed" || c.ending === "incomplete";
        if (succeeded) {
          expect(res.status).toBe(200);
          expect(finishes.length).toBe(1);
          expect(frames.at(-1)).toBe("[DONE]");
          expect(frames.some((f) => typeof f === "object" && f !== null && "error" in f)).toBe(false);
        } else {
          expect(finishes.length).toBe(0);
          expect(frames).not.toContain("[DONE]");
          if (res.status === 200) expect(frames.at(-1)).toHaveProperty("error");
          else expect(res.status).toBeGreaterThanOrEqual(400);
        }
      }),
      { numRuns: 150, seed: SEED },
    );
  }, 120_000);

  it("the SDK assembles exactly the streamed text and tool-call arguments", async () => {
    const client = new OpenAI({ baseURL: proxy.baseURL, apiKey: "unused", maxRetries: 0 });
    await fc.assert(
      fc.asyncProperty(
        stream.map((c): StreamCase => ({ ...c, ending: "completed" })),
        async (c) => {
          proxy.codex.enqueue({ kind: "sse", events: eventsOf(c), chunkSize: "random", seed: 7 });
          const toolList = tools(c);
          const final = await client.chat.completions
            .stream({ model: "gpt-5.5", messages: [{ role: "user", content: "go" }], ...(toolList.length ? { tools: toolList } : {}) })
            .finalChatCompletion();
          const message = final.choices[0]?.message;
          const texts = c.items.flatMap((it) => (it.kind === "message" ? [it.deltas.join("")] : []));
          expect(message?.content ?? "").toBe(texts.join("\n\n"));
          const calls = c.items.flatMap((it) => (it.kind === "call" ? [{ name: it.name, arguments: it.args }] : []));
          expect((message?.tool_calls ?? []).map((t) => (t.type === "function" ? { name: t.function.name, arguments: t.function.arguments } : {}))).toEqual(calls);
          expect(final.choices[0]?.finish_reason).toBe(calls.length > 0 ? "tool_calls" : "stop");
        },
      ),
      { numRuns: 100, seed: SEED },
    );
  }, 120_000);
});

describe("sent text", () => {
  const piece = fc.string({ unit: "binary", maxLength: 12 });
  const sent = (pieces: string[]) => {
    const tracker = new SentText(pieces[0]);
    for (const p of pieces.slice(1)) tracker.add(p);
    return tracker;
  };

  it("the rest of a final text is what follows the sent deltas, whatever they were", () => {
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 30 }), piece, (pieces, tail) => {
        expect(sent(pieces).rest(pieces.join("") + tail)).toBe(tail);
      }),
      { numRuns: 500, seed: SEED },
    );
  });

  it("a final text that does not begin with what was sent gives nothing to append", () => {
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 30 }), piece, fc.nat(), fc.integer({ min: 1, max: 0xffff }), (pieces, tail, at, flip) => {
        const text = pieces.join("");
        fc.pre(text.length > 0);
        const i = at % text.length;
        const changed = text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ flip) + text.slice(i + 1);
        expect(sent(pieces).rest(changed + tail)).toBe("");
      }),
      { numRuns: 500, seed: SEED },
    );
  });

  it("a final text no longer than what was sent gives nothing to append", () => {
    const tracker = sent(["Hel", "lo"]);
    expect(tracker.rest("Hello")).toBe("");
    expect(tracker.rest("Hell")).toBe("");
    expect(tracker.rest("Hello, world")).toBe(", world");
  });
});

describe("text delta encoding", () => {
  it("a text delta written from the stream's prefix is byte for byte the whole chunk stringified", () => {
    const any = fc.string({ unit: "binary", maxLength: 30 });
    fc.assert(
      fc.property(any, any, fc.nat(), fc.array(any, { minLength: 1, maxLength: 5 }), (id, model, created, deltas) => {
        const converter = new StreamLife(new ChatEventMapper({ id, created, model, includeUsage: false, toolNames: new ToolNames() }), () => 0);
        const frames = deltas.flatMap((delta, i) => converter.push({ type: "response.output_text.delta", output_index: i % 2, content_index: 0, delta } as CodexEvent));
        const written = frames.filter((f) => f.kind === "chunk" && f.contentPrefix !== undefined);
        expect(written.length).toBe(deltas.filter((d) => d !== "").length);
        for (const frame of frames) if (frame.kind === "chunk") expect(encodeChunk(frame)).toBe(`data: ${JSON.stringify(frame.chunk)}\n\n`);
      }),
      { numRuns: 500, seed: SEED },
    );
  });

  it("messages: a text delta written from its block's prefix is byte for byte the whole event stringified", () => {
    const any = fc.string({ unit: "binary", maxLength: 30 });
    fc.assert(
      fc.property(any, fc.array(fc.tuple(any, fc.nat(3), fc.boolean()), { minLength: 1, maxLength: 8 }), (model, deltas) => {
        const converter = new StreamLife(new MessagesEventMapper({ model, inputTokens: 1, toolNames: new ToolNames() }), () => 0);
        const frames = deltas.flatMap(([delta, index, refusal]) =>
          converter.push({ type: refusal ? "response.refusal.delta" : "response.output_text.delta", output_index: index, content_index: 0, delta } as CodexEvent),
        );
        expect(frames.filter((f) => f.kind === "event" && f.textPrefix !== undefined).length).toBe(deltas.filter(([d]) => d !== "").length);
        for (const frame of frames) if (frame.kind === "event") expect(encodeEvent(frame)).toBe(`event: ${String(frame.event.type)}\ndata: ${JSON.stringify(frame.event)}\n\n`);
      }),
      { numRuns: 500, seed: SEED },
    );
  });
});
