/**
 * What a broken or hostile backend can do to a request, and what the client gets instead: redirects
 * refused, one retry before the first byte, statuses and Retry-After as the README promises,
 * timeouts that count events, caps on what the proxy holds, a bounded wait for a connection.
 */
import { createServer } from "node:http";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { fixtureJson, longTextTurn, recorded, sseFixtureEvents, toSse } from "./support/fixtures.js";
import { perTest } from "./support/per-test.js";
import { chatBody, readSse, type ProxyOptions, type RunningProxy } from "./support/proxy.js";

const TEXT = recorded("recorded.openai-phase.1.jsonl");
const JSON_POST = { method: "POST", headers: { "content-type": "application/json" } } as const;

const each = perTest({ env: { ALLOWED_MODELS: "gpt-5.5" }, limits: { retryDelayMs: 10 } });
const start = (options: ProxyOptions = {}) => each.proxy(options);

const ask = (p: RunningProxy, body: Record<string, unknown> = {}) => fetch(`${p.baseURL}/chat/completions`, { ...JSON_POST, body: JSON.stringify(chatBody(body)) });

async function errorOf(res: Response, status: number): Promise<{ message: string; code: string; type: string }> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { message: string; code: string; type: string } };
  return body.error;
}

/** A loopback server that only counts what reaches it: a redirect must never lead here. */
async function bystander(): Promise<{ url: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
    res.end("{}");
  });
  return { url: await each.listen(server), hits };
}

describe("redirects are never followed", () => {
  it("a 3xx from the backend is a 502 that says so; the conversation goes nowhere else", async () => {
    const p = await start();
    const other = await bystander();
    p.codex.enqueue({ kind: "json", status: 307, body: {}, headers: { location: `${other.url}/steal` } });
    const error = await errorOf(await ask(p), 502);
    expect(error.code).toBe("upstream_redirect");
    expect(error.message).toMatch(/redirect \(HTTP 307 to 127\.0\.0\.1:\d+\).*does not follow.*CODEX_BASE_URL/);
    expect(other.hits).toEqual([]);
    expect(p.codex.responsesCalls.length).toBe(1);
  });

  it("a 3xx from the token endpoint never carries the refresh token away", async () => {
    const other = await bystander();
    const oauth = await each.listen(createServer((_, res) => res.writeHead(302, { location: `${other.url}/oauth/token` }).end()));
    const p = await start({ env: { CODEX_REFRESH_URL: `${oauth}/oauth/token` } });
    p.codex.enqueue({ kind: "json", status: 401, body: fixtureJson<{ body: unknown }[]>("error.401-auth.samples.json")[0]?.body });
    const error = await errorOf(await ask(p), 503);
    expect(error.code).toBe("login_refresh_unavailable");
    expect(error.message).toMatch(/redirect \(HTTP 302\), which is not followed; check CODEX_REFRESH_URL/);
    expect(other.hits).toEqual([]);
  });
});

