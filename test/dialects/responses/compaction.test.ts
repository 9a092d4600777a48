/**
 * Long Codex sessions through `/v1/responses`: the WebSocket probe refused at once with a 426, remote
 * compaction ("compaction v2": a final `compaction_trigger`, then the minted `compaction` item sent
 * back with its `cmp_` id) passed through byte for byte, the legacy `/v1/responses/compact` call
 * served on top of it, and encrypted content the backend cannot read under this login explained.
 * The fake backend refuses what the real one refuses (support/backend-rules.ts).
 */
import { request as httpRequest } from "node:http";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { message, turnOf } from "../../support/codex-turns.js";
import { ACCOUNT_ID, startProxy, type RunningProxy } from "../../support/proxy.js";

let proxy: RunningProxy;
let client: OpenAI;
beforeAll(async () => {
  proxy = await startProxy({ env: { ALLOWED_MODELS: "gpt-5.5" } });
  client = new OpenAI({ baseURL: proxy.baseURL, apiKey: "unused", maxRetries: 0 });
});
afterAll(async () => proxy.stop());
beforeEach(() => {
  proxy.codex.always(() => ({ kind: "json", status: 500, body: { detail: "no reply queued" } }));
});

/** A raw GET, so hop-by-hop headers (Upgrade, Connection) that fetch refuses to send go out as given. */
function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${proxy.url}${path}`, { method: "GET", headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const post = (path: string, body: unknown) => fetch(`${proxy.baseURL}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const upstreamBodies = () => proxy.codex.responsesCalls.map((r) => r.body as { input: Record<string, unknown>[]; stream: boolean });

/** What the Codex CLI sends: every item with an id, a call and its output, and the trigger last. */
const HISTORY = [
  { type: "message", id: "msg_1", role: "developer", content: [{ type: "input_text", text: "You are Codex." }] },
  { type: "message", id: "msg_2", role: "user", content: [{ type: "input_text", text: "run echo" }] },
  { type: "function_call", id: "fc_1", call_id: "call_1", name: "exec_command", arguments: '{"cmd":"echo tool-ran"}' },
  { type: "function_call_output", id: "fco_1", call_id: "call_1", output: "tool-ran\n" },
];

describe("the Responses WebSocket transport is refused at once, so Codex falls back to HTTP without retrying", () => {
  const HANDSHAKE = {
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
    "openai-beta": "responses_websockets=2026-02-06",
  };

  it.each(["/v1/responses", "/responses"])("GET %s with the full handshake: 426 with an OpenAI error that says to use HTTP", async (path) => {
    const before = proxy.codex.requests.length;
    const res = await rawGet(path, HANDSHAKE);
    expect(res.status).toBe(426);
    expect(res.headers["content-type"]).toBe("application/json");
    const body = JSON.parse(res.body) as { error: { code: string; message: string; type: string } };
    expect(body.error).toMatchObject({ code: "websocket_not_supported", type: "invalid_request_error" });
    expect(body.error.message).toContain(`POST ${path}`);
    expect(proxy.codex.requests.length).toBe(before);
  });

  it("without Upgrade and Connection (a front that drops hop-by-hop headers), the key or the beta header alone still gets the 426", async () => {
    expect((await rawGet("/v1/responses", { "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" })).status).toBe(426);
    expect((await rawGet("/v1/responses", { "openai-beta": "responses_websockets=2026-02-06" })).status).toBe(426);
    expect((await rawGet("/v1/responses", { upgrade: "websocket", connection: "Upgrade" })).status).toBe(426);
  });

  it("a GET without a WebSocket ask stays a 405, and other routes keep their JSON 404/405: never HTML", async () => {
    const plain = await rawGet("/v1/responses", {});
    expect(plain.status).toBe(405);
    expect(JSON.parse(plain.body)).toMatchObject({ error: { code: "method_not_allowed" } });
    const chat = await rawGet("/v1/chat/completions", HANDSHAKE);
    expect(chat.status).toBe(405);
    const unknown = await rawGet("/v1/realtime", HANDSHAKE);
    expect(unknown.status).toBe(404);
    expect(unknown.headers["content-type"]).toBe("application/json");
  });
});

