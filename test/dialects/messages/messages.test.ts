/**
 * The Anthropic Messages front door (`POST /v1/messages`) with the real `@anthropic-ai/sdk` against
 * the fake backend: text, streamed tool input, parallel calls, thinking carried across turns,
 * images, Claude Code's own request shape, every error status, failures after the start, and
 * `count_tokens`.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CodexEvent } from "../../../lambda/codex/types.js";
import { fixtureJson, recorded, recordedTurns, sseFixtureEvents } from "../../support/fixtures.js";
import { startProxy, type RunningProxy } from "../../support/proxy.js";

const KEY = "sk-messages-test-key-0001";
const TEXT = recordedTurns("recorded.openai-reasoning-encrypted-content.1.jsonl")[3] as CodexEvent[];
const THINK_AND_CALL = recordedTurns("recorded.openai-reasoning-encrypted-content.1.jsonl")[0] as CodexEvent[];
const ANSWER = TEXT.filter((e) => e.type === "response.output_text.delta")
  .map((e) => e.delta)
  .join("");

let proxy: RunningProxy;
const client = (options: { maxRetries?: number } = {}) => new Anthropic({ baseURL: proxy.url, apiKey: KEY, maxRetries: options.maxRetries ?? 0 });
beforeAll(async () => {
  proxy = await startProxy({ keys: [KEY], env: { ALLOWED_MODELS: "gpt-5.5,gpt-5.4-mini" }, limits: { keepAliveMs: 100 } });
});
afterAll(async () => proxy.stop());
beforeEach(() => {
  proxy.codex.always(() => ({ kind: "json", status: 500, body: { detail: "no reply queued" } }));
});
const upstream = () =>
  proxy.codex.responsesCalls.at(-1)?.body as {
    model: string;
    instructions: string;
    input: Record<string, unknown>[];
    tools?: Record<string, unknown>[];
    reasoning?: { effort?: string };
    [k: string]: unknown;
  };

describe("messages.create and messages.stream", () => {
  it("a text answer, the client's model name echoed, the claude name mapped upstream", async () => {
    proxy.codex.enqueue({ kind: "sse", events: TEXT });
    const message = await client().messages.create({ model: "claude-opus-5-5", max_tokens: 1024, messages: [{ role: "user", content: "Hello" }] });
    expect(message).toMatchObject({ type: "message", role: "assistant", model: "claude-opus-5-5", stop_reason: "end_turn" });
    expect(message.content).toEqual([{ type: "text", text: ANSWER }]);
    expect(message.usage.output_tokens).toBe(TEXT.at(-1)?.response?.usage?.output_tokens);
    expect(upstream().model).toBe("gpt-5.5");
  });

  it("haiku names map to the small model", async () => {
    proxy.codex.enqueue({ kind: "sse", events: TEXT });
    await client().messages.create({ model: "claude-haiku-4-5", max_tokens: 10, messages: [{ role: "user", content: "x" }] });
    expect(upstream().model).toBe("gpt-5.4-mini");
  });

  it("a streamed tool call: input_json_delta as the arguments stream, thinking with a signature, stop_reason tool_use", async () => {
    proxy.codex.enqueue({ kind: "sse", events: THINK_AND_CALL, chunkSize: "random" });
    const stream = client().messages.stream({
      model: "gpt-5.5",
      max_tokens: 1024,
      messages: [{ role: "user", content: "12+7?" }],
      tools: [{ name: "calculator", input_schema: { type: "object" } }],
    });
    let jsonDeltas = 0;
    let thinking = "";
    stream.on("inputJson", () => jsonDeltas++);
    stream.on("thinking", (delta) => (thinking += delta));
    const final = await stream.finalMessage();
    expect(jsonDeltas).toBeGreaterThan(1);
    expect(thinking.length).toBeGreaterThan(0);
    expect(final.stop_reason).toBe("tool_use");
    const tool = final.content.find((b) => b.type === "tool_use");
    expect(tool).toMatchObject({ type: "tool_use", name: "calculator", input: { a: 12, b: 7, op: "add" } });
    const think = final.content.find((b) => b.type === "thinking");
    expect(think?.type === "thinking" && think.signature.startsWith("cxp1.")).toBe(true);
  });

  it("the next turn sends the thinking and the tool result back: reasoning and the call pair up upstream", async () => {
    proxy.codex.enqueue({ kind: "sse", events: THINK_AND_CALL });
    const first = await client().messages.create({
      model: "gpt-5.5",
      max_tokens: 1024,
      messages: [{ role: "user", content: "12+7?" }],
      tools: [{ name: "calculator", input_schema: { type: "object" } }],
    });
    const call = first.content.find((b) => b.type === "tool_use");
    proxy.codex.enqueue({ kind: "sse", events: TEXT });
    await client().messages.create({
      model: "gpt-5.5",
      max_tokens: 1024,
      tools: [{ name: "calculator", input_schema: { type: "object" } }],
      messages: [
        { role: "user", content: "12+7?" },
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: call?.type === "tool_use" ? call.id : "", content: "19" }] },
      ],
    });
    const input = upstream().input;
    const encrypted = THINK_AND_CALL.find((e) => e.type === "response.output_item.done" && e.item?.type === "reasoning")?.item as { encrypted_content?: string };
    expect(input.find((i) => i.type === "reasoning")).toMatchObject({ encrypted_content: encrypted.encrypted_content });
    expect(input.find((i) => i.type === "function_call")).toMatchObject({ name: "calculator", arguments: '{"a":12,"b":7,"op":"add"}' });
    expect(input.find((i) => i.type === "function_call_output")).toMatchObject({ output: "19" });
  });

  it("parallel tool calls become two tool_use blocks", async () => {
    const call = THINK_AND_CALL.filter((e) => (e.output_index ?? -1) === 1);
    const second = call.map((e) => JSON.parse(JSON.stringify(e).replaceAll(`"output_index":1`, `"output_index":2`).replaceAll("call_", "call_second_")) as CodexEvent);
    const events = [...THINK_AND_CALL.slice(0, -1), ...second, THINK_AND_CALL.at(-1) as CodexEvent];
    proxy.codex.enqueue({ kind: "sse", events });
    const message = await client().messages.create({
      model: "gpt-5.5",
      max_tokens: 100,
      messages: [{ role: "user", content: "x" }],
      tools: [{ name: "calculator", input_schema: { type: "object" } }],
    });
    const tools = message.content.filter((b) => b.type === "tool_use");
    expect(tools.length).toBe(2);
    expect(new Set(tools.map((t) => (t.type === "tool_use" ? t.id : ""))).size).toBe(2);
  });

  it("images (base64 and URL) and a PDF become input parts", async () => {
    proxy.codex.enqueue({ kind: "sse", events: TEXT });
    await client().messages.create({
      model: "gpt-5.5",
      max_tokens: 10,
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
            { type: "image", source: { type: "url", url: "https://example.com/cat.png" } },
            { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0=" }, title: "spec.pdf" },
            { type: "text", text: "what is this?" },
          ],
        },
      ],
    });
    expect(upstream().input).toEqual([
      {
        type: "message",
        role: "user",
        content: [
          { type: "input_image", image_url: "data:image/png;base64,iVBORw0KGgo=" },
          { type: "input_image", image_url: "https://example.com/cat.png" },
          { type: "input_file", file_data: "data:application/pdf;base64,JVBERi0=", filename: "spec.pdf" },
          { type: "input_text", text: "what is this?" },
        ],
      },
    ]);
  });

  it("ping events while the backend is silent", async () => {
    proxy.codex.enqueue({ kind: "sse", events: TEXT, firstByteDelayMs: 0, chunkSize: 2000, delayMs: 150 });
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": KEY, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-5.5", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] }),
    });
    const text = await res.text();
    expect(text).toContain('event: ping\ndata: {"type":"ping"}');
    expect(text.trimEnd().endsWith('event: message_stop\ndata: {"type":"message_stop"}')).toBe(true);
  });
});

describe("what Claude Code sends", () => {
  it("?beta=true, x-api-key, beta headers, billing line, a system message, $schema, a deferred placeholder, adaptive thinking with effort", async () => {
    proxy.codex.enqueue({ kind: "sse", events: TEXT });
    const res = await fetch(`${proxy.url}/v1/messages?beta=true`, {
      method: "POST",
      headers: {
        "x-api-key": KEY,
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
        "x-app": "cli",
      },
      body: JSON.stringify({
        model: "claude-opus-5-5",
        max_tokens: 32000,
        stream: true,
        system: [
          { type: "text", text: "x-anthropic-billing-header: cc_version=2.1.332" },
          { type: "text", text: "You are Claude Code.", cache_control: { type: "ephemeral" } },
          { type: "text", text: "Be concise.", cache_control: { type: "ephemeral" } },
        ],
        messages: [
          { role: "user", content: [{ type: "text", text: "fix the bug", cache_control: { type: "ephemeral" } }] },
          { role: "system", content: "<env>cwd: /repo</env>" },
        ],
        tools: [
          {
            name: "Write",
            description: "Write a file",
            input_schema: { $schema: "http://json-schema.org/draft-07/schema#", type: "object", properties: { file_path: { type: "string" } } },
          },
          { name: "DeferredToolPlaceholder", description: "placeholder", input_schema: { type: "object" }, defer_loading: true },
        ],
        metadata: { user_id: '{"session":"abc"}' },
        thinking: { type: "adaptive", display: "updates" },
        output_config: { effort: "high" },
        context_management: { edits: [] },
        temperature: 1,
      }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const body = upstream();
    expect(body.instructions).toBe("You are Claude Code.\n\nBe concise.\n\n<env>cwd: /repo</env>");
    expect(body.input).toEqual([{ type: "message", role: "user", content: [{ type: "input_text", text: "fix the bug" }] }]);
    expect(body.tools).toEqual([
      { type: "function", name: "Write", description: "Write a file", parameters: { type: "object", properties: { file_path: { type: "string" } } }, strict: false },
    ]);
    expect(body.reasoning).toEqual({ summary: "auto", effort: "high" });
    for (const key of ["max_tokens", "temperature", "metadata", "context_management", "thinking", "output_config", "system"]) expect(body).not.toHaveProperty(key);
    expect(body).toMatchObject({ model: "gpt-5.5", store: false, stream: true, include: ["reasoning.encrypted_content"] });
  });

  it.each([
    [{ type: "enabled", budget_tokens: 2_000 }, "low"],
    [{ type: "enabled", budget_tokens: 10_000 }, "medium"],
    [{ type: "enabled", budget_tokens: 32_000 }, "high"],
    [{ type: "disabled" }, "low"],
  ])("thinking %o -> effort %s", async (thinking, effort) => {
    proxy.codex.enqueue({ kind: "sse", events: TEXT });
    await client().messages.create({ model: "gpt-5.5", max_tokens: 10, thinking: thinking as never, messages: [{ role: "user", content: "x" }] });
    expect(upstream().reasoning?.effort).toBe(effort);
  });

  it("count_tokens: an estimate that grows with the request", async () => {
    const small = await client().messages.countTokens({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] });
    const large = await client().messages.countTokens({ model: "claude-sonnet-4-5", system: "x".repeat(4000), messages: [{ role: "user", content: "hi" }] });
    expect(small.input_tokens).toBeGreaterThan(0);
    expect(large.input_tokens - small.input_tokens).toBe(1000);
    expect(proxy.codex.responsesCalls.length).toBeGreaterThan(0); // earlier tests; count_tokens itself calls nothing
  });
});

describe("errors in Anthropic's shape", () => {
  it("a wrong key: 401 authentication_error", async () => {
    const error = await new Anthropic({ baseURL: proxy.url, apiKey: "sk-wrong-000000000000", maxRetries: 0 }).messages
      .create({ model: "gpt-5.5", max_tokens: 1, messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((error as { error: unknown }).error).toMatchObject({ type: "error", error: { type: "authentication_error" } });
  });

  it("no key: the 401 says how to send one, readable (x-api-key or Authorization: Bearer <key>), not '[redacted]'", async () => {
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-5.5", max_tokens: 1, messages: [{ role: "user", content: "x" }] }),
    });
    expect(res.status).toBe(401);
    const { error } = (await res.json()) as { error: { message: string } };
    expect(error.message).toContain("'x-api-key: <key>' or 'Authorization: Bearer <key>'");
    expect(error.message).not.toContain("[redacted]");
  });

  it("a usage limit: 429 rate_limit_error with retry-after and the reset time", async () => {
    proxy.codex.enqueue({ kind: "json", status: 429, body: fixtureJson("error.429-usage-limit-reached.body.json") });
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-5.5", max_tokens: 1, messages: [{ role: "user", content: "x" }] }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(body).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    expect(body.error.message).toMatch(/resets at/);
  });

  it("an overloaded backend: 529 overloaded_error", async () => {
    proxy.codex.always(() => ({ kind: "json", status: 503, body: { detail: "overloaded" } }));
    const error = await client()
      .messages.create({ model: "gpt-5.5", max_tokens: 1, messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect((error as { status: number }).status).toBe(529);
    expect((error as { error: unknown }).error).toMatchObject({ error: { type: "overloaded_error" } });
  });

  it("a plan without Codex: 403 permission_error; a body over the limit: 413 request_too_large", async () => {
    proxy.codex.enqueue({ kind: "json", status: 429, body: { error: { type: "usage_not_included", message: "not included" } } });
    const forbidden = await client()
      .messages.create({ model: "gpt-5.5", max_tokens: 1, messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(Anthropic.PermissionDeniedError);
    // A client declaring 64 MiB is refused before the body is read.
    const { request } = await import("node:http");
    const big = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${proxy.url}/v1/messages`,
        { method: "POST", headers: { "x-api-key": KEY, "content-type": "application/json", "content-length": String(64 * 1024 * 1024) } },
        (res) => {
          let body = "";
          res.on("data", (d: Buffer) => (body += d.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.write("{}");
    });
    expect(big.status).toBe(413);
    expect((JSON.parse(big.body) as { error: { type: string } }).error.type).toBe("request_too_large");
  });

  it.each([
    [{ tools: [{ type: "web_fetch_20250910", name: "web_fetch" }] }, /server tools cannot run.*web_fetch/],
    [{ max_tokens: undefined }, /max_tokens/],
    [{ messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_x", content: "r" }] }] }, /toolu_x/],
    [
      {
        messages: [
          { role: "user", content: "x" },
          { role: "assistant", content: [{ type: "tool_use", id: "toolu_y", name: "f", input: {} }] },
        ],
      },
      /toolu_y/,
    ],
  ])("%o: 400 invalid_request_error naming it", async (extra, message) => {
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": KEY, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-5.5", max_tokens: 1, messages: [{ role: "user", content: "x" }], ...extra }),
    });
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(res.status).toBe(400);
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.message).toMatch(message);
  });

  it("a failure mid-stream is an error event, no message_stop, and the SDK raises it", async () => {
    const failing = [...TEXT.slice(0, 8), ...sseFixtureEvents("sse.response-failed.context-length-exceeded.sse")];
    proxy.codex.enqueue({ kind: "sse", events: failing });
    const raw = await fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": KEY, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-5.5", max_tokens: 1, stream: true, messages: [{ role: "user", content: "x" }] }),
    });
    const text = await raw.text();
    expect(text).toContain("event: message_start");
    expect(text).not.toContain("message_stop");
    expect(text.trimEnd().split("\n\n").at(-1)).toMatch(/^event: error\ndata: \{"type":"error","error":\{"type":"invalid_request_error"/);
    proxy.codex.enqueue({ kind: "sse", events: failing });
    await expect(
      client()
        .messages.stream({ model: "gpt-5.5", max_tokens: 1, messages: [{ role: "user", content: "x" }] })
        .finalMessage(),
    ).rejects.toThrow(/context/i);
  });

  it("a cut stream raises an SDK error, never a complete-looking answer", async () => {
    proxy.codex.enqueue({ kind: "sse", events: TEXT, cutAfterEvents: 8 });
    await expect(
      client()
        .messages.stream({ model: "gpt-5.5", max_tokens: 1, messages: [{ role: "user", content: "x" }] })
        .finalMessage(),
    ).rejects.toThrow(/truncated/);
  });
});

it("the recorded phase stream also works (two text items)", async () => {
  proxy.codex.enqueue({ kind: "sse", events: recorded("recorded.openai-phase.1.jsonl") });
  const message = await client().messages.create({ model: "gpt-5.5", max_tokens: 10, messages: [{ role: "user", content: "x" }] });
  expect(message.content.every((b) => b.type === "text")).toBe(true);
  expect(message.content.length).toBe(2);
});
