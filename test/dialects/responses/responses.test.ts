/**
 * The Responses API front door (`POST /v1/responses`) with real clients — the openai SDK's
 * `responses.create` / `responses.stream` and the AI SDK's `@ai-sdk/openai` provider — against the
 * fake backend replaying recorded streams (with `output: []` in their terminal events, as the Codex
 * backend sends them), plus the exact upstream body for each rule and every error path.
 */
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CodexEvent } from "../../../lambda/codex/types.js";
import { fixtureJson, recorded, recordedTurns, sseFixtureEvents } from "../../support/fixtures.js";
import { startProxy, type RunningProxy } from "../../support/proxy.js";

const REASONING = "recorded.openai-reasoning-encrypted-content.1.jsonl";
/** As the Codex backend sends them: the terminal event's `output` is empty. */
const asBackend = (events: CodexEvent[]): CodexEvent[] =>
  events.map((e) => (e.type === "response.completed" ? ({ ...e, response: { ...e.response, output: [] } } as CodexEvent) : e));
const TEXT = asBackend(recorded("recorded.openai-phase.1.jsonl"));
const TURNS = recordedTurns(REASONING).map(asBackend);
const TEXT_OF = (events: CodexEvent[]) =>
  events
    .filter((e) => e.type === "response.output_text.delta")
    .map((e) => e.delta)
    .join("");

let proxy: RunningProxy;
let client: OpenAI;
beforeAll(async () => {
  proxy = await startProxy({ env: { ALLOWED_MODELS: "gpt-5.5,gpt-5.4" } });
  client = new OpenAI({ baseURL: proxy.baseURL, apiKey: "unused", maxRetries: 0 });
});
afterAll(async () => proxy.stop());
beforeEach(() => {
  proxy.codex.always(() => ({ kind: "json", status: 500, body: { detail: "no reply queued" } }));
});

