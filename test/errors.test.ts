/**
 * Every error a client can meet: status, OpenAI-shaped body, and for limits the Retry-After header.
 * Upstream bodies come from the recorded fixtures.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessToken, fixtureJson, recorded, sseFixtureEvents } from "./support/fixtures.js";
import { ACCOUNT_ID, chatBody, readSse, startProxy, type RunningProxy } from "./support/proxy.js";

const NOW = 1777922696_000; // 13872 s before the fixture's resets_at (1777936568)
let proxy: RunningProxy;

beforeAll(async () => {
  proxy = await startProxy({ clock: () => NOW, keys: ["sk-proxy-test-key-1", "sk-proxy-test-key-2"] });
});
afterAll(async () => proxy.stop());

const AUTH = { authorization: "Bearer sk-proxy-test-key-2" };

async function post(body: unknown, headers: Record<string, string> = AUTH, path = "/v1/chat/completions"): Promise<Response> {
  return fetch(`${proxy.url}${path}`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
}

async function expectError(res: Response, status: number, match: { message: RegExp; code?: string | null; param?: string | null; type?: string }) {
  const body = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
  expect(res.status, body.error.message).toBe(status);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(body.error.message).toMatch(match.message);
  if (match.code !== undefined) expect(body.error.code).toBe(match.code);
  if (match.param !== undefined) expect(body.error.param).toBe(match.param);
  if (match.type !== undefined) expect(body.error.type).toBe(match.type);
  return body.error;
}

describe("routes", () => {
  it("unknown path -> 404", async () => {
    await expectError(await fetch(`${proxy.url}/v1/completions`, { method: "POST", headers: AUTH }), 404, { message: /No route POST \/v1\/completions/, code: "unknown_url" });
  });

  it("wrong method -> 405 with Allow", async () => {
    const res = await fetch(`${proxy.url}/v1/chat/completions`, { headers: AUTH });
    expect(res.headers.get("allow")).toBe("POST, OPTIONS");
    await expectError(res, 405, { message: /GET is not allowed on \/v1\/chat\/completions; use POST/, code: "method_not_allowed" });
  });

  it("answers a CORS preflight without a key", async () => {
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:3000", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-methods")).toBe("POST, OPTIONS");
    expect(res.headers.get("access-control-allow-headers")).toBe("authorization, content-type");
  });

  it("/health needs no key and shows no secret", async () => {
    const res = await fetch(`${proxy.url}/health`);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(JSON.parse(text)).toEqual({
      status: "ok",
      version: "0.1.0",
      serves: ["OpenAI Chat Completions", "OpenAI Responses", "Anthropic Messages"],
      node: process.versions.node,
      upstream: new URL(proxy.codex.url).host,
      token_source: "auth.json",
      models: "catalog",
      client_keys: "required",
      usage_limits: null,
    });
    expect(text).not.toMatch(/sk-proxy|eyJ|rt\.1/);
  });
});

describe("client keys (PROXY_API_KEYS)", () => {
  it("no key -> 401", async () => {
    await expectError(await post(chatBody(), {}), 401, {
      message: /Missing API key\. Send the proxy's key as 'Authorization: Bearer <key>'/,
      code: "invalid_api_key",
      type: "authentication_error",
    });
  });
  it("wrong key -> 401, also on /v1/models", async () => {
    await expectError(await post(chatBody(), { authorization: "Bearer sk-proxy-test-key-3" }), 401, { message: /Invalid API key/ });
    await expectError(await fetch(`${proxy.url}/v1/models`, { headers: { authorization: "Bearer nope" } }), 401, { message: /Invalid API key/ });
  });
  it("any configured key is accepted", async () => {
    const res = await fetch(`${proxy.url}/v1/models`, { headers: { authorization: "Bearer sk-proxy-test-key-1" } });
    expect(res.status).toBe(200);
  });
});

describe("request validation -> 400", () => {
  const cases: [string, unknown, RegExp, string | null][] = [
    ["invalid JSON", "{not json", /not valid JSON/, null],
    ["empty body", "", /body is empty/, null],
    ["missing model", { messages: [{ role: "user", content: "x" }] }, /model is required/, "model"],
    ["empty messages", chatBody({ messages: [] }), /messages must be a non-empty array/, "messages"],
    ["n > 1", chatBody({ n: 3 }), /Only n=1 is supported/, "n"],
    ["bad role", chatBody({ messages: [{ role: "robot", content: "x" }] }), /messages\[0\]\.role must be one of/, "messages[0].role"],
    [
      "bad image url",
      chatBody({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "file:///etc/passwd" } }] }] }),
      /image_url\.url must be/,
      "messages[0].content[0].image_url.url",
    ],
    [
      "audio part",
      chatBody({ messages: [{ role: "user", content: [{ type: "input_audio", input_audio: {} }] }] }),
      /'input_audio' is not supported/,
      "messages[0].content[0].type",
    ],
    ["non-function tool", chatBody({ tools: [{ type: "web_search" }] }), /tools\[0\]\.type must be 'function'/, "tools[0].type"],
    [
      "tool_choice for an unknown function",
      chatBody({ tools: [{ type: "function", function: { name: "a" } }], tool_choice: { type: "function", function: { name: "b" } } }),
      /names the function 'b'/,
      "tool_choice",
    ],
    ["tool_choice required without tools", chatBody({ tool_choice: "required" }), /has no tools/, "tool_choice"],
    ["bad reasoning_effort", chatBody({ reasoning_effort: "extreme" }), /reasoning_effort must be one of none, minimal, low/, "reasoning_effort"],
    ["bad response_format", chatBody({ response_format: { type: "yaml" } }), /response_format\.type must be/, "response_format.type"],
    ["stream not boolean", chatBody({ stream: "yes" }), /stream must be a boolean/, "stream"],
    [
      "tool result whose call is missing",
      chatBody({
        messages: [
          { role: "user", content: "x" },
          { role: "tool", tool_call_id: "call_ghost", content: "42" },
        ],
      }),
      /tool result for tool_call_id 'call_ghost', but no earlier assistant message/,
      "messages[1].tool_call_id",
    ],
    [
      "tool call without a result",
      chatBody({
        messages: [
          { role: "user", content: "x" },
          { role: "assistant", tool_calls: [{ id: "call_open", type: "function", function: { name: "f", arguments: "{}" } }] },
          { role: "user", content: "and?" },
        ],
      }),
      /tool call 'call_open' in messages\[1\] has no result/,
      "messages[1].tool_calls",
    ],
  ];
  it.each(cases)("%s", async (_name, body, message, param) => {
    const before = proxy.codex.responsesCalls.length;
    await expectError(await post(body), 400, { message, param, type: "invalid_request_error" });
    expect(proxy.codex.responsesCalls.length).toBe(before);
  });

  it("a model outside the allowlist -> 400 listing the allowed models", async () => {
    const error = await expectError(await post(chatBody({ model: "gpt-4o" })), 400, { message: /The model 'gpt-4o' is not available/, code: "model_not_found", param: "model" });
    expect(error.message).toContain("gpt-5.6-sol, gpt-5.6-terra, gpt-5.6-luna, gpt-5.5, gpt-5.4, gpt-5.4-mini");
  });
});

describe("upstream failures before the first byte keep their real status", () => {
  it("401 with a login that cannot be refreshed -> 401 saying the login needs renewing", async () => {
    const [sample] = fixtureJson<{ status: number; body: unknown }[]>("error.401-auth.samples.json");
    const other = await startProxy({ authJson: { tokens: { access_token: accessToken(ACCOUNT_ID), account_id: ACCOUNT_ID } }, env: { ALLOWED_MODELS: "gpt-5.5" } });
    try {
      other.codex.enqueue({ kind: "json", status: 401, body: sample?.body });
      const res = await fetch(`${other.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chatBody()) });
      const error = await expectError(res, 401, { message: /token_invalidated: Your authentication token has been invalidated.*codex login/, code: "upstream_unauthorized" });
      expect(error.message).toContain("renew auth.json");
      expect(error.message).not.toContain(other.dir); // the base name only: a client never learns the path
      expect(other.codex.responsesCalls.length).toBe(1); // nothing newer on disk and no refresh token: no blind retry
    } finally {
      await other.stop();
    }
  });

  it("401 while the refresh endpoint is unreachable -> 503 to retry later, never a loop", async () => {
    const [sample] = fixtureJson<{ status: number; body: unknown }[]>("error.401-auth.samples.json");
    proxy.codex.enqueue({ kind: "json", status: 401, body: sample?.body });
    const before = proxy.codex.responsesCalls.length;
    const res = await post(chatBody());
    expect(res.headers.get("retry-after")).toBe("10");
    await expectError(res, 503, { message: /could not be refreshed just now/, code: "login_refresh_unavailable" });
    expect(proxy.codex.responsesCalls.length).toBe(before + 1);
  });

  it("a JSON 403 (not a challenge page) -> 401 about the login", async () => {
    const other = await startProxy({ authJson: { tokens: { access_token: accessToken(ACCOUNT_ID), account_id: ACCOUNT_ID } }, env: { ALLOWED_MODELS: "gpt-5.5" } });
    try {
      other.codex.enqueue({ kind: "json", status: 403, body: { detail: "Forbidden for this account" } });
      const res = await fetch(`${other.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chatBody()) });
      await expectError(res, 401, { message: /rejected the ChatGPT login \(Forbidden for this account\)/, code: "upstream_unauthorized" });
    } finally {
      await other.stop();
    }
  });

  it("429 usage_limit_reached -> 429 with Retry-After and the reset time", async () => {
    proxy.codex.enqueue({ kind: "json", status: 429, body: fixtureJson("error.429-usage-limit-reached.body.json") });
    const res = await post(chatBody());
    expect(res.headers.get("retry-after")).toBe("13872");
    await expectError(res, 429, {
      message: /usage limit for the plus plan has been reached\. It resets at 2026-05-04T23:16:08Z \(in 3h 51m\)/,
      code: "usage_limit_reached",
      type: "rate_limit_error",
    });
  });

  it("usage_limit_reached as a 404 -> 429", async () => {
    proxy.codex.enqueue({ kind: "json", status: 404, body: fixtureJson("error.429-usage-limit-reached.body.json") });
    const res = await post(chatBody());
    expect(res.headers.get("retry-after")).toBe("13872");
    await expectError(res, 429, { message: /usage limit/, code: "usage_limit_reached" });
  });

  it("usage_limit_reached as an in-stream error event before any output -> 429", async () => {
    const frame = fixtureJson<{ error: Record<string, unknown> }>("error.429-usage-limit-reached.ws-frame.json");
    proxy.codex.enqueue({ kind: "sse", events: [{ type: "response.created" }, { type: "error", error: { ...frame.error, resets_in_seconds: undefined } }] });
    const res = await post(chatBody({ stream: true }));
    expect(res.headers.get("retry-after")).toBe("13872"); // from resets_at and the pinned clock
    await expectError(res, 429, { message: /usage limit/, code: "usage_limit_reached" });
  });

  it("400 {detail} -> 400 carrying the text (unsupported model)", async () => {
    const samples = fixtureJson<{ status: number; body?: { detail: string } }[]>("error.4xx-request-validation.samples.json");
    const unsupported = samples.find((s) => s.body?.detail.includes("not supported"));
    proxy.codex.enqueue({ kind: "json", status: 400, body: unsupported?.body });
    await expectError(await post(chatBody()), 400, {
      message: /The 'gpt-5.3-codex' model is not supported when using Codex with a ChatGPT account\./,
      type: "invalid_request_error",
    });
  });

  it("response.failed before output -> mapped status (context length -> 400)", async () => {
    proxy.codex.enqueue({ kind: "sse", events: sseFixtureEvents("sse.response-failed.context-length-exceeded.sse") });
    await expectError(await post(chatBody({ stream: true })), 400, { message: /exceeds the context window/, code: "context_length_exceeded" });
  });

  it("error event then response.failed -> one error, mapped", async () => {
    proxy.codex.enqueue({ kind: "sse", events: sseFixtureEvents("sse.synthetic.error-event-then-response-failed.sse") });
    await expectError(await post(chatBody()), 400, { message: /exceeds the context window/, code: "context_length_exceeded" });
  });

  it("rate_limit_exceeded in-stream -> 429 with Retry-After from the message", async () => {
    proxy.codex.enqueue({ kind: "sse", events: sseFixtureEvents("sse.response-failed.rate-limit-exceeded.sse") });
    const res = await post(chatBody());
    expect(res.headers.get("retry-after")).toBe("12");
    await expectError(res, 429, { message: /try again in 11\.054s/, code: "rate_limit_exceeded" });
  });

  it("insufficient_quota -> 429", async () => {
    proxy.codex.enqueue({ kind: "sse", events: sseFixtureEvents("sse.response-failed.insufficient-quota.sse") });
    await expectError(await post(chatBody()), 429, { message: /no quota left/, code: "insufficient_quota" });
  });

  it("5xx -> 502", async () => {
    proxy.codex.enqueue({ kind: "json", status: 500, body: { detail: "boom" } });
    await expectError(await post(chatBody()), 502, { message: /answered HTTP 500: boom/, code: "upstream_unavailable" });
  });

  it("a Cloudflare challenge page -> 502 naming the block, never the HTML", async () => {
    proxy.codex.enqueue({ kind: "text", status: 403, body: "<!DOCTYPE html><title>Attention Required! | Cloudflare</title>", headers: { "cf-mitigated": "challenge" } });
    const error = await expectError(await post(chatBody()), 502, { message: /blocked this request with a challenge page.*UPSTREAM_PROXY_URL/, code: "upstream_blocked" });
    expect(error.message).not.toContain("<");
  });

  it("a connection that closes before any event -> 502", async () => {
    proxy.codex.enqueue({ kind: "sse", events: [] });
    await expectError(await post(chatBody({ stream: true })), 502, { message: /closed the stream before the response was complete/, code: "upstream_stream_truncated" });
  });

  it("an unreachable backend -> 502 naming the host", async () => {
    const other = await startProxy({ env: { CODEX_BASE_URL: "http://127.0.0.1:9/backend-api/codex", ALLOWED_MODELS: "gpt-5.5" } });
    try {
      const res = await fetch(`${other.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chatBody()) });
      await expectError(res, 502, { message: /Cannot reach the Codex backend at 127\.0\.0\.1:9/, code: "upstream_unreachable" });
    } finally {
      await other.stop();
    }
  });
});

describe("an upstream that goes silent", () => {
  it("before the first meaningful event -> 504; after it -> an in-band error", async () => {
    const other = await startProxy({ env: { ALLOWED_MODELS: "gpt-5.5" }, limits: { idleTimeoutMs: 300, keepAliveMs: 60_000 } });
    try {
      const text = recorded("recorded.github-copilot-id-rotation.1.jsonl");
      other.codex.enqueue({ kind: "sse", events: text.slice(0, 1), hang: true });
      const early = await fetch(`${other.baseURL}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(chatBody({ stream: true })),
      });
      await expectError(early, 504, { message: /sent nothing for 0 s/, code: "upstream_idle_timeout" });

      other.codex.enqueue({ kind: "sse", events: text.slice(0, 12), hang: true });
      const late = await fetch(`${other.baseURL}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(chatBody({ stream: true })),
      });
      expect(late.status).toBe(200);
      const frames = await readSse(late);
      expect(frames).not.toContain("[DONE]");
      expect((frames.at(-1) as { error: { code: string } }).error.code).toBe("upstream_idle_timeout");
      await expect.poll(() => other.codex.abortedResponses).toBe(2); // both hanging upstream calls were closed
    } finally {
      await other.stop();
    }
  });
});

describe("failures after streaming began are in-band, never [DONE]", () => {
  const text = recorded("recorded.github-copilot-id-rotation.1.jsonl");

  it.each([
    ["response.failed", [...text.slice(0, 15), ...sseFixtureEvents("sse.response-failed.context-length-exceeded.sse")], /context window/],
    ["error event", [...text.slice(0, 15), { type: "error", code: "server_error", message: "An error occurred" }], /An error occurred/],
    ["connection closed before a terminal event", text.slice(0, 15), /closed the stream before the response was complete/],
  ] as const)("%s", async (_name, events, message) => {
    proxy.codex.enqueue({ kind: "sse", events });
    const res = await post(chatBody({ stream: true }));
    expect(res.status).toBe(200);
    const frames = await readSse(res);
    expect(frames).not.toContain("[DONE]");
    const last = frames.at(-1) as { error?: { message: string } };
    expect(last.error?.message).toMatch(message);
    expect(frames.some((f) => (f as { choices?: { finish_reason: unknown }[] }).choices?.some((c) => c.finish_reason))).toBe(false);
  });

  it("a stream cut mid-event (at a byte) is reported the same way", async () => {
    proxy.codex.enqueue({ kind: "sse", events: text, cutAtByte: 9000 });
    const frames = await readSse(await post(chatBody({ stream: true })));
    expect(frames).not.toContain("[DONE]");
    expect((frames.at(-1) as { error?: { code: string } }).error?.code).toBe("upstream_stream_truncated");
  });

  it("non-stream: a failure after output began is an HTTP error, not a partial completion", async () => {
    proxy.codex.enqueue({ kind: "sse", events: text.slice(0, 20) });
    await expectError(await post(chatBody()), 502, { message: /truncated/, code: "upstream_stream_truncated" });
  });
});

describe("one table for upstream failures: the same condition reads the same however it arrived", () => {
  const failedEvents = (code: string, message: string) => {
    const turn = recorded("recorded.openai-phase.1.jsonl").slice(0, 2);
    return [...turn, { type: "response.failed", response: { id: "resp_x", status: "failed", output: [], error: { code, message } } } as never];
  };
  it.each([
    ["rate_limit_exceeded", 429, "Rate limit reached for requests. Please try again in 7s."],
    ["server_is_overloaded", 503, "The server is overloaded."],
    ["context_length_exceeded", 400, "Your input exceeds the context window of this model."],
  ])("%s as an HTTP %i and as a response.failed event: one status, code, message and Retry-After", async (code, status, message) => {
    const reply = { kind: "json" as const, status, body: { error: { code, message, type: "invalid_request_error" } } };
    proxy.codex.enqueue(reply, ...(status === 503 ? [reply] : [])); // a 503 is tried once more before the client hears of it
    const viaStatus = await post(chatBody());
    proxy.codex.enqueue({ kind: "sse", events: failedEvents(code, message) });
    const viaEvent = await post(chatBody());
    expect(viaStatus.status).toBe(viaEvent.status);
    expect(viaStatus.headers.get("retry-after")).toBe(viaEvent.headers.get("retry-after"));
    const [a, b] = [(await viaStatus.json()) as { error: unknown }, (await viaEvent.json()) as { error: unknown }];
    expect(a.error).toEqual(b.error);
    expect((a.error as { param: unknown }).param).toBeNull();
  });
});
