/**
 * When a stream begins, fails, is cut or ends: the pipeline's one rule (stream-life.ts), checked
 * with a mapper that shows what it was asked, and then with each dialect's real mapper.
 */
import { describe, expect, it } from "vitest";
import type { CodexEvent } from "../../lambda/codex/types.js";
import { ToolNames } from "../../lambda/codex/tool-names.js";
import { ChatEventMapper } from "../../lambda/dialects/chat/stream.js";
import { MessagesEventMapper } from "../../lambda/dialects/messages/stream.js";
import { ResponsesEventMapper } from "../../lambda/dialects/responses/stream.js";
import type { ProxyError } from "../../lambda/errors.js";
import type { ErrorFrame, EventMapper } from "../../lambda/pipeline/dialect.js";
import { StreamLife } from "../../lambda/pipeline/stream-life.js";
import { recorded } from "../support/fixtures.js";

type Seen = { kind: "seen"; what: string };
/** Says which of its methods ran, on what. */
const echo: EventMapper<Seen> = {
  begin: (held) => [{ kind: "seen", what: `begin(${held.map((e) => e.type).join(",")})` }],
  map: (event) => [{ kind: "seen", what: `map(${event.type})` }],
  finish: (event) => [{ kind: "seen", what: `finish(${event.type})` }],
  fail: (error: ProxyError, cause?: CodexEvent): ErrorFrame => ({ kind: "error", error: Object.assign(error, { cause: cause?.type }) }),
};
const ev = (type: string, extra: Partial<CodexEvent> = {}): CodexEvent => ({ type, ...extra });
const completed = ev("response.completed", { response: { id: "resp_1", usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7 } } });
const shown = (frames: { kind: string }[]) => frames.map((f) => (f.kind === "seen" ? (f as Seen).what : f.kind === "error" ? `error:${(f as ErrorFrame).error.code}` : f.kind));

describe("the stream's life", () => {
  it("holds the handshake until the backend accepts, drops vendor frames, and ends a completed answer with done", () => {
    const life = new StreamLife(echo, () => 0);
    const frames = life.run([ev("response.created"), ev("codex.rate_limits"), ev("response.in_progress"), ev("response.output_text.delta", { delta: "hi" }), completed]);
    expect(shown(frames)).toEqual(["begin(response.created,response.in_progress)", "map(response.output_text.delta)", "finish(response.completed)", "done"]);
    expect(life.usage).toEqual({ tokens: completed.response?.usage, searches: 0 });
  });

  it("a failure before acceptance is the only frame (so it can still be a real HTTP status)", () => {
    const failed = ev("response.failed", { response: { error: { code: "context_length_exceeded", message: "too long" } } });
    const frames = new StreamLife(echo, () => 0).run([ev("response.created"), failed, ev("response.output_text.delta", { delta: "late" })]);
    expect(shown(frames)).toEqual(["error:context_length_exceeded"]);
    expect(((frames[0] as ErrorFrame).error as { cause?: string }).cause).toBe("response.failed");
  });

  it("an error event after acceptance ends the stream; nothing follows it, not even a terminal event", () => {
    const frames = new StreamLife(echo, () => 0).run([
      ev("response.output_text.delta", { delta: "a" }),
      ev("error", { code: "server_is_overloaded", message: "busy" }),
      ev("response.output_text.delta", { delta: "b" }),
      completed,
    ]);
    expect(shown(frames)).toEqual(["begin()", "map(response.output_text.delta)", "error:upstream_overloaded"]);
  });

  it("an upstream that closes without a terminal event is a truncation, never a success", () => {
    const frames = new StreamLife(echo, () => 0).run([ev("response.created"), ev("response.output_text.delta", { delta: "a" })]);
    expect(shown(frames)).toEqual(["begin(response.created)", "map(response.output_text.delta)", "error:upstream_stream_truncated"]);
  });

  it("a terminal event without its response object is malformed, not a success", () => {
    const life = new StreamLife(echo, () => 0);
    expect(() => life.push(ev("response.completed"))).toThrow(expect.objectContaining({ code: "upstream_malformed_event" }));
  });

  it("counts the web searches the backend ran, whichever dialect shows them", () => {
    const search = ev("response.output_item.done", { item: { type: "web_search_call", id: "ws_1" } as never });
    const life = new StreamLife(echo, () => 0);
    life.run([search, search, completed]);
    expect(life.usage.searches).toBe(2);
  });

  const dialects: [string, () => EventMapper<{ kind: string }, ErrorFrame>][] = [
    ["chat", () => new ChatEventMapper({ id: "chatcmpl-1", created: 1, model: "m", includeUsage: false, toolNames: new ToolNames() })],
    ["responses", () => new ResponsesEventMapper(new ToolNames())],
    ["messages", () => new MessagesEventMapper({ model: "m", inputTokens: 1, toolNames: new ToolNames() })],
  ];
  for (const [name, mapper] of dialects) {
    it(`${name}: the same rule with the dialect's own mapper: a recorded answer ends with done, the same answer cut ends with an error`, () => {
      const events = recorded("recorded.openai-phase.1.jsonl");
      const whole = new StreamLife(mapper(), () => 0).run(events);
      expect(whole.at(-1)?.kind).toBe("done");
      expect(whole.filter((f) => f.kind === "error" || f.kind === "done")).toHaveLength(1);
      const cut = new StreamLife(mapper(), () => 0).run(events.slice(0, -1));
      expect(shown(cut.slice(-1))).toEqual(["error:upstream_stream_truncated"]);
      expect(cut.some((f) => f.kind === "done")).toBe(false);
    });
  }
});