describe("remote compaction (v2) passes through faithfully", () => {
  it("a final, id-less compaction_trigger goes upstream as sent; the minted compaction item comes back in the stream and in finalResponse()", async () => {
    const minted = proxy.codex.compactions.mint(ACCOUNT_ID);
    proxy.codex.enqueue({ kind: "sse", events: turnOf([minted], { input_tokens: 9000, output_tokens: 300 }) });
    const runner = client.responses.stream({ model: "gpt-5.5", input: [...HISTORY, { type: "compaction_trigger" }] as never });
    const done: unknown[] = [];
    runner.on("response.output_item.done", (e) => done.push(e.item));
    const final = await runner.finalResponse();

    expect(done).toEqual([minted]);
    expect(final.output).toEqual([minted]);
    const sent = upstreamBodies().at(-1);
    expect(sent?.input.at(-1)).toEqual({ type: "compaction_trigger" });
    expect(sent?.input.slice(0, -1).every((item) => !("id" in item))).toBe(true);
    expect(sent?.input).toHaveLength(HISTORY.length + 1);
    // marked as Codex marks it; ordinary turns are not
    expect(proxy.codex.responsesCalls.at(-1)?.headers["x-codex-beta-features"]).toBe("remote_compaction_v2");
  });

  it("an ordinary turn carries no compaction mark upstream", async () => {
    proxy.codex.enqueue({ kind: "sse", events: turnOf([message("plain")]) });
    await client.responses.create({ model: "gpt-5.5", input: "hi" });
    expect(proxy.codex.responsesCalls.at(-1)?.headers).not.toHaveProperty("x-codex-beta-features");
  });

  it("the compaction item sent back keeps its cmp_ id and encrypted content byte for byte, and the backend accepts it", async () => {
    const minted = proxy.codex.compactions.mint(ACCOUNT_ID);
    proxy.codex.enqueue({ kind: "sse", events: turnOf([message("Done after compaction.")]) });
    const input = [HISTORY[1], minted, { type: "message", id: "msg_3", role: "user", content: [{ type: "input_text", text: "go on" }] }];
    const response = await client.responses.create({ model: "gpt-5.5", input: input as never });
    expect(response.output_text).toBe("Done after compaction.");
    const sent = upstreamBodies().at(-1)?.input ?? [];
    expect(proxy.codex.responsesCalls.at(-1)?.headers["x-codex-beta-features"]).toBe("remote_compaction_v2");
    expect(sent[1]).toEqual(minted);
    expect(sent[0]).not.toHaveProperty("id");
    expect(sent[2]).not.toHaveProperty("id");
  });

  it("a non-streamed compaction answer holds the compaction item in output", async () => {
    const minted = proxy.codex.compactions.mint(ACCOUNT_ID);
    proxy.codex.enqueue({ kind: "sse", events: turnOf([minted]) });
    const response = await client.responses.create({ model: "gpt-5.5", input: [...HISTORY, { type: "compaction_trigger" }] as never });
    expect(response.output).toEqual([minted]);
  });

  it.each([
    ["not last", [HISTORY[1], { type: "compaction_trigger" }, HISTORY[0]], "input[1]"],
    ["twice", [HISTORY[1], { type: "compaction_trigger" }, { type: "compaction_trigger" }], "input[1]"],
    ["with an id", [HISTORY[1], { type: "compaction_trigger", id: "ct_1" }], "input[1].id"],
  ])("a compaction_trigger %s is a 400 naming the rule, and nothing goes upstream", async (_, input, param) => {
    const before = proxy.codex.requests.length;
    const res = await post("/responses", { model: "gpt-5.5", input });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; param: string; message: string } };
    expect(body.error).toMatchObject({ code: "invalid_compaction_trigger", param });
    expect(body.error.message).toMatch(/compaction_trigger/);
    expect(proxy.codex.requests.length).toBe(before);
  });
});

describe("encrypted content the backend cannot read under this login", () => {
  const expectExplained = async (res: Response) => {
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string; type: string } };
    expect(body.error).toMatchObject({ code: "invalid_encrypted_content", type: "invalid_request_error" });
    expect(body.error.message).toMatch(/login that created it/);
    expect(body.error.message).toMatch(/Start a new thread/);
  };

  it("a compaction item minted under another account: a 400 that says what happened and what to do, sent once", async () => {
    const foreign = proxy.codex.compactions.mint("acc-someone-else");
    const before = proxy.codex.responsesCalls.length;
    await expectExplained(await post("/responses", { model: "gpt-5.5", input: [HISTORY[1], foreign] }));
    expect(proxy.codex.responsesCalls.length).toBe(before + 1);
  });

  it("a compaction item whose id is not the minted cmp_ id cannot be verified either", async () => {
    const minted = proxy.codex.compactions.mint(ACCOUNT_ID);
    await expectExplained(await post("/responses", { model: "gpt-5.5", input: [HISTORY[1], { ...minted, id: "item_renamed" }] }));
  });

  it("the same refusal arriving inside the stream (response.failed) is the same 400", async () => {
    const failed = turnOf([]).slice(0, 2);
    failed.push({
      type: "response.failed",
      response: { id: "resp_x", status: "failed", output: [], error: { code: "invalid_encrypted_content", message: "The encrypted content gAAA...Rg== could not be verified." } },
    } as never);
    proxy.codex.enqueue({ kind: "sse", events: failed });
    await expectExplained(await post("/responses", { model: "gpt-5.5", input: "hi", stream: true }));
  });
});

