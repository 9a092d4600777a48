/**
 * Bad input is a 4xx that says what is wrong, never a 5xx: specific cases, then a few thousand
 * mutated request bodies (seeded, so a failure replays) through the real server.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_DEPTH } from "../lambda/http/body.js";
import { recorded } from "./support/fixtures.js";
import { chatBody, startProxy, type RunningProxy } from "./support/proxy.js";

let proxy: RunningProxy;
beforeAll(async () => {
  proxy = await startProxy({ env: { ALLOWED_MODELS: "gpt-5.5" } });
  proxy.codex.always(() => ({ kind: "sse", events: recorded("recorded.openai-phase.1.jsonl") }));
});
afterAll(async () => proxy.stop());

const send = (body: string) => fetch(`${proxy.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body });
async function errorOf(res: Response): Promise<{ status: number; code: string | null; param: string | null; message: string }> {
  const body = (await res.json()) as { error: { code: string | null; param: string | null; message: string } };
  return { status: res.status, ...body.error };
}

function nested(depth: number): unknown {
  let value: unknown = { type: "string" };
  for (let i = 1; i < depth; i++) value = { type: "object", properties: { x: value } };
  return value;
}

describe("specific bad input", () => {
  it("two tool calls with one id in a message: 400 naming the id", async () => {
    const call = (id: string) => ({ id, type: "function", function: { name: "f", arguments: "{}" } });
    const body = chatBody({
      messages: [
        { role: "user", content: "x" },
        { role: "assistant", content: null, tool_calls: [call("call_1"), call("call_1")] },
        { role: "tool", tool_call_id: "call_1", content: "a" },
        { role: "tool", tool_call_id: "call_1", content: "b" },
      ],
    });
    const error = await errorOf(await send(JSON.stringify(body)));
    expect(error).toMatchObject({ status: 400, code: "duplicate_tool_call_id", param: "messages[1].tool_calls[1].id" });
    expect(error.message).toContain("'call_1'");
  });

  it("10,000-deep nesting in a tool schema: 400", async () => {
    const text = `{"model":"gpt-5.5","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":${"[".repeat(10_000)}${"]".repeat(10_000)}}}]}`;
    expect(await errorOf(await send(text))).toMatchObject({ status: 400, code: "json_too_deep" });
  });

  it("10,000-deep nesting in tool-call arguments given as an object: 400", async () => {
    const args = `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`;
    const text = `{"model":"gpt-5.5","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":${args}}}]},{"role":"tool","tool_call_id":"c","content":"r"}]}`;
    expect(await errorOf(await send(text))).toMatchObject({ status: 400, code: "json_too_deep" });
  });

  it(`a schema ${MAX_DEPTH - 10} levels deep is still served`, async () => {
    const body = chatBody({ tools: [{ type: "function", function: { name: "f", parameters: nested((MAX_DEPTH - 10) / 2) } }] });
    expect((await send(JSON.stringify(body))).status).toBe(200);
  });

  it("odd methods on a route are 405 with Allow", async () => {
    const res = await fetch(`${proxy.baseURL}/chat/completions`, { method: "PUT", body: "{}" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST, OPTIONS");
  });
});

describe("fuzz: mutated bodies never get a 5xx", () => {
  const base = [
    chatBody({ stream: true, stream_options: { include_usage: true } }),
    chatBody({
      messages: [
        { role: "system", content: "be brief" },
        {
          role: "user",
          content: [
            { type: "text", text: "what is this" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "low" } },
          ],
        },
        { role: "assistant", content: "", tool_calls: [{ id: "call_a", type: "function", function: { name: "lookup", arguments: '{"q":"x"}' } }] },
        { role: "tool", tool_call_id: "call_a", content: [{ type: "text", text: "found" }] },
      ],
      tools: [{ type: "function", function: { name: "lookup", description: "d", parameters: { type: "object", properties: { q: { type: "string" } } } } }],
      tool_choice: { type: "function", function: { name: "lookup" } },
      reasoning_effort: "high",
      response_format: { type: "json_schema", json_schema: { name: "out", schema: { type: "object" } } },
      parallel_tool_calls: false,
      prompt_cache_key: "conv-1",
    }),
  ];

  /** Walks to a random place in a copy of `doc` and deletes, replaces or wraps what is there. */
  const mutation = fc.record({
    which: fc.nat(base.length - 1),
    path: fc.array(fc.nat(20), { minLength: 0, maxLength: 6 }),
    op: fc.constantFrom("delete", "replace", "wrap", "truncate-text", "raw-bytes"),
    value: fc.jsonValue({ maxDepth: 3 }),
    cut: fc.nat(400),
  });
  type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

  function apply(m: Mutation): string {
    const doc = structuredClone(base[m.which]) as Record<string, unknown>;
    if (m.op === "truncate-text") return JSON.stringify(doc).slice(0, m.cut);
    if (m.op === "raw-bytes") return String.fromCharCode(...Array.from({ length: m.cut % 64 }, (_, i) => ((i * 37 + m.cut) % 255) + 1));
    let parent: unknown = doc;
    let key: string | number | undefined;
    for (const step of m.path) {
      const container = key === undefined ? parent : (parent as Record<string | number, unknown>)[key];
      if (typeof container !== "object" || container === null) break;
      const keys = Array.isArray(container) ? container.map((_, i) => i) : Object.keys(container);
      if (keys.length === 0) break;
      parent = container;
      key = keys[step % keys.length];
    }
    if (key === undefined) return JSON.stringify(m.op === "delete" ? {} : m.value);
    const target = parent as Record<string | number, unknown>;
    if (m.op === "delete") {
      if (Array.isArray(target)) target.splice(key as number, 1);
      else delete target[key];
    } else if (m.op === "replace") target[key] = m.value;
    else target[key] = [target[key]];
    return JSON.stringify(doc);
  }

  it("3,000 seeded mutations: zero 5xx, every refusal in the OpenAI error shape", async () => {
    const samples = fc.sample(mutation, { numRuns: 3_000, seed: 20261130 });
    const failures: string[] = [];
    let refused = 0;
    const queue = samples.map(apply);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let body = queue.pop(); body !== undefined; body = queue.pop()) {
          const res = await send(body);
          const text = await res.text();
          if (res.status >= 500) failures.push(`${res.status} ${text.slice(0, 200)} <- ${body.slice(0, 300)}`);
          if (res.status >= 400) {
            refused++;
            const parsed = JSON.parse(text) as { error?: { message?: unknown; type?: unknown; param?: unknown; code?: unknown } };
            if (typeof parsed.error?.message !== "string" || typeof parsed.error.type !== "string" || !("param" in parsed.error) || !("code" in parsed.error)) {
              failures.push(`not OpenAI-shaped: ${text.slice(0, 200)}`);
            }
          }
        }
      }),
    );
    expect(failures).toEqual([]);
    expect(refused).toBeGreaterThan(300); // the mutations really do break requests
  }, 120_000);
});