const post = (body: unknown) => fetch(`${proxy.baseURL}/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const lastUpstream = () => proxy.codex.responsesCalls.at(-1)?.body as Record<string, unknown>;

describe("the openai SDK", () => {
  it("responses.create without stream: the aggregated response, output filled from the streamed items", async () => {
    proxy.codex.enqueue({ kind: "sse", events: TEXT });
    const response = await client.responses.create({ model: "gpt-5.5", input: "How many r's in strawberry?" });
    expect(response.object).toBe("response");
    expect(response.status).toBe("completed");
    const messages = TEXT.filter((e) => e.type === "response.output_item.done" && e.item?.type === "message");
    expect(response.output.length).toBe(messages.length);
    expect(response.output_text).toBe(messages.flatMap((e) => e.item?.content?.map((c) => c.text ?? "") ?? []).join(""));
    expect(response.usage?.output_tokens).toBe(TEXT.at(-1)?.response?.usage?.output_tokens);
  });

  it("responses.create with stream: the events pass through in order, vendor frames dropped", async () => {
    const vendor = { type: "codex.rate_limits", primary: { used_percent: 3 } } as unknown as CodexEvent;
    proxy.codex.enqueue({ kind: "sse", events: [TEXT[0] as CodexEvent, vendor, ...TEXT.slice(1)], chunkSize: "random" });
    const stream = await client.responses.create({ model: "gpt-5.5", input: "hi", stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types).toEqual(TEXT.map((e) => e.type));
    expect(types).not.toContain("codex.rate_limits");
  });

  it("responses.stream(): deltas as they come, finalResponse() with the function call and reasoning", async () => {
    proxy.codex.enqueue({ kind: "sse", events: TURNS[0] as CodexEvent[] });
    const runner = client.responses.stream({
      model: "gpt-5.5",
      input: [{ role: "user", content: "12 + 7?" }],
      tools: [{ type: "function", name: "calculator", parameters: { type: "object", properties: {} }, strict: false }],
    });
    let argumentDeltas = 0;
    runner.on("response.function_call_arguments.delta", () => argumentDeltas++);
    const final = await runner.finalResponse();
    expect(argumentDeltas).toBeGreaterThan(1);
    const call = final.output.find((o) => o.type === "function_call");
    expect(call).toMatchObject({ type: "function_call", name: "calculator", arguments: '{"a":12,"b":7,"op":"add"}' });
    const reasoning = final.output.find((o) => o.type === "reasoning") as { encrypted_content?: string } | undefined;
    expect(reasoning?.encrypted_content).toBeTruthy();
  });

  it("a stream cut before its terminal event raises an SDK error, never a made-up completion", async () => {
    proxy.codex.enqueue({ kind: "sse", events: TEXT, cutAfterEvents: 10 });
    const stream = await client.responses.create({ model: "gpt-5.5", input: "hi", stream: true });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const event of stream) seen.push(event.type);
      })(),
    ).rejects.toThrow(/truncated/);
    expect(seen).not.toContain("response.completed");
  });

  it("a response.failed mid-stream passes through and raises an SDK error", async () => {
    proxy.codex.enqueue({ kind: "sse", events: [...TEXT.slice(0, 12), ...sseFixtureEvents("sse.response-failed.context-length-exceeded.sse")] });
    const res = await post({ model: "gpt-5.5", input: "hi", stream: true });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toContain("event: response.failed");
    expect(text.trimEnd().split("\n\n").at(-1)).toMatch(/^event: error\ndata: \{"type":"error","code":"context_length_exceeded"/);
    const answer = TURNS[3] as CodexEvent[];
    proxy.codex.enqueue({ kind: "sse", events: [...answer.slice(0, -3), ...sseFixtureEvents("sse.response-failed.context-length-exceeded.sse")] });
    await expect(client.responses.stream({ model: "gpt-5.5", input: "hi" }).finalResponse()).rejects.toThrow(/context/i);
  });

  it("a non-streamed request whose backend fails keeps the real status", async () => {
    proxy.codex.enqueue({ kind: "sse", events: [...TEXT.slice(0, 2), ...sseFixtureEvents("sse.response-failed.rate-limit-exceeded.sse")] });
    const error = await client.responses.create({ model: "gpt-5.5", input: "hi" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
  });
});

describe("the AI SDK's openai() provider (Responses model)", () => {
  const provider = () => createOpenAI({ baseURL: proxy.baseURL, apiKey: "unused" });
  const calculator = tool({
    description: "A minimal calculator",
    inputSchema: jsonSchema<{ a: number; b: number; op: string }>({
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" }, op: { type: "string" } },
      required: ["a", "b", "op"],
    }),
    execute: async ({ a, b, op }) => (op === "add" ? a + b : op === "multiply" ? a * b : 0),
  });

  it("generateText over four turns: tool calls, results and reasoning carried back, store false", async () => {
    proxy.codex.enqueue(...TURNS.map((events) => ({ kind: "sse" as const, events })));
    const before = proxy.codex.responsesCalls.length;
    const result = await generateText({
      model: provider()("gpt-5.5"),
      prompt: "Compute ((12 + 7) * 3) * 10 step by step with the calculator.",
      tools: { calculator },
      stopWhen: stepCountIs(6),
      providerOptions: { openai: { store: false } },
    });
    expect(result.text).toBe(TEXT_OF(TURNS[3] as CodexEvent[]));
    expect(result.steps.length).toBe(4);
    const calls = proxy.codex.responsesCalls.slice(before).map((c) => c.body as { input: Record<string, unknown>[]; store: boolean; stream: boolean; include: string[] });
    expect(calls.length).toBe(4);
    for (const body of calls) {
      expect(body).toMatchObject({ store: false, stream: true });
      expect(body.include).toContain("reasoning.encrypted_content");
      expect(body.input.every((item) => item.id === undefined && item.type !== "item_reference")).toBe(true);
      expect(body).not.toHaveProperty("max_output_tokens");
    }
    const second = calls[1]?.input ?? [];
    expect(second.some((i) => i.type === "reasoning" && typeof i.encrypted_content === "string")).toBe(true);
    expect(second.some((i) => i.type === "function_call" && i.name === "calculator")).toBe(true);
    expect(second.find((i) => i.type === "function_call_output")).toMatchObject({ output: "19" });
  });

  it("streamText: text deltas, reasoning and usage", async () => {
    proxy.codex.enqueue({ kind: "sse", events: TEXT, chunkSize: "random" });
    const result = streamText({ model: provider()("gpt-5.5"), prompt: "hi", providerOptions: { openai: { store: false } } });
    let text = "";
    for await (const delta of result.textStream) text += delta;
    expect(text).toBe(TEXT_OF(TEXT));
    expect((await result.usage).outputTokens).toBe(TEXT.at(-1)?.response?.usage?.output_tokens);
  });

  it("streamText with a tool: the call arrives with its arguments", async () => {
    proxy.codex.enqueue({ kind: "sse", events: TURNS[0] as CodexEvent[] });
    const result = streamText({
      model: provider()("gpt-5.5"),
      prompt: "12+7",
      tools: { calculator: tool({ description: "A minimal calculator", inputSchema: jsonSchema<{ a: number; b: number; op: string }>({ type: "object" }) }) },
      providerOptions: { openai: { store: false } },
    });
    const calls = await result.toolCalls;
    expect(calls.map((c) => ({ name: c.toolName, input: c.input }))).toEqual([{ name: "calculator", input: { a: 12, b: 7, op: "add" } }]);
  });

  it("with its default store, the item_reference it replays gets a 400 that says to set store false", async () => {
    const res = await post({
      model: "gpt-5.5",
      input: [
        { role: "user", content: "hi" },
        { type: "item_reference", id: "rs_123" },
      ],
    });
    const body = (await res.json()) as { error: { message: string; code: string; param: string } };
    expect(res.status).toBe(400);
    expect(body.error).toMatchObject({ code: "unsupported_item_reference", param: "input[1]" });
    expect(body.error.message).toContain("providerOptions: { openai: { store: false } }");
  });
});

describe("the upstream body follows the backend's rules", () => {
  beforeEach(() => {
    proxy.codex.always(() => ({ kind: "sse", events: TEXT }));
  });

  it("store and stream forced, instructions defaulted, a string input becomes a user message, unsupported fields dropped", async () => {
    const res = await post({
      model: "gpt-5.5",
      input: "hi",
      store: true,
      temperature: 0.2,
      top_p: 0.9,
      max_output_tokens: 100,
      metadata: { a: "b" },
      user: "u-1",
      safety_identifier: "s",
      prompt_cache_retention: "24h",
      truncation: "auto",
      service_tier: "flex",
      stream_options: { include_obfuscation: false },
      top_logprobs: 2,
    });
    expect(res.status).toBe(200);
    const body = lastUpstream();
    expect(Object.keys(body).sort()).toEqual(["include", "input", "instructions", "model", "prompt_cache_key", "store", "stream"]);
    expect(body).toMatchObject({ model: "gpt-5.5", instructions: "", store: false, stream: true, include: ["reasoning.encrypted_content"] });
    expect(body.input).toEqual([{ type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] }]);
    expect(body.prompt_cache_key).toMatch(/^[0-9a-f-]{36}$/); // derived from `user`, never forwarded
  });

  it("as the Codex CLI sends it: developer items, ids on every item, custom/tool_search/web_search tools, client_metadata", async () => {
    const sent = {
      model: "gpt-5.5",
      stream: true,
      store: false,
      input: [
        { type: "message", id: "msg_1", role: "developer", content: [{ type: "input_text", text: "be careful" }] },
        { type: "message", id: "msg_2", role: "user", content: [{ type: "input_text", text: "patch it" }] },
        { type: "function_call", id: "fc_1", call_id: "call_1", name: "exec_command", arguments: "{}" },
        { type: "function_call_output", id: "fco_1", call_id: "call_1", output: "ok" },
        { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "gAAAA" },
      ],
      tools: [
        { type: "function", name: "exec_command", parameters: { type: "object" }, strict: false },
        { type: "custom", name: "apply_patch", format: { type: "grammar", syntax: "lark", definition: "start: x" } },
        { type: "tool_search", execution: "client" },
        { type: "web_search" },
      ],
      tool_choice: "auto",
      parallel_tool_calls: true,
      reasoning: { effort: "high" },
      include: ["reasoning.encrypted_content"],
      prompt_cache_key: "thread-1",
      text: { verbosity: "low" },
      client_metadata: { "x-codex-installation-id": "i" },
    };
    expect((await post(sent)).status).toBe(200);
    const body = lastUpstream();
    expect(body).toEqual({
      ...sent,
      instructions: "",
      input: sent.input.map(({ id: _id, ...item }) => item),
    });
  });

  it("system items become developer items; a string content becomes parts; an alias suffix sets the effort", async () => {
    expect(
      (
        await post({
          model: "gpt-5.5-high",
          instructions: "top",
          input: [
            { role: "system", content: "sys" },
            { role: "user", content: "u" },
            { role: "assistant", content: "a" },
          ],
        })
      ).status,
    ).toBe(200);
    const body = lastUpstream();
    expect(body.input).toEqual([
      { type: "message", role: "developer", content: [{ type: "input_text", text: "sys" }] },
      { type: "message", role: "user", content: [{ type: "input_text", text: "u" }] },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "a" }] },
    ]);
    expect(body).toMatchObject({ model: "gpt-5.5", instructions: "top", reasoning: { effort: "high" } });
  });

  it("a tool name over 64 characters is shortened upstream and restored for the client", async () => {
    const long = `mcp__filesystem__${"read_multiple_files_with_metadata_".repeat(3)}`;
    const turn = (TURNS[0] as CodexEvent[]).map((e) => (e.item?.name === "calculator" ? ({ ...e, item: { ...e.item, name: "SHORT" } } as CodexEvent) : e));
    proxy.codex.enqueue((req) => {
      const short = ((req.body as { tools: { name: string }[] }).tools[0] as { name: string }).name;
      return { kind: "sse", events: turn.map((e) => (e.item?.name === "SHORT" ? ({ ...e, item: { ...e.item, name: short } } as CodexEvent) : e)) };
    });
    const final = await client.responses
      .stream({ model: "gpt-5.5", input: "x", tools: [{ type: "function", name: long, parameters: { type: "object" }, strict: false }] })
      .finalResponse();
    const upstreamName = (lastUpstream().tools as { name: string }[])[0]?.name ?? "";
    expect(upstreamName.length).toBeLessThanOrEqual(64);
    expect(final.output.find((o) => o.type === "function_call")).toMatchObject({ name: long });
  });
});

describe("errors in the Responses API's shape", () => {
  it.each([
    [{ previous_response_id: "resp_1" }, "previous_response_id"],
    [{ conversation: "conv_1" }, "conversation"],
    [{ background: true }, "background"],
  ])("%o needs server-side state: 400 saying to send the full input", async (extra, param) => {
    const res = await post({ model: "gpt-5.5", input: "hi", ...extra });
    const body = (await res.json()) as { error: { message: string; param: string; type: string } };
    expect(res.status).toBe(400);
    expect(body.error).toMatchObject({ param, type: "invalid_request_error" });
    expect(body.error.message).toMatch(/input|background false/);
  });

  it("an unknown model: 400 listing the models; a usage limit: 429 with Retry-After", async () => {
    expect((await post({ model: "gpt-4o", input: "hi" })).status).toBe(400);
    proxy.codex.enqueue({ kind: "json", status: 429, body: fixtureJson("error.429-usage-limit-reached.body.json") });
    const res = await post({ model: "gpt-5.5", input: "hi", stream: true });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("a missing input: 400 naming it", async () => {
    const res = await post({ model: "gpt-5.5" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe("input");
  });
});

describe("forwarding", () => {
  it("an unchanged event goes out as the backend wrote it; one split over data lines or without its type is written anew, whole", async () => {
    const deltas = TEXT.flatMap((e, i) => (e.type === "response.output_text.delta" ? [i] : []));
    const [asSent, split, typeless] = deltas as [number, number, number];
    const data = TEXT.map((e) => JSON.stringify(e));
    // Valid JSON the proxy would never write itself: a space after the brace and an escaped é.
    const odd = JSON.stringify({ ...TEXT[asSent], delta: "café" })
      .replace('"café"', '"caf\\u00e9"')
      .replace('{"type":', '{ "type": ');
    const pieces = TEXT.map((e, i) => {
      if (i === asSent) return `event: ${e.type}\ndata: ${odd}\n\n`;
      if (i === split) return `event: ${e.type}\ndata: ${data[i]!.replace(',"', ',\ndata: "')}\n\n`;
      if (i === typeless) return `event: ${e.type}\ndata: ${JSON.stringify({ ...e, type: undefined })}\n\n`;
      return `event: ${e.type}\ndata: ${data[i]}\n\n`;
    });
    proxy.codex.enqueue({ kind: "raw", pieces: [pieces.join("")] });
    const text = await (await post({ model: "gpt-5.5", input: "hi", stream: true })).text();

    expect(text).toContain(`\ndata: ${odd}\n\n`);
    const events = text
      .split("\n\n")
      .filter((block) => block.trim() !== "")
      .map((block) => {
        const lines = block.split("\n");
        expect(lines.length).toBe(2);
        return { name: lines[0]!.slice("event: ".length), data: JSON.parse(lines[1]!.slice("data: ".length)) as CodexEvent };
      });
    expect(events.map((e) => e.name)).toEqual(TEXT.map((e) => e.type));
    expect(events.map((e) => e.data.type)).toEqual(TEXT.map((e) => e.type));
    // the recording's items are at output indexes 0 and 2; the client's are contiguous (0 and 1)
    const asClient = (e: CodexEvent | undefined) => (e?.output_index === 2 ? { ...e, output_index: 1 } : e);
    expect(events[split]!.data).toEqual(asClient(TEXT[split]));
    expect(events[typeless]!.data).toEqual(asClient(TEXT[typeless]));
    expect(TEXT_OF(events.map((e) => e.data))).toBe(TEXT_OF(TEXT.map((e, i) => (i === asSent ? { ...e, delta: "café" } : e))));
  });
});
