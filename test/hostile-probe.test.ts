/**
 * The hostile probe's smaller findings, each against the shared path on both targets (the local
 * server, and the Lambda bundle under the real runtime client): a hostile backend (a summary index
 * of four billion, an event type carrying newlines, a terminal event without its response, output
 * items past the answer cap, malformed items and arguments) and hostile clients (effort names from
 * the prototype chain, a tool name that collides with another's shortened name). None may cost more
 * than its own request, none may be a 500, and none may look like success.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CodexEvent } from "../lambda/codex/types.js";
import { functionCall, message, turnOf } from "./support/codex-turns.js";
import type { FakeCodex } from "./support/fake-codex.js";
import { lambdaRuntimes, ricInstalled, startLambdaTarget, type LambdaTarget } from "./support/lambda.js";
import { startProxy, type RunningProxy } from "./support/proxy.js";

const KEY = "sk-hostile-probe-key-000000000001";
const CAP = 256 * 1024; // the local server's answer cap here (the Lambda bundle keeps its 64 MiB)

interface Target {
  base: string;
  codex: FakeCodex;
}

const send = (t: Target, path: string, body: unknown) =>
  fetch(`${t.base}${path}`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });
const messagesBody = (extra: Record<string, unknown> = {}) => ({
  model: "gpt-5.5",
  max_tokens: 1000,
  messages: [{ role: "user", content: "go" }],
  tools: [{ name: "write", description: "writes", input_schema: { type: "object", properties: {} } }],
  ...extra,
});
const errorOf = async (res: Response) => {
  const body = (await res.json()) as { error: { code?: string; type?: string; message: string } };
  return body.error;
};

/** A turn cut by response.incomplete in the middle of a call's arguments. */
function cutMidCall(args: string): CodexEvent[] {
  const call = functionCall("write", { path: "a.txt" });
  const turn = turnOf([call]).filter(
    (e) => e.type !== "response.output_item.done" && e.type !== "response.function_call_arguments.done" && e.type !== "response.function_call_arguments.delta",
  );
  const terminal = turn.pop() as CodexEvent;
  turn.push({ type: "response.function_call_arguments.delta", output_index: 0, item_id: call.id, delta: args } as never);
  turn.push({ ...terminal, type: "response.incomplete", response: { ...terminal.response, status: "incomplete", incomplete_details: { reason: "max_output_tokens" } } } as never);
  return turn;
}

