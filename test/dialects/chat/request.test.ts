/**
 * One row per README mapping-table row: a Chat Completions request goes through the real proxy, and
 * the body and headers the fake backend received are asserted exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { recorded } from "../../support/fixtures.js";
import { ACCOUNT_ID, startProxy, type RunningProxy } from "../../support/proxy.js";

let proxy: RunningProxy;
const TEXT_TURN = recorded("recorded.openai-phase.1.jsonl");

beforeAll(async () => {
  proxy = await startProxy();
  proxy.codex.always(() => ({ kind: "sse", events: TEXT_TURN }));
});
afterAll(async () => proxy.stop());

async function upstreamBodyFor(chat: Record<string, unknown>): Promise<Record<string, unknown>> {
  const before = proxy.codex.responsesCalls.length;
  const res = await fetch(`${proxy.baseURL}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-5.5", ...chat }),
  });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  const calls = proxy.codex.responsesCalls;
  expect(calls.length).toBe(before + 1);
  return calls.at(-1)?.body as Record<string, unknown>;
}

const user = (content: unknown) => ({ role: "user", content });
const base = (extra: Record<string, unknown>) => ({
  model: "gpt-5.5",
  instructions: "",
  store: false,
  stream: true,
  prompt_cache_key: expect.stringMatching(/^[0-9a-f-]{36}$/),
  reasoning: { summary: "auto" },
  include: ["reasoning.encrypted_content"],
  ...extra,
});

const WEATHER = { type: "function", function: { name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } } } } };
const PNG = "data:image/png;base64,iVBORw0KGgo=";

const rows: { name: string; chat: Record<string, unknown>; upstream: Record<string, unknown> }[] = [
  {
    name: "system and developer messages become instructions, joined in order",
    chat: {
      messages: [
        { role: "system", content: "Be brief." },
        {
          role: "developer",
          content: [
            { type: "text", text: "Use " },
            { type: "text", text: "tools." },
          ],
        },
        user("hi"),
      ],
    },
    upstream: base({ instructions: "Be brief.\n\nUse tools.", input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] }] }),
  },
  {
    name: "no system message gives empty instructions",
    chat: { messages: [user("hi")] },
    upstream: base({ input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] }] }),
  },
  {
    name: "user parts: text and images (data URL with detail, http URL)",
    chat: {
      messages: [
        user([
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url: PNG, detail: "high" } },
          { type: "image_url", image_url: { url: "https://example.com/a.jpg" } },
        ]),
      ],
    },
    upstream: base({
      input: [
        {
          type: "message",
          role: "user",
          content: [
            { type: "input_text", text: "What is this?" },
            { type: "input_image", image_url: PNG, detail: "high" },
            { type: "input_image", image_url: "https://example.com/a.jpg" },
          ],
        },
      ],
    }),
  },
  {
    name: "file parts become input_file",
    chat: { messages: [user([{ type: "file", file: { file_data: "data:application/pdf;base64,JVBERi0=", filename: "a.pdf" } }])] },
    upstream: base({
      input: [{ type: "message", role: "user", content: [{ type: "input_file", file_data: "data:application/pdf;base64,JVBERi0=", filename: "a.pdf" }] }],
    }),
  },
  {
    name: "assistant text becomes output_text; message ids are never sent",
    chat: { messages: [user("hi"), { role: "assistant", content: [{ type: "text", text: "Hello!" }], id: "msg_old" }, user("again")] },
    upstream: base({
      input: [
        { type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "Hello!" }] },
        { type: "message", role: "user", content: [{ type: "input_text", text: "again" }] },
      ],
    }),
  },
  {
    name: "assistant tool_calls become bare function_call items, tool messages function_call_output",
    chat: {
      tools: [WEATHER],
      messages: [
        user("weather?"),
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
        {
          role: "tool",
          tool_call_id: "call_1",
          content: [
            { type: "text", text: "22" },
            { type: "text", text: "°C" },
          ],
        },
      ],
    },
    upstream: base({
      tools: [{ type: "function", name: "get_weather", description: "Weather", parameters: WEATHER.function.parameters, strict: false }],
      input: [
        { type: "message", role: "user", content: [{ type: "input_text", text: "weather?" }] },
        { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' },
        { type: "function_call_output", call_id: "call_1", output: "22°C" },
      ],
    }),
  },
  {
    name: "assistant text beside tool calls stays a message before the calls",
    chat: {
      messages: [
        user("weather?"),
        { role: "assistant", content: "Checking.", tool_calls: [{ id: "c1", type: "function", function: { name: "get_weather", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c1", content: "sunny" },
      ],
    },
    upstream: base({
      input: [
        { type: "message", role: "user", content: [{ type: "input_text", text: "weather?" }] },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "Checking." }] },
        { type: "function_call", call_id: "c1", name: "get_weather", arguments: "{}" },
        { type: "function_call_output", call_id: "c1", output: "sunny" },
      ],
    }),
  },
  {
    name: "legacy function_call and role function",
    chat: {
      functions: [WEATHER.function],
      function_call: { name: "get_weather" },
      messages: [
        user("w?"),
        { role: "assistant", content: null, function_call: { name: "get_weather", arguments: "{}" } },
        { role: "function", name: "get_weather", content: "rain" },
      ],
    },
    upstream: base({
      tools: [{ type: "function", name: "get_weather", description: "Weather", parameters: WEATHER.function.parameters, strict: false }],
      tool_choice: { type: "function", name: "get_weather" },
      input: [
        { type: "message", role: "user", content: [{ type: "input_text", text: "w?" }] },
        { type: "function_call", call_id: "call_legacy_1", name: "get_weather", arguments: "{}" },
        { type: "function_call_output", call_id: "call_legacy_1", output: "rain" },
      ],
    }),
  },
  {
    name: "tools are flattened; strict kept; missing parameters default to an empty object schema",
    chat: { messages: [user("x")], tools: [{ type: "function", function: { name: "noop", strict: true } }], tool_choice: "required", parallel_tool_calls: false },
    upstream: base({
      input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "x" }] }],
      tools: [{ type: "function", name: "noop", parameters: { type: "object", properties: {} }, strict: true }],
      tool_choice: "required",
      parallel_tool_calls: false,
    }),
  },
  ...(["auto", "none"] as const).map((choice) => ({
    name: `tool_choice '${choice}' passes through`,
    chat: { messages: [user("x")], tools: [WEATHER], tool_choice: choice },
    upstream: base({
      input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "x" }] }],
      tools: [{ type: "function", name: "get_weather", description: "Weather", parameters: WEATHER.function.parameters, strict: false }],
      tool_choice: choice,
    }),
  })),
  {
    name: "tool_choice naming a function",
    chat: { messages: [user("x")], tools: [WEATHER], tool_choice: { type: "function", function: { name: "get_weather" } }, parallel_tool_calls: true },
    upstream: base({
      input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "x" }] }],
      tools: [{ type: "function", name: "get_weather", description: "Weather", parameters: WEATHER.function.parameters, strict: false }],
      tool_choice: { type: "function", name: "get_weather" },
      parallel_tool_calls: true,
    }),
  },
  {
    name: "response_format json_schema -> text.format; verbosity -> text.verbosity",
    chat: {
      messages: [user("x")],
      response_format: { type: "json_schema", json_schema: { name: "answer", schema: { type: "object" }, strict: true } },
      verbosity: "low",
    },
    upstream: base({
      input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "x" }] }],
      text: { format: { type: "json_schema", name: "answer", schema: { type: "object" }, strict: true }, verbosity: "low" },
    }),
  },
  ...(["json_object", "text"] as const).map((type) => ({
    name: `response_format ${type}`,
    chat: { messages: [user("x")], response_format: { type } },
    upstream: base({ input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "x" }] }], text: { format: { type } } }),
  })),
  ...(
    [
      ["high", "high"],
      ["minimal", "low"],
      ["none", "none"],
      ["xhigh", "xhigh"],
    ] as const
  ).map(([given, sent]) => ({
    name: `reasoning_effort ${given} -> reasoning.effort ${sent}`,
    chat: { messages: [user("x")], reasoning_effort: given },
    upstream: base({ input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "x" }] }], reasoning: { effort: sent, summary: "auto" } }),
  })),
  {
    name: "an effort-suffixed model alias sets the model and the effort",
    chat: { model: "gpt-5.5-high", messages: [user("x")] },
    upstream: base({ input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "x" }] }], reasoning: { effort: "high", summary: "auto" } }),
  },
  {
    name: "service_tier priority is forwarded, other tiers are not",
    chat: { messages: [user("x")], service_tier: "priority" },
    upstream: base({ input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "x" }] }], service_tier: "priority" }),
  },
  {
    name: "parameters the backend rejects are never forwarded; store false and stream true always",
    chat: {
      messages: [user("x")],
      stream: false,
      store: true,
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 100,
      max_completion_tokens: 100,
      max_output_tokens: 100,
      metadata: { a: "b" },
      stream_options: { include_usage: true },
      frequency_penalty: 0.1,
      presence_penalty: 0.1,
      logprobs: true,
      top_logprobs: 2,
      seed: 7,
      stop: ["\n"],
      previous_response_id: "resp_123",
      n: 1,
      safety_identifier: "s",
      prompt_cache_retention: "24h",
      truncation: "auto",
      logit_bias: { "1": 1 },
      modalities: ["text"],
      service_tier: "flex",
    },
    upstream: base({ input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "x" }] }] }),
  },
];

describe("Chat -> Responses mapping (exact upstream body)", () => {
  it.each(rows)("$name", async ({ chat, upstream }) => {
    expect(await upstreamBodyFor(chat)).toEqual(upstream);
  });

  it("tool names over 64 characters are shortened consistently in tools, history and tool_choice", async () => {
    const long = `mcp__github__${"list_pull_request_review_comments_".repeat(3)}`;
    const body = await upstreamBodyFor({
      tools: [{ type: "function", function: { name: long, parameters: { type: "object" } } }],
      tool_choice: { type: "function", function: { name: long } },
      messages: [
        user("x"),
        { role: "assistant", tool_calls: [{ id: "c", type: "function", function: { name: long, arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c", content: "[]" },
      ],
    });
    const tools = body.tools as { name: string }[];
    const short = tools[0]?.name ?? "";
    expect(short.length).toBeLessThanOrEqual(64);
    expect(short.startsWith("mcp__github__list_pull_request")).toBe(true);
    expect(body.tool_choice).toEqual({ type: "function", name: short });
    expect((body.input as { name?: string }[])[1]?.name).toBe(short);
  });
});

describe("prompt_cache_key", () => {
  it("is the client's prompt_cache_key when given", async () => {
    expect((await upstreamBodyFor({ messages: [user("x")], prompt_cache_key: "my-key" })).prompt_cache_key).toBe("my-key");
  });

  it("stays the same across the turns of one conversation and differs between conversations", async () => {
    const turn1 = [{ role: "system", content: "sys" }, user("first question")];
    const turn2 = [...turn1, { role: "assistant", content: "answer" }, user("follow-up")];
    const a = (await upstreamBodyFor({ messages: turn1 })).prompt_cache_key;
    const b = (await upstreamBodyFor({ messages: turn2 })).prompt_cache_key;
    const c = (await upstreamBodyFor({ messages: [{ role: "system", content: "sys" }, user("another conversation")] })).prompt_cache_key;
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it("derives from `user` when given, without forwarding it", async () => {
    const body = await upstreamBodyFor({ messages: [user("x")], user: "alice" });
    const again = await upstreamBodyFor({ messages: [user("different")], user: "alice" });
    expect(body.prompt_cache_key).toBe(again.prompt_cache_key);
    expect(JSON.stringify(body)).not.toContain("alice");
  });
});

describe("upstream headers", () => {
  it("sends the Codex CLI header set with the login's token and account", async () => {
    const body = await upstreamBodyFor({ messages: [user("x")] });
    const headers = proxy.codex.responsesCalls.at(-1)?.headers ?? {};
    const login = JSON.parse(readFileSync(proxy.authPath, "utf8")) as { tokens: { access_token: string } };
    expect(headers.authorization).toBe(`Bearer ${login.tokens.access_token}`);
    expect(headers["chatgpt-account-id"]).toBe(ACCOUNT_ID);
    expect(headers.originator).toBe("codex_cli_rs");
    expect(headers.version).toBe("0.171.0");
    expect(headers.session_id).toBe(body.prompt_cache_key);
    expect(headers.accept).toBe("text/event-stream");
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["user-agent"]).toMatch(/^codex_cli_rs\/0\.171\.0 \(/);
    expect(proxy.codex.responsesCalls.at(-1)?.path).toBe("/backend-api/codex/responses");
  });

  it("reuses upstream connections (keep-alive pool)", async () => {
    await upstreamBodyFor({ messages: [user("a")] });
    await upstreamBodyFor({ messages: [user("b")] });
    const [a, b] = proxy.codex.responsesCalls.slice(-2);
    expect(a?.remotePort).toBe(b?.remotePort);
  });
});

describe("CODEX_CLIENT_VERSION", () => {
  it("is sent as the version header and in the model catalog query", async () => {
    const other = await startProxy({ env: { CODEX_CLIENT_VERSION: "0.160.1" } });
    try {
      other.codex.always(() => ({ kind: "sse", events: TEXT_TURN }));
      const res = await fetch(`${other.baseURL}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-5.5", messages: [user("x")] }),
      });
      expect(res.status).toBe(200);
      await res.text();
      expect(other.codex.responsesCalls[0]?.headers.version).toBe("0.160.1");
      expect(other.codex.requests.find((r) => r.path.includes("/models"))?.path).toBe("/backend-api/codex/models?client_version=0.160.1");
    } finally {
      await other.stop();
    }
  });
});
