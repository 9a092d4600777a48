/**
 * The deployable bundle (what `cdk synth` wrote) under the real Lambda runtime interface client,
 * behind a loopback Runtime API that also plays the Function URL, with Secrets Manager and the Codex
 * backend faked on loopback.
 */
import OpenAI from "openai";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LambdaEmulator } from "../bin/lambda-emulator.js";
import { FakeCodex } from "./support/fake-codex.js";
import { FakeSecretsManager } from "./support/fake-secrets-manager.js";
import { accessToken, fixtureJson, longTextTurn, recorded, sseFixtureEvents } from "./support/fixtures.js";
import { lambdaEnv, lambdaRuntimes, ricInstalled, startEmulator, synthBundle } from "./support/lambda.js";
import { ACCOUNT_ID, authJson, chatBody, readSse, readSseSlowly, streamedContent } from "./support/proxy.js";

const KEY = "sk-lambda-test-key-000000000001";
const available = ricInstalled();

const runtimes = lambdaRuntimes();

/** The function's "ready" log record (its output reaches us by pipe, a little after it polls for an event). */
async function readyLine(logs: string[]): Promise<Record<string, unknown>> {
  const find = () => logs.find((l) => l.includes('"msg":"ready"'));
  await expect.poll(find, { timeout: 5_000 }).toBeDefined();
  const line = find() as string;
  return JSON.parse(line.slice(line.indexOf("{"))) as Record<string, unknown>;
}

it("aws-lambda-ric is built (CI installs autoconf, automake and libtool for it), and Node 24 is there to run it on", () => {
  if (process.env.CI) {
    expect(available).toBe(true);
    expect(runtimes.map((r) => r.name)).toContain("Node 24");
  }
});

