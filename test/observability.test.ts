/**
 * What the operator and the client can see: every 500 logged with its request id and stack, no
 * secret in any message or log line, the plan's usage windows passed on and shown by /health, and
 * one log line per request with the facts the Lambda metrics are made of; the local server's lines
 * batched and never lost at exit.
 */
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { requestRefresh } from "../lambda/auth/oauth.js";
import { scrub, type LogFields } from "../lambda/log.js";
import { fixtureJson, recorded } from "./support/fixtures.js";
import { perTest } from "./support/per-test.js";
import { chatBody, readSse, type ProxyOptions, type RunningProxy } from "./support/proxy.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const TEXT = recorded("recorded.openai-phase.1.jsonl");
const each = perTest({ env: { ALLOWED_MODELS: "gpt-5.5" } });
const start = (options: ProxyOptions = {}) => each.proxy(options);
const ask = (p: RunningProxy, body: Record<string, unknown> = {}) =>
  fetch(`${p.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chatBody(body)) });

/** A one-route JSON server on loopback. */
async function serve(status: number, body: unknown): Promise<string> {
  return `${await each.listen(createServer((_, res) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body))))}/oauth/token`;
}

describe("an upstream shape the converter cannot read is a 502, logged with its request id and stack", () => {
  it("a failure inside the stream converter (a malformed item) before the first byte: 502 upstream_malformed_event, never a 500", async () => {
    const logLines: string[] = [];
    const p = await start({ logLines });
    const broken = { type: "response.output_item.done", output_index: 0, item: { type: "message", content: "not an array" } };
    p.codex.enqueue({ kind: "sse", events: [...TEXT.slice(0, 2), broken as never] });
    const res = await ask(p, { stream: true });
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: { code: "upstream_malformed_event" } });
    const requestId = res.headers.get("x-request-id");
    const line = logLines.map((l) => JSON.parse(l) as Record<string, string>).find((l) => l.msg === "unexpected failure");
    expect(line?.request_id).toBe(requestId);
    expect(line?.error).toMatch(/TypeError[\s\S]*\n\s+at /);
  });

  it("the same failure after the first byte: in-band error, logged", async () => {
    const logLines: string[] = [];
    const p = await start({ logLines });
    const broken = { type: "response.output_item.done", output_index: 9, item: { type: "message", content: 42 } };
    p.codex.enqueue({ kind: "sse", events: [...TEXT.slice(0, 15), broken as never] });
    const res = await ask(p, { stream: true });
    const frames = await readSse(res);
    expect((frames.at(-1) as { error: { code: string } }).error.code).toBe("upstream_malformed_event");
    expect(frames).not.toContain("[DONE]");
    expect(logLines.some((l) => l.includes('"msg":"unexpected failure"') && l.includes(res.headers.get("x-request-id") as string))).toBe(true);
  });
});

describe("nothing secret reaches a client or a log", () => {
  const refreshToken = "rt.1.AAAUsecretrefreshtoken0123456789";
  const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMzQ1Njc4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";

  it("an OAuth error that quotes the refresh token: scrubbed from the error itself", async () => {
    const url = await serve(400, { error: { message: `refresh_token ${refreshToken} is malformed`, code: "invalid_request" } });
    const error = await requestRefresh(refreshToken, { url, fetch: globalThis.fetch }).catch((e: Error) => e);
    expect(String((error as Error).message)).not.toContain(refreshToken);
    expect(String((error as Error).message)).toContain("[redacted]");
  });

  it("... and from the client's 503 and the proxy's log", async () => {
    const logLines: string[] = [];
    const { accessToken } = await import("./support/fixtures.js");
    const url = await serve(500, { error: { message: `upstream echoed ${refreshToken} and Bearer ${jwt}`, code: null } });
    const p = await start({
      logLines,
      env: { CODEX_REFRESH_URL: url },
      authJson: { tokens: { access_token: accessToken("acc-test-1234", 1), refresh_token: refreshToken, account_id: "acc-test-1234" } },
    });
    const res = await ask(p);
    const text = await res.text();
    expect(res.status).toBe(503);
    expect(text).not.toContain(refreshToken);
    expect(text).not.toContain(jwt);
    expect(logLines.join("\n")).not.toContain(refreshToken);
    expect(logLines.join("\n")).not.toContain(jwt);
  });

  it("the scrubber redacts real tokens, not the proxy's own advice", () => {
    expect(scrub("Send it as 'Authorization: Bearer <key>'.")).toBe("Send it as 'Authorization: Bearer <key>'.");
    expect(scrub("Authorization: Bearer sk-live-0123456789 and Bearer abc<key>")).toBe("Authorization: [redacted] and [redacted]");
  });

  it("upstream error text with a JWT or a bearer token is scrubbed before the client sees it", async () => {
    const p = await start();
    p.codex.enqueue({ kind: "json", status: 400, body: { detail: `Invalid header Authorization: Bearer ${jwt}; id token ${jwt}` } });
    const text = await (await ask(p)).text();
    expect(text).not.toContain(jwt);
    expect(text).toContain("[redacted]");
  });
});

describe("the plan's usage windows", () => {
  const headers = {
    "x-codex-primary-used-percent": "91.5",
    "x-codex-primary-window-minutes": "300",
    "x-codex-primary-reset-after-seconds": "1200",
    "x-codex-secondary-used-percent": "40",
    "x-codex-secondary-window-minutes": "10080",
    "x-codex-plan-type": "plus",
    "x-codex-credits-has-credits": "False",
  };

  it("are passed on to the client, shown by /health and written in the request's log line", async () => {
    const logLines: string[] = [];
    const p = await start({ logLines });
    expect(((await (await fetch(`${p.url}/health`)).json()) as { usage_limits: unknown }).usage_limits).toBeNull();
    p.codex.enqueue({ kind: "sse", events: TEXT, headers: { ...headers, "x-codex-account-note": "never passed" } });
    const res = await ask(p, { stream: true });
    await readSse(res);
    for (const [name, value] of Object.entries(headers)) expect(res.headers.get(name)).toBe(value);
    expect(res.headers.get("x-codex-account-note")).toBeNull();
    const health = (await (await fetch(`${p.url}/health`)).json()) as { usage_limits: Record<string, unknown> };
    expect(health.usage_limits).toMatchObject({
      primary: { used_percent: 91.5, window_minutes: 300, reset_after_seconds: 1200 },
      secondary: { used_percent: 40, window_minutes: 10080 },
      plan_type: "plus",
    });
    await expect.poll(() => logLines.find((l) => l.includes('"msg":"stream ended"'))).toContain('"primary_used_percent":91.5');
  });

  it("arrive on a 429 too, with the usage-limit error", async () => {
    const p = await start();
    p.codex.enqueue({ kind: "json", status: 429, body: fixtureJson("error.429-usage-limit-reached.body.json"), headers: { "x-codex-primary-used-percent": "100" } });
    const res = await ask(p);
    expect(res.status).toBe(429);
    expect(res.headers.get("x-codex-primary-used-percent")).toBe("100");
  });
});

describe("one record per request with the facts metrics are made of", () => {
  it("a streamed answer: dialect, model, status, time to first byte, duration and tokens", async () => {
    const records: LogFields[] = [];
    const p = await start({ onRequestEnd: (f) => records.push(f) });
    p.codex.enqueue({ kind: "sse", events: TEXT });
    await readSse(await ask(p, { stream: true }));
    await expect.poll(() => records.length).toBe(1);
    const usage = TEXT.at(-1)?.response?.usage;
    expect(records[0]).toMatchObject({
      dialect: "chat",
      model: "gpt-5.5",
      status: 200,
      outcome: "done",
      input_tokens: usage?.input_tokens,
      output_tokens: usage?.output_tokens,
      cached_tokens: usage?.input_tokens_details?.cached_tokens ?? undefined,
      reasoning_tokens: usage?.output_tokens_details?.reasoning_tokens ?? undefined,
    });
    expect(records[0]?.ttfb_ms).toBeGreaterThanOrEqual(0);
    expect(records[0]?.ms).toBeGreaterThanOrEqual(records[0]?.ttfb_ms as number);
  });

  it("a failure: its status and code", async () => {
    const records: LogFields[] = [];
    const p = await start({ onRequestEnd: (f) => records.push(f) });
    p.codex.enqueue({ kind: "json", status: 429, body: fixtureJson("error.429-usage-limit-reached.body.json") });
    await ask(p);
    expect(records).toMatchObject([{ status: 429, error_code: "usage_limit_reached" }]);
  });

  it("an in-band failure: status 200 on the wire, its real status in the record", async () => {
    const records: LogFields[] = [];
    const { sseFixtureEvents } = await import("./support/fixtures.js");
    const p = await start({ onRequestEnd: (f) => records.push(f) });
    p.codex.enqueue({ kind: "sse", events: [...TEXT.slice(0, 15), ...sseFixtureEvents("sse.response-failed.rate-limit-exceeded.sse")] });
    await readSse(await ask(p, { stream: true }));
    await expect.poll(() => records.length).toBe(1);
    expect(records[0]).toMatchObject({ status: 200, outcome: "error", error_code: "rate_limit_exceeded", error_status: 429 });
  });
});

describe("the local server's log lines", () => {
  /** A process that logs through batchedStderr, then does `then`; what it wrote, and in how many writes. */
  function logThrough(then: string): { stderr: string; writes: number; ms: number } {
    const code = `
      let writes = 0;
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = (chunk, ...rest) => { writes++; return write(chunk, ...rest); };
      const { batchedStderr, createLogger } = await import("./lambda/log.ts");
      const log = createLogger("info", batchedStderr(50).write);
      process.on("exit", () => process.stdout.write(String(writes))); // after the writer's own exit handler
      for (let i = 0; i < 3; i++) log.info("request", { i });
      ${then}`;
    const started = Date.now();
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
    return { stderr: child.stderr, writes: Number(child.stdout), ms: Date.now() - started };
  }
  const lines = (stderr: string) =>
    stderr
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { i: number }).i);

  it("go out together, a moment later, in order", () => {
    const out = logThrough(`setTimeout(() => log.info("request", { i: 3 }), 200);`);
    expect(lines(out.stderr)).toEqual([0, 1, 2, 3]);
    expect(out.writes).toBe(2);
  });

  it("none is lost when the process exits at once, and a waiting line does not hold it open", () => {
    expect(lines(logThrough("process.exit(0);").stderr)).toEqual([0, 1, 2]);
    const idle = logThrough("");
    expect(lines(idle.stderr)).toEqual([0, 1, 2]);
    expect(idle.writes).toBe(1);
  });
});