describe("one retry before the first byte", () => {
  it.each([502, 503, 504])("a %i is retried once and the client sees a normal answer", async (status) => {
    const p = await start();
    p.codex.enqueue({ kind: "json", status, body: { detail: "temporarily unavailable" } }, { kind: "sse", events: TEXT });
    const res = await ask(p, { stream: true });
    expect(res.status).toBe(200);
    expect((await readSse(res)).at(-1)).toBe("[DONE]");
    expect(p.codex.responsesCalls.length).toBe(2);
  });

  it("a dropped connection is retried once", async () => {
    const p = await start();
    p.codex.enqueue({ kind: "reset" }, { kind: "sse", events: TEXT });
    expect((await ask(p)).status).toBe(200);
    expect(p.codex.responsesCalls.length).toBe(2);
  });

  it("only once: two failures in a row reach the client", async () => {
    const p = await start();
    p.codex.always(() => ({ kind: "json", status: 502, body: { detail: "bad gateway" } }));
    const error = await errorOf(await ask(p), 502);
    expect(error.code).toBe("upstream_unavailable");
    expect(p.codex.responsesCalls.length).toBe(2);
  });

  it.each([
    [400, { detail: "Unsupported parameter: foo" }],
    [429, { error: { type: "usage_limit_reached", message: "The usage limit has been reached", resets_in_seconds: 60 } }],
    [500, { detail: "internal" }],
  ])("a %i is not retried", async (status, body) => {
    const p = await start();
    p.codex.always(() => ({ kind: "json", status, body }));
    await ask(p);
    expect(p.codex.responsesCalls.length).toBe(1);
  });

  it("never after the first byte: a stream cut mid-answer is reported in-band, not replayed", async () => {
    const p = await start();
    p.codex.enqueue({ kind: "sse", events: TEXT, cutAfterEvents: 12 });
    const frames = await readSse(await ask(p, { stream: true }));
    expect((frames.at(-1) as { error: { code: string } }).error.code).toBe("upstream_stream_truncated");
    expect(p.codex.responsesCalls.length).toBe(1);
  });
});