describe.skipIf(!available).each(runtimes)("the Lambda bundle under the real runtime on $name", ({ nodePath }) => {
  let bundle: { outdir: string; bundleDir: string };
  let codex: FakeCodex;
  let sm: FakeSecretsManager;
  let lambda: LambdaEmulator;
  const logs: string[] = [];
  const TEXT = recorded("recorded.github-copilot-id-rotation.1.jsonl");

  const env = (extra: Record<string, string> = {}) => lambdaEnv(sm, codex, { LOG_LEVEL: "debug", NODE_OPTIONS: "--enable-source-maps", ...extra });
  const post = (base: string, body: unknown, key = KEY) =>
    fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });

  beforeAll(async () => {
    bundle = synthBundle();
    codex = await new FakeCodex().start();
    sm = await new FakeSecretsManager().start();
    sm.create("codex-tokens", JSON.stringify(authJson()));
    sm.create("proxy-keys", JSON.stringify({ keys: [KEY] }));
    lambda = await startEmulator({ bundleDir: bundle.bundleDir, env: env(), concurrency: 2, timeoutMs: 60_000, nodePath }, logs);
  }, 120_000);
  afterAll(async () => {
    await lambda?.stop();
    await codex?.stop();
    await sm?.stop();
    if (bundle) rmSync(bundle.outdir, { recursive: true, force: true });
  });

  it("streams an answer whose first chunk arrives before the upstream has finished", async () => {
    codex.enqueue({ kind: "sse", events: TEXT, chunkSize: 600, delayMs: 40 });
    const client = new OpenAI({ baseURL: `${lambda.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const started = Date.now();
    const stream = await client.chat.completions.create({ model: "gpt-5.5", messages: [{ role: "user", content: "r?" }], stream: true, stream_options: { include_usage: true } });
    let firstAt = 0;
    let text = "";
    for await (const chunk of stream) {
      firstAt ||= Date.now() - started;
      text += chunk.choices[0]?.delta.content ?? "";
    }
    const totalAt = Date.now() - started;
    expect(text).toMatch(/^There are \*\*3\*\* letter/);
    expect(totalAt - firstAt).toBeGreaterThan(300);
    expect(lambda.failures).toEqual([]);
  });

  it("reads the login, the client keys and the model catalog during init, so the first request waits for none of them (not even a connection to the backend), and says so in a 'ready' line", async () => {
    const ownSm = await new FakeSecretsManager().start();
    const ownCodex = await new FakeCodex().start();
    const ownLogs: string[] = [];
    let cold: LambdaEmulator | undefined;
    try {
      ownSm.create("codex-tokens", JSON.stringify(authJson()));
      ownSm.create("proxy-keys", JSON.stringify({ keys: [KEY] }));
      const own = { ...env(), ...ownSm.env, CODEX_BASE_URL: ownCodex.url };
      cold = await startEmulator({ bundleDir: bundle.bundleDir, env: own, concurrency: 1, timeoutMs: 60_000, nodePath }, ownLogs);
      await cold.initDone;
      const secretReads = () => ownSm.calls.filter((c) => c.op === "GetSecretValue").map((c) => c.body.SecretId);
      const catalogReads = () => ownCodex.requests.filter((r) => r.path.startsWith("/backend-api/codex/models")).length;
      const connections = () => new Set(ownCodex.requests.map((r) => r.remotePort)).size;
      expect(secretReads().sort()).toEqual(["codex-tokens", "proxy-keys"]);
      expect(catalogReads()).toBe(1);
      expect(connections()).toBe(1);
      const ready = await readyLine(ownLogs);
      expect(ready).toMatchObject({ level: "info", warm_up: "done" });
      expect(ready.warm_up_ms).toEqual(expect.any(Number));
      expect(ready.process_ms as number).toBeGreaterThanOrEqual(ready.warm_up_ms as number);

      ownCodex.enqueue({ kind: "sse", events: TEXT });
      const res = await post(cold.url, chatBody({ stream: true }));
      expect(await res.text()).toContain("data: [DONE]");
      expect(secretReads()).toHaveLength(2);
      expect(catalogReads()).toBe(1);
      expect(ownCodex.responsesCalls).toHaveLength(1);
      // the catalog's connection, opened during init, carried the first answer
      expect(connections()).toBe(1);
    } finally {
      await cold?.stop();
      await ownCodex.stop();
      await ownSm.stop();
    }
  });

  it("says in its 'ready' line what it could not prepare during init", async () => {
    const ownSm = await new FakeSecretsManager().start();
    const ownLogs: string[] = [];
    let cold: LambdaEmulator | undefined;
    try {
      ownSm.create("codex-tokens", '{"placeholder":"run npm run tokens:upload"}'); // as the stack leaves it before the first upload
      ownSm.create("proxy-keys", JSON.stringify({ keys: [KEY] }));
      cold = await startEmulator({ bundleDir: bundle.bundleDir, env: { ...env(), ...ownSm.env }, concurrency: 1, timeoutMs: 60_000, nodePath }, ownLogs);
      await cold.initDone;
      expect(await readyLine(ownLogs)).toMatchObject({ warm_up: "incomplete", warm_up_failed: "login and model catalog" });
    } finally {
      await cold?.stop();
      await ownSm.stop();
    }
  });

  it("streams tool calls the SDK assembles", async () => {
    codex.enqueue({ kind: "sse", events: recorded("recorded.openai-client-tool-search.2.jsonl") });
    const client = new OpenAI({ baseURL: `${lambda.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const final = await client.chat.completions
      .stream({
        model: "gpt-5.5",
        messages: [{ role: "user", content: "weather" }],
        tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
      })
      .finalChatCompletion();
    expect(final.choices[0]?.message.tool_calls?.[0]?.function).toEqual({ name: "get_weather", arguments: '{"location":"San Francisco, CA","unit":"fahrenheit"}' });
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
  });

  it("answers non-stream requests, /v1/models, /health, and refuses a wrong key", async () => {
    codex.enqueue({ kind: "sse", events: TEXT });
    const res = await post(lambda.url, chatBody());
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content).toMatch(/strawberry/);
    const models = await fetch(`${lambda.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(((await models.json()) as { data: unknown[] }).data.length).toBeGreaterThan(0);
    expect(((await (await fetch(`${lambda.url}/health`)).json()) as { token_source: string }).token_source).toBe("secrets-manager");
    const denied = await post(lambda.url, chatBody(), "sk-wrong-key-000000000000");
    expect(denied.status).toBe(401);
    const preflight = await fetch(`${lambda.url}/v1/chat/completions`, { method: "OPTIONS", headers: { "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("keeps a slow reading client's long answer intact", async () => {
    codex.enqueue({ kind: "sse", events: longTextTurn(4000), chunkSize: 16_384 });
    const frames = await readSseSlowly(await post(lambda.url, chatBody({ stream: true })), 40, 25);
    expect(frames.at(-1)).toBe("[DONE]");
    const content = streamedContent(frames);
    for (const i of [0, 1234, 3999]) expect(content).toContain(`${i};`);
  });

  it("an upstream failure before the first byte keeps its status through the Function URL", async () => {
    codex.enqueue({ kind: "json", status: 429, body: fixtureJson("error.429-usage-limit-reached.body.json") });
    const res = await post(lambda.url, chatBody({ stream: true }));
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("usage_limit_reached");
  });

  it("an upstream failure after the first byte is in-band, without [DONE]", async () => {
    codex.enqueue({ kind: "sse", events: [...TEXT.slice(0, 20), ...sseFixtureEvents("sse.response-failed.context-length-exceeded.sse")] });
    const frames = await readSse(await post(lambda.url, chatBody({ stream: true })));
    expect(frames).not.toContain("[DONE]");
    expect((frames.at(-1) as { error: { code: string } }).error.code).toBe("context_length_exceeded");
    expect(lambda.failures).toEqual([]);
  });

  it("re-reads the tokens secret when the upstream rejects the cached token, then answers", async () => {
    const renewed = accessToken(ACCOUNT_ID, Math.floor(Date.now() / 1000) + 7200, { renewed: true });
    // warm the cache with the old token
    codex.enqueue({ kind: "sse", events: TEXT });
    await (await post(lambda.url, chatBody())).text();
    // a new login is uploaded; the function still caches the old one
    sm.putCurrent("codex-tokens", JSON.stringify(authJson(renewed)));
    const reads = sm.count("GetSecretValue");
    codex.enqueue(
      (req) =>
        req.headers.authorization === `Bearer ${renewed}`
          ? { kind: "sse", events: TEXT }
          : { kind: "json", status: 401, body: { error: { code: "token_expired", message: "expired" } } },
      (req) =>
        req.headers.authorization === `Bearer ${renewed}`
          ? { kind: "sse", events: TEXT }
          : { kind: "json", status: 401, body: { error: { code: "token_expired", message: "expired" } } },
    );
    const res = await post(lambda.url, chatBody());
    expect(res.status).toBe(200);
    expect(sm.count("GetSecretValue")).toBeGreaterThan(reads);
    expect(codex.responsesCalls.at(-1)?.headers.authorization).toBe(`Bearer ${renewed}`);
  });

  it("a key check slower than the time budget ends in the route's own error shape: Anthropic's on /v1/messages, OpenAI's elsewhere", async () => {
    const slowSm = await new FakeSecretsManager().start();
    let short: LambdaEmulator | undefined;
    try {
      slowSm.create("codex-tokens", JSON.stringify(authJson()));
      slowSm.create("proxy-keys", JSON.stringify({ keys: [KEY] }));
      slowSm.slow.set("proxy-keys", 120_000); // slower than every request of this test: each waits on it
      short = await startEmulator({ bundleDir: bundle.bundleDir, env: { ...env(), ...slowSm.env }, timeoutMs: 4_000, nodePath }, logs);
      const messages = await fetch(`${short.url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": KEY, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-5.5", max_tokens: 10, messages: [{ role: "user", content: "x" }] }),
      });
      expect(messages.status).toBe(504);
      expect(await messages.json()).toMatchObject({ type: "error", error: { type: "api_error", message: expect.stringContaining("time budget") } });
      const chat = await post(short.url, chatBody());
      expect(chat.status).toBe(504);
      expect(await chat.json()).toMatchObject({ error: { code: "deadline_exceeded" } });
      expect(short.failures).toEqual([]);
    } finally {
      await short?.stop();
      await slowSm.stop();
    }
  }, 60_000);

  it("ends a stream within the time budget with an in-band error, before the function would be killed", async () => {
    const short = await startEmulator({ bundleDir: bundle.bundleDir, env: env(), timeoutMs: 6_000, nodePath }, logs);
    try {
      await (await fetch(`${short.url}/health`)).text(); // a warm instance: the clock below is the invocation's alone
      codex.enqueue({ kind: "sse", events: TEXT.slice(0, 15), hang: true });
      const started = Date.now();
      const frames = await readSse(await post(short.url, chatBody({ stream: true })));
      expect((frames.at(-1) as { error: { code: string } }).error.code).toBe("deadline_exceeded");
      expect(frames).not.toContain("[DONE]");
      expect(Date.now() - started).toBeLessThan(6_000); // the function timeout: it ended the stream itself
      await expect.poll(() => codex.abortedResponses, { timeout: 3000 }).toBeGreaterThan(0);
      expect(short.failures).toEqual([]);

      codex.enqueue({ kind: "sse", events: [], hang: true });
      const res = await post(short.url, chatBody({ stream: true }));
      expect(res.status).toBe(504);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("deadline_exceeded");
      expect(short.failures).toEqual([]);
    } finally {
      await short.stop();
    }
  });

  it("fails closed when the API keys secret cannot be read", async () => {
    const closed = await startEmulator({ bundleDir: bundle.bundleDir, env: env({ API_KEYS_SECRET_ID: "missing-keys" }), nodePath }, logs);
    try {
      const before = codex.responsesCalls.length;
      const res = await post(closed.url, chatBody());
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("api_keys_unavailable");
      expect(codex.responsesCalls.length).toBe(before);
      await expect.poll(() => logs.some((l) => l.includes("cannot read the API keys secret"))).toBe(true); // the function's output comes by pipe, in no set order with its answer
    } finally {
      await closed.stop();
    }
  });

  it("serves a clear error while no login has been uploaded, and for a missing setting", async () => {
    sm.create("empty-tokens", '{"placeholder":"run npm run tokens:upload"}');
    const empty = await startEmulator({ bundleDir: bundle.bundleDir, env: env({ CODEX_SECRET_ID: "empty-tokens" }), nodePath }, logs);
    const unset = await startEmulator({ bundleDir: bundle.bundleDir, env: env({ API_KEYS_SECRET_ID: "" }), nodePath }, logs);
    try {
      const a = await post(empty.url, chatBody());
      expect(a.status).toBe(503);
      expect(((await a.json()) as { error: { message: string } }).error.message).toContain("npm run tokens:upload");
      const b = await post(unset.url, chatBody());
      expect(b.status).toBe(500);
      expect(((await b.json()) as { error: { message: string } }).error.message).toContain("API_KEYS_SECRET_ID is not set");
    } finally {
      await empty.stop();
      await unset.stop();
    }
  });

  it("an expired login: the function asks Secrets Manager to rotate, waits, and answers", async () => {
    const { FakeOAuth, loginDoc } = await import("./support/fake-oauth.js");
    const { createRotationHandler } = await import("../lambda/rotation.js");
    const { SecretsManagerClient } = await import("@aws-sdk/client-secrets-manager");
    const { createLogger } = await import("../lambda/log.js");
    const oauth = await new FakeOAuth(ACCOUNT_ID).start();
    const client = new SecretsManagerClient(sm.clientConfig);
    try {
      sm.create("expiring-tokens", JSON.stringify(loginDoc(ACCOUNT_ID, oauth.issue({ expiredAccess: true }))));
      const rotate = createRotationHandler({ client, refresh: { url: oauth.url, fetch: globalThis.fetch }, log: createLogger("silent") });
      sm.onRotate = async (secretId, token) => {
        for (const Step of ["createSecret", "setSecret", "testSecret", "finishSecret"] as const) await rotate({ Step, SecretId: secretId, ClientRequestToken: token });
      };
      const rotating = await startEmulator({ bundleDir: bundle.bundleDir, env: env({ CODEX_SECRET_ID: "expiring-tokens" }), nodePath }, logs);
      try {
        codex.always((req) =>
          oauth.accepts(req.headers.authorization) ? { kind: "sse", events: TEXT } : { kind: "json", status: 401, body: { error: { code: "token_expired", message: "expired" } } },
        );
        const res = await post(rotating.url, chatBody({ stream: true }));
        expect(res.status).toBe(200);
        expect((await readSse(res)).at(-1)).toBe("[DONE]");
        expect(sm.count("RotateSecret")).toBeGreaterThanOrEqual(1);
        expect(oauth.calls.length).toBe(1);
      } finally {
        await rotating.stop();
      }
    } finally {
      sm.onRotate = undefined;
      client.destroy();
      await oauth.stop();
    }
  });

  it("serves the Responses API too: responses.create streamed and not, responses.stream().finalResponse()", async () => {
    const asBackend = (events: typeof TEXT) => events.map((e) => (e.type === "response.completed" ? { ...e, response: { ...e.response, output: [] } } : e));
    const client = new OpenAI({ baseURL: `${lambda.url}/v1`, apiKey: KEY, maxRetries: 0 });
    codex.enqueue({ kind: "sse", events: asBackend(TEXT), chunkSize: 600, delayMs: 10 });
    const types: string[] = [];
    for await (const event of await client.responses.create({ model: "gpt-5.5", input: "hi", stream: true })) types.push(event.type);
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
    codex.enqueue({ kind: "sse", events: asBackend(TEXT) });
    const whole = await client.responses.create({ model: "gpt-5.5", input: "hi" });
    expect(whole.output_text.length).toBeGreaterThan(0);
    const turn = asBackend(recorded("recorded.openai-reasoning-encrypted-content.1.jsonl"));
    codex.enqueue({ kind: "sse", events: turn });
    const final = await client.responses
      .stream({ model: "gpt-5.5", input: "12+7", tools: [{ type: "function", name: "calculator", parameters: { type: "object" }, strict: false }] })
      .finalResponse();
    expect(final.output.find((o) => o.type === "function_call")).toMatchObject({ name: "calculator", arguments: '{"a":12,"b":7,"op":"add"}' });
    expect((codex.responsesCalls.at(-1)?.body as { store: boolean }).store).toBe(false);

    const { createOpenAI } = await import("@ai-sdk/openai");
    const { generateText } = await import("ai");
    codex.enqueue({ kind: "sse", events: asBackend(TEXT) });
    const result = await generateText({
      model: createOpenAI({ baseURL: `${lambda.url}/v1`, apiKey: KEY })("gpt-5.5"),
      prompt: "hi",
      providerOptions: { openai: { store: false } },
    });
    expect(result.text.length).toBeGreaterThan(0);
  });

  it("a Responses stream past the time budget ends with an error event the SDK raises", async () => {
    const short = await startEmulator({ bundleDir: bundle.bundleDir, env: env(), timeoutMs: 6_000, nodePath }, logs);
    try {
      await (await fetch(`${short.url}/health`)).text();
      codex.enqueue({ kind: "sse", events: TEXT.slice(0, 15), hang: true });
      const res = await fetch(`${short.url}/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-5.5", input: "hi", stream: true }),
      });
      const text = await res.text();
      expect(text.trimEnd().split("\n\n").at(-1)).toMatch(/^event: error\ndata: \{"type":"error","code":"deadline_exceeded"/);
      expect(text).not.toContain("response.completed");
      expect(short.failures).toEqual([]);
    } finally {
      await short.stop();
    }
  });

  it("serves the Anthropic Messages API: x-api-key, a streamed tool call the SDK assembles, errors in Anthropic's shape", async () => {
    const { default: Anthropic } = await import("@anthropic-ai/sdk");
    const anthropic = new Anthropic({ baseURL: lambda.url, apiKey: KEY, maxRetries: 0 });
    codex.enqueue({ kind: "sse", events: recorded("recorded.openai-reasoning-encrypted-content.1.jsonl"), chunkSize: 500, delayMs: 5 });
    const final = await anthropic.messages
      .stream({ model: "claude-sonnet-4-5", max_tokens: 1024, messages: [{ role: "user", content: "12+7" }], tools: [{ name: "calculator", input_schema: { type: "object" } }] })
      .finalMessage();
    expect(final.model).toBe("claude-sonnet-4-5");
    expect(final.content.find((b) => b.type === "tool_use")).toMatchObject({ name: "calculator", input: { a: 12, b: 7, op: "add" } });
    const denied = await new Anthropic({ baseURL: lambda.url, apiKey: "sk-wrong-key-000000000000", maxRetries: 0 }).messages
      .create({ model: "gpt-5.5", max_tokens: 1, messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(Anthropic.AuthenticationError);
  });

  it("takes Node's built-ins without their ES-module facades (which would load undici for http's WebSocket getter)", () => {
    const code = readFileSync(join(bundle.bundleDir, "index.mjs"), "utf8");
    const viaImport = [...code.matchAll(/\bfrom\s*"((?:node:)?[a-z_/0-9]+)"/g)].map((m) => m[1]).filter((name) => name !== "node:module");
    expect(viaImport).toEqual([]);
    for (const name of ["http", "https", "crypto", "fs", "stream", "zlib"]) expect(code).toContain(`process.getBuiltinModule("node:${name}")`);
    expect(logs.join("\n")).not.toMatch(/DeprecationWarning|ExperimentalWarning/);
  });

  it("takes its AWS credentials from the environment only, without the SDK's default chain and its nested STS and SSO clients", () => {
    const code = readFileSync(join(bundle.bundleDir, "index.mjs"), "utf8");
    // The secrets this suite reads went through the SDK with the environment's credentials; the other sources are not in the bundle.
    expect(code).toContain("Unable to find environment variable credentials");
    for (const marker of ["AssumeRoleWithWebIdentity", "GetRoleCredentials", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "credential_process"]) expect(code).not.toContain(marker);
  });

  it("runs on the Node it was asked to run on", async () => {
    const health = (await (await fetch(`${lambda.url}/health`)).json()) as { node: string };
    const expected = (await import("node:child_process")).execFileSync(nodePath, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
    expect(health.node).toBe(expected);
  });

  it("writes one set of EMF metric records per request: totals, by dialect and model, and errors by code", async () => {
    const headers = { "x-codex-primary-used-percent": "42.5", "x-codex-primary-window-minutes": "300", "x-codex-secondary-used-percent": "7" };
    codex.enqueue({ kind: "sse", events: TEXT, headers });
    const ok = await post(lambda.url, chatBody({ stream: true }));
    expect(ok.headers.get("x-codex-primary-used-percent")).toBe("42.5"); // passed on to the client
    await readSse(ok);
    codex.enqueue({ kind: "json", status: 429, body: fixtureJson("error.429-usage-limit-reached.body.json") });
    await (await post(lambda.url, chatBody())).text();

    type Emf = { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } } & Record<string, unknown>;
    const records = () => logs.filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l.slice(l.indexOf("{"))) as Emf);
    await expect.poll(() => records().filter((r) => r.code === "usage_limit_reached").length, { timeout: 5_000 }).toBeGreaterThan(0);
    const all = records();
    for (const r of all) expect(r._aws.CloudWatchMetrics[0]?.Namespace).toBe("CodexOpenAIProxy");
    const totals = all.filter((r) => JSON.stringify(r._aws.CloudWatchMetrics[0]?.Dimensions) === '[["service"]]');
    expect(totals.some((r) => r.Requests === 1 && r.ServerErrors === 0 && r.PrimaryUsedPercent === 42.5 && r.SecondaryUsedPercent === 7)).toBe(true);
    const byModel = all.find((r) => r.dialect === "chat" && r.model === "gpt-5.5" && typeof r.OutputTokens === "number");
    expect(byModel).toBeDefined();
    expect(byModel?.TimeToFirstByte).toBeGreaterThanOrEqual(0);
    expect(byModel?.Duration).toBeGreaterThanOrEqual(byModel?.TimeToFirstByte as number);
    const failed = all.find((r) => r.code === "usage_limit_reached");
    expect(failed?.Errors).toBe(1);
    expect(JSON.stringify(failed?._aws.CloudWatchMetrics[0]?.Dimensions)).toBe('[["service","code"]]');
    // /health shows the latest windows this instance saw
    const health = (await (await fetch(`${lambda.url}/health`)).json()) as { usage_limits: unknown };
    expect(health.usage_limits).toBeDefined();
  });

  it("a direct invocation with an event that is not a Function URL request is a 400, not a crash", async () => {
    const res = await fetch(lambda.url, { method: "POST", headers: { "x-emulator-direct-invoke": "1" }, body: JSON.stringify({ hello: "world" }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_event");
    expect(lambda.failures).toEqual([]);
  });

  it("never logs a secret", () => {
    const all = logs.join("\n");
    expect(all).not.toContain(KEY);
    expect(all).not.toMatch(/eyJ[\w-]{8,}\.[\w-]{8,}/);
    expect(all).not.toContain("rt.1.test-refresh");
  });
});