describe("the legacy POST /v1/responses/compact", () => {
  it("with the openai SDK: one streamed /responses upstream ending in the trigger; the answer holds the user messages and the compaction item as minted", async () => {
    const minted = proxy.codex.compactions.mint(ACCOUNT_ID);
    proxy.codex.enqueue({ kind: "sse", events: turnOf([minted], { input_tokens: 5000, output_tokens: 200 }) });
    const compacted = await client.responses.compact({ model: "gpt-5.5", instructions: "You are Codex.", input: HISTORY as never });

    expect(compacted.object).toBe("response.compaction");
    expect(compacted.output).toEqual([HISTORY[1], minted]);
    expect(compacted.usage).toMatchObject({ input_tokens: 5000, output_tokens: 200 });
    const call = proxy.codex.requests.at(-1);
    expect(call?.path).toBe("/backend-api/codex/responses");
    const sent = call?.body as { input: Record<string, unknown>[]; stream: boolean; store: boolean; instructions: string };
    expect(sent).toMatchObject({ stream: true, store: false, instructions: "You are Codex." });
    expect(sent.input.at(-1)).toEqual({ type: "compaction_trigger" });
    expect(sent.input).toHaveLength(HISTORY.length + 1);
  });

  it("without /v1, and with an input that already ends in the trigger (not doubled)", async () => {
    const minted = proxy.codex.compactions.mint(ACCOUNT_ID);
    proxy.codex.enqueue({ kind: "sse", events: turnOf([minted]) });
    const res = await fetch(`${proxy.url}/responses/compact`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-5.5", input: [...HISTORY, { type: "compaction_trigger" }] }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { output: unknown[] }).output.at(-1)).toEqual(minted);
    expect(
      upstreamBodies()
        .at(-1)
        ?.input.filter((i) => i.type === "compaction_trigger"),
    ).toHaveLength(1);
  });

  it("an upstream answer without a compaction item is a 502 that says so", async () => {
    proxy.codex.enqueue({ kind: "sse", events: turnOf([message("I summarized nothing.")]) });
    const res = await post("/responses/compact", { model: "gpt-5.5", input: HISTORY });
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: { code: "upstream_no_compaction", type: "upstream_error" } });
  });

  it("an upstream failure keeps its status and OpenAI shape (a usage limit is a 429 with Retry-After)", async () => {
    proxy.codex.enqueue({
      kind: "json",
      status: 429,
      body: { error: { type: "usage_limit_reached", message: "The usage limit has been reached", plan_type: "plus", resets_in_seconds: 600 } },
    });
    const res = await post("/responses/compact", { model: "gpt-5.5", input: HISTORY });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("600");
    expect(await res.json()).toMatchObject({ error: { code: "usage_limit_reached" } });
  });

  it("the same rules as /v1/responses: an unknown model is a 400 that lists the models, a stored reference a 400", async () => {
    const unknown = await post("/responses/compact", { model: "gpt-0", input: HISTORY });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: { code: "model_not_found" } });
    const stored = await post("/responses/compact", { model: "gpt-5.5", input: HISTORY, previous_response_id: "resp_1" });
    expect(stored.status).toBe(400);
  });

  it("needs the proxy key when keys are set, like every model route", async () => {
    const keyed = await startProxy({ keys: ["sk-compact-key-1"], env: { ALLOWED_MODELS: "gpt-5.5" } });
    try {
      const minted = keyed.codex.compactions.mint(ACCOUNT_ID);
      keyed.codex.enqueue({ kind: "sse", events: turnOf([minted]) });
      const send = (key?: string) =>
        fetch(`${keyed.baseURL}/responses/compact`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
          body: JSON.stringify({ model: "gpt-5.5", input: HISTORY }),
        });
      expect((await send()).status).toBe(401);
      expect(keyed.codex.responsesCalls).toHaveLength(0);
      expect((await send("sk-compact-key-1")).status).toBe(200);
    } finally {
      await keyed.stop();
    }
  });
});

it("the fake backend's own /responses/compact is gone, as the real one's is (404)", async () => {
  const res = await fetch(`${proxy.codex.url}/responses/compact`, { method: "POST", body: "{}" });
  expect(res.status).toBe(404);
});