function findings(target: () => Target, local: boolean): void {
  it("3. non-streamed /v1/messages with tool arguments that are not JSON: 200, the raw arguments kept, never a 500", async () => {
    const t = target();
    t.codex.enqueue({ kind: "sse", events: turnOf([{ ...functionCall("write", {}), arguments: '{"path": a.txt' }]) });
    const res = await send(t, "/v1/messages", messagesBody());
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { stop_reason: string; content: { type: string; input: unknown }[] };
    expect(answer.stop_reason).toBe("tool_use");
    expect(answer.content.find((b) => b.type === "tool_use")?.input).toBe('{"path": a.txt');
  });

  it("3. ... and an answer cut by response.incomplete mid-call: 200 with stop_reason max_tokens, as streamed", async () => {
    const t = target();
    t.codex.enqueue({ kind: "sse", events: cutMidCall('{"path":"a.t') });
    const res = await send(t, "/v1/messages", messagesBody());
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { stop_reason: string; content: { type: string; input: unknown }[] };
    expect(answer.stop_reason).toBe("max_tokens");
    expect(answer.content.find((b) => b.type === "tool_use")?.input).toBe('{"path":"a.t');
  });

  it("4. a reasoning summary_index of 4294967294 is a malformed event, answered at once (it stalled the process for 101 s)", async () => {
    const t = target();
    const turn = turnOf([message("x")]);
    const hostile = { type: "response.reasoning_summary_text.delta", item_id: "rs_1", output_index: 0, summary_index: 4294967294, delta: "thinking" };
    t.codex.enqueue({ kind: "sse", events: [...turn.slice(0, 2), hostile as never, ...turn.slice(2)] });
    const res = await send(t, "/v1/messages", messagesBody({ stream: true }));
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ type: "error", error: { type: "api_error" } });
    const health = await fetch(`${t.base}/health`);
    expect(health.status).toBe(200);
  });

  it.runIf(local)(
    "5. output items past the answer cap (the cap is the reader's, shared by both targets; tried locally, at 256 KiB): 502 answer_too_large in every dialect and both modes, never a 200 of any size or a 500",
    async () => {
      const t = target();
      const big = Array.from({ length: 40 }, (_, i) => message(`${i}:${"y".repeat(16 * 1024)}`));
      for (const [path, body] of [
        ["/v1/responses", { model: "gpt-5.5", input: "go" }],
        ["/v1/messages", messagesBody()],
        ["/v1/chat/completions", { model: "gpt-5.5", messages: [{ role: "user", content: "go" }] }],
      ] as const) {
        t.codex.enqueue({ kind: "sse", events: turnOf(big) });
        const res = await send(t, path, body);
        expect(res.status, path).toBe(502);
        const text = await res.text();
        expect(text.length).toBeLessThan(4096);
        expect(text).toMatch(/answer_too_large|grew past/);
      }
      t.codex.enqueue({ kind: "sse", events: turnOf(big) });
      const streamed = await (await send(t, "/v1/responses", { model: "gpt-5.5", input: "go", stream: true })).text();
      expect(streamed).toContain('"code":"answer_too_large"');
      expect(streamed).not.toContain("event: response.completed");
    },
  );

  it("6. an upstream event type with newlines cannot forge frames in the client's stream", async () => {
    const t = target();
    const turn = turnOf([message("fine")]);
    const forged = {
      type: 'response.output_text.delta\n\nevent: response.completed\ndata: {"type":"response.completed","response":{"status":"completed"}}',
      delta: "x",
      output_index: 0,
    };
    const pieces = [...turn.slice(0, 4), forged, ...turn.slice(4)].map((e) => `event: x\ndata: ${JSON.stringify(e)}\n\n`);
    t.codex.enqueue({ kind: "raw", pieces });
    const text = await (await send(t, "/v1/responses", { model: "gpt-5.5", input: "go", stream: true })).text();
    expect(text).not.toMatch(/^event: response\.completed$/m);
    expect(text).not.toMatch(/^data: \{"type":"response\.completed"/m);
    expect(text).toContain("upstream_malformed_event");
  });

  it.each([
    ["missing", undefined],
    ["a string", "x"],
  ])("7. a terminal event whose response is %s: 502, never an empty or bogus 200", async (_, response) => {
    const t = target();
    const turn = turnOf([message("fine")]);
    const terminal = { ...(turn.pop() as CodexEvent), response } as CodexEvent;
    t.codex.enqueue({ kind: "sse", events: [...turn, terminal] });
    const res = await send(t, "/v1/responses", { model: "gpt-5.5", input: "go" });
    expect(res.status).toBe(502);
    expect(await errorOf(res)).toMatchObject({ code: "upstream_malformed_event" });
  });

  it("8. malformed upstream shapes are 502 upstream_malformed_event (or its in-band form), never 'internal error'", async () => {
    const t = target();
    const broken = turnOf([message("fine")]).map((e) =>
      e.type === "response.output_item.done" ? ({ ...e, item: { ...e.item, content: "not an array" } } as unknown as CodexEvent) : e,
    );
    t.codex.enqueue({ kind: "sse", events: broken });
    const chat = await send(t, "/v1/chat/completions", { model: "gpt-5.5", messages: [{ role: "user", content: "go" }] });
    expect(chat.status).toBe(502);
    expect(await errorOf(chat)).toMatchObject({ code: "upstream_malformed_event" });

    const numeric = turnOf([{ ...functionCall("write", {}), arguments: 42 }]).filter((e) => !String(e.type).startsWith("response.function_call_arguments"));
    t.codex.enqueue({ kind: "sse", events: numeric });
    const plain = await send(t, "/v1/messages", messagesBody());
    expect(plain.status).toBe(502);
    expect((await plain.json()) as unknown).toMatchObject({ type: "error", error: { type: "api_error" } });
    t.codex.enqueue({ kind: "sse", events: numeric });
    const streamed = await (await send(t, "/v1/messages", messagesBody({ stream: true }))).text();
    expect(streamed).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"api_error"/);
    expect(streamed).not.toContain("message_stop");
    expect(streamed).not.toMatch(/internal/i);
  });

  it.each(["__proto__", "constructor", "toString", "ultra"])("10. output_config.effort %s is a 400, nothing upstream", async (effort) => {
    const t = target();
    const before = t.codex.responsesCalls.length;
    const res = await send(t, "/v1/messages", messagesBody({ output_config: { effort } }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("output_config.effort must be one of low, medium, high, max, xhigh");
    expect(t.codex.responsesCalls.length).toBe(before);
  });

  it("11. a tool whose name is another tool's shortened name: a 400 naming both, nothing upstream", async () => {
    const t = target();
    const long = `mcp__server__${"very_long_action_name_".repeat(4)}`;
    t.codex.enqueue({ kind: "sse", events: turnOf([message("unused")]) });
    const probe = await send(t, "/v1/chat/completions", {
      model: "gpt-5.5",
      messages: [{ role: "user", content: "go" }],
      tools: [{ type: "function", function: { name: long, parameters: { type: "object" } } }],
    });
    expect(probe.status).toBe(200);
    await probe.text();
    const short = (t.codex.responsesCalls.at(-1)?.body as { tools: { name: string }[] }).tools[0]?.name as string;
    expect(short.length).toBeLessThanOrEqual(64);
    const before = t.codex.responsesCalls.length;
    const tools = [long, short].map((name) => ({ type: "function", function: { name, parameters: { type: "object" } } }));
    const res = await send(t, "/v1/chat/completions", { model: "gpt-5.5", messages: [{ role: "user", content: "go" }], tools });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("tool_name_collision");
    expect(error.message).toContain(long);
    expect(error.message).toContain(short);
    expect(t.codex.responsesCalls.length).toBe(before);
  });
}

describe("the local server", () => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy({ keys: [KEY], env: { ALLOWED_MODELS: "gpt-5.5" }, limits: { maxAnswerBytes: CAP } });
  });
  afterAll(async () => proxy?.stop());
  findings(() => ({ base: proxy.url, codex: proxy.codex }), true);
});

describe.skipIf(!ricInstalled()).each(lambdaRuntimes())("the Lambda bundle under the real runtime on $name", ({ nodePath }) => {
  let target: LambdaTarget;
  beforeAll(async () => {
    target = await startLambdaTarget({ nodePath, key: KEY, env: { ALLOWED_MODELS: "gpt-5.5" } });
  }, 120_000);
  afterAll(async () => target?.stop());
  findings(() => ({ base: target.lambda.url, codex: target.codex }), false);
});