describe("statuses and Retry-After", () => {
  it("a 503 'overloaded' is 503 upstream_overloaded with the backend's Retry-After", async () => {
    const p = await start();
    p.codex.always(() => ({
      kind: "json",
      status: 503,
      body: { error: { message: "Our servers are currently overloaded.", type: "service_unavailable_error" } },
      headers: { "retry-after": "7" },
    }));
    const res = await ask(p);
    const error = await errorOf(res, 503);
    expect(error.code).toBe("upstream_overloaded");
    expect(error.message).toContain("overloaded");
    expect(res.headers.get("retry-after")).toBe("7");
  });

  it("a 503 without Retry-After still tells the client when to come back", async () => {
    const p = await start();
    p.codex.always(() => ({ kind: "json", status: 503, body: { detail: "overloaded" } }));
    const res = await ask(p);
    expect((await errorOf(res, 503)).code).toBe("upstream_overloaded");
    expect(res.headers.get("retry-after")).toBe("5");
  });

  it("a 429 that is not a usage limit is rate_limit_exceeded and passes Retry-After on (seconds)", async () => {
    const p = await start();
    p.codex.enqueue({ kind: "json", status: 429, body: { error: { message: "Too many requests", type: "rate_limit_error" } }, headers: { "retry-after": "30" } });
    const res = await ask(p);
    expect((await errorOf(res, 429)).code).toBe("rate_limit_exceeded");
    expect(res.headers.get("retry-after")).toBe("30");
  });

  it("a 429 with an HTTP-date Retry-After becomes seconds", async () => {
    const p = await start();
    const at = new Date(Date.now() + 120_000).toUTCString();
    p.codex.enqueue({ kind: "json", status: 429, body: {}, headers: { "retry-after": at } });
    const res = await ask(p);
    expect((await errorOf(res, 429)).code).toBe("rate_limit_exceeded");
    const seconds = Number(res.headers.get("retry-after"));
    expect(seconds).toBeGreaterThan(100);
    expect(seconds).toBeLessThanOrEqual(121);
  });

  it.each([
    ["resets_at far in the future", { resets_at: 1e300 }],
    ["resets_at not finite in JSON terms (huge)", { resets_at: 8.64e15 }],
    ["resets_in_seconds of 50,000 years", { resets_in_seconds: 1.6e12 }],
    ["negative resets_in_seconds", { resets_in_seconds: -5 }],
  ])("a usage limit with %s never crashes and never says 'come back in 50,000 years'", async (_, extra) => {
    const p = await start();
    p.codex.enqueue({ kind: "json", status: 429, body: { error: { type: "usage_limit_reached", message: "The usage limit has been reached", plan_type: "plus", ...extra } } });
    const res = await ask(p);
    const error = await errorOf(res, 429);
    expect(error.code).toBe("usage_limit_reached");
    const retryAfter = res.headers.get("retry-after");
    if (retryAfter !== null) expect(Number(retryAfter)).toBeLessThanOrEqual(31 * 24 * 3600);
  });

  it("a usage limit with resets_at in milliseconds is read as the same instant", async () => {
    const p = await start();
    const resetsAtMs = Date.now() + 3_600_000;
    p.codex.enqueue({ kind: "json", status: 429, body: { error: { type: "usage_limit_reached", message: "limit", resets_at: resetsAtMs } } });
    const res = await ask(p);
    await errorOf(res, 429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(3500);
    expect(Number(res.headers.get("retry-after"))).toBeLessThanOrEqual(3601);
  });
});

describe("timeouts count events, not bytes", () => {
  it("a backend that drips comment bytes and never an event: 504 upstream_idle_timeout", async () => {
    const p = await start({ limits: { idleTimeoutMs: 400, keepAliveMs: 60_000 } });
    p.codex.enqueue({ kind: "raw", pieces: [": still here\n\n"], delayMs: 50, repeatLast: true });
    const started = Date.now();
    const error = await errorOf(await ask(p, { stream: true }), 504);
    expect(error.code).toBe("upstream_idle_timeout");
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("the same drip after the answer began ends the stream with an in-band timeout, never [DONE]", async () => {
    const p = await start({ limits: { idleTimeoutMs: 400, keepAliveMs: 60_000 } });
    const head = toSse(TEXT.slice(0, 12));
    p.codex.enqueue({ kind: "raw", pieces: [head, ": still here\n\n"], delayMs: 50, repeatLast: true });
    const frames = await readSse(await ask(p, { stream: true }));
    expect(frames).not.toContain("[DONE]");
    expect((frames.at(-1) as { error: { code: string } }).error.code).toBe("upstream_idle_timeout");
  });

  it("a backend that never sends headers: 504 upstream_idle_timeout, not a 502", async () => {
    const p = await start({ limits: { idleTimeoutMs: 400 } });
    p.codex.always(() => ({ kind: "silent" }));
    const error = await errorOf(await ask(p), 504);
    expect(error.code).toBe("upstream_idle_timeout");
    expect(error.message).toContain("no response headers");
  });

  it("a slow client is not upstream silence: a paused reader still gets the whole answer", async () => {
    const p = await start({ limits: { idleTimeoutMs: 300 } });
    p.codex.enqueue({ kind: "sse", events: longTextTurn(400) });
    const res = await ask(p, { stream: true });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await new Promise((r) => setTimeout(r, 900)); // three idle periods while the proxy waits on us
    let text = "";
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
  });
});

describe("bounds on what a backend can make the proxy hold", () => {
  it("an event that never ends: 502 upstream_event_too_large", async () => {
    const p = await start({ limits: { maxEventBytes: 64 * 1024 } });
    p.codex.enqueue({ kind: "raw", pieces: [`data: {"type":"response.output_text.delta","delta":"`, "x".repeat(16 * 1024)], delayMs: 1, repeatLast: true });
    const error = await errorOf(await ask(p, { stream: true }), 502);
    expect(error.code).toBe("upstream_event_too_large");
  });

  it("an error body over 1 MiB: 502, not read into memory", async () => {
    const p = await start();
    p.codex.enqueue({ kind: "text", status: 400, body: "x".repeat(3 * 1024 * 1024) });
    const error = await errorOf(await ask(p), 502);
    expect(error.code).toBe("upstream_response_too_large");
  });

  it("a non-streamed answer over the cap: 502 answer_too_large", async () => {
    const p = await start({ limits: { maxAnswerBytes: 16 * 1024 } });
    p.codex.enqueue({ kind: "sse", events: longTextTurn(200) });
    const error = await errorOf(await ask(p), 502);
    expect(error.code).toBe("answer_too_large");
    expect(error.message).toContain("16 KiB");
  });
});

describe("the upstream connection cap never holds a request hostage", () => {
  it("UPSTREAM_MAX_CONNECTIONS=1: a second request waits a bounded time, then 503 upstream_busy; the slot frees after", async () => {
    const p = await start({ env: { UPSTREAM_MAX_CONNECTIONS: "1" }, limits: { connectionWaitMs: 300 } });
    p.codex.enqueue({ kind: "sse", events: TEXT, delayMs: 60, chunkSize: 400 }, { kind: "sse", events: TEXT });
    const first = await ask(p, { stream: true });
    expect(first.status).toBe(200);
    const second = await ask(p);
    const error = await errorOf(second, 503);
    expect(error.code).toBe("upstream_busy");
    expect(second.headers.get("retry-after")).toBe("5");
    expect((await readSse(first)).at(-1)).toBe("[DONE]");
    expect((await ask(p)).status).toBe(200);
  });

  it("a non-streamed answer gives its connection back, in every dialect and when it ends in an upstream failure", async () => {
    const p = await start({ env: { UPSTREAM_MAX_CONNECTIONS: "1" }, limits: { connectionWaitMs: 300 } });
    const post = (path: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
      fetch(`${p.baseURL}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
    const asks = [
      () => ask(p),
      () => post("/responses", { model: "gpt-5.5", input: "hi" }),
      () => post("/messages", { model: "gpt-5.5", max_tokens: 64, messages: [{ role: "user", content: "hi" }] }, { "anthropic-version": "2023-06-01" }),
    ];
    // Twice round, one at a time: with the slot kept, the second answer would be a 503 upstream_busy.
    for (const next of [...asks, ...asks]) {
      p.codex.enqueue({ kind: "sse", events: TEXT });
      const res = await next();
      expect(res.status, await res.clone().text()).toBe(200);
      await res.text();
    }
    p.codex.enqueue({ kind: "sse", events: [...TEXT.slice(0, 6), ...sseFixtureEvents("sse.response-failed.rate-limit-exceeded.sse")] }, { kind: "sse", events: TEXT });
    expect((await ask(p)).status).toBe(429);
    expect((await ask(p)).status).toBe(200);
    expect(p.codex.responsesCalls.length).toBe(8);
  });

  it("without a cap, 100 concurrent streams all start at once", async () => {
    const p = await start();
    p.codex.always(() => ({ kind: "sse", events: TEXT, firstByteDelayMs: 200 }));
    const client = new OpenAI({ baseURL: p.baseURL, apiKey: "unused" });
    const answers = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const stream = await client.chat.completions.create({ model: "gpt-5.5", messages: [{ role: "user", content: "hi" }], stream: true });
        let text = "";
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
        return text;
      }),
    );
    expect(new Set(answers).size).toBe(1);
    expect(answers[0]?.length).toBeGreaterThan(0);
    expect(p.codex.responsesCalls.length).toBe(100);
  });
});

describe("bad input is a 400, never a 5xx", () => {
  it("a prompt_cache_key that cannot be a header value is sent as its digest", async () => {
    const p = await start();
    p.codex.enqueue({ kind: "sse", events: TEXT });
    const res = await ask(p, { prompt_cache_key: "κλειδί\nwith newline" });
    expect(res.status).toBe(200);
    const call = p.codex.responsesCalls[0];
    expect(call?.headers.session_id).toMatch(/^[0-9a-f]{64}$/);
    expect((call?.body as { prompt_cache_key: string }).prompt_cache_key).toBe(call?.headers.session_id);
  });

  it("an ASCII prompt_cache_key passes unchanged", async () => {
    const p = await start();
    p.codex.enqueue({ kind: "sse", events: TEXT });
    const res = await ask(p, { prompt_cache_key: "conv-123" });
    expect(res.status).toBe(200);
    expect(p.codex.responsesCalls[0]?.headers.session_id).toBe("conv-123");
  });
});
