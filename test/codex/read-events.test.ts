/**
 * The upstream reader alone (lambda/codex/sse.ts), fed from a stream in memory: which events keep
 * their data as the backend sent it. The Responses dialect forwards those bytes unchanged; for the
 * others, keeping them would only cost time and memory on every event.
 */
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { RAW_DATA, type WithRawData } from "../../lambda/codex/events.js";
import { readEvents } from "../../lambda/codex/sse.js";
import type { CodexEvent } from "../../lambda/codex/types.js";

/** Every event `sse` holds, read with or without their raw data. */
function read(sse: string, keepRaw: boolean): Promise<(CodexEvent & WithRawData)[]> {
  const body = new PassThrough();
  const feed = readEvents(body, { idleTimeoutMs: 60_000, maxEventBytes: 1 << 20, maxAnswerBytes: 1 << 20, keepRaw });
  const events: CodexEvent[] = [];
  const done = new Promise<CodexEvent[]>((resolve, reject) => feed.listen({ batch: (batch) => events.push(...batch), end: (error) => (error ? reject(error) : resolve(events)) }));
  body.end(sse);
  return done;
}

// Key order and escapes as a backend may write them: a re-stringified event would differ in both.
const DELTA = '{"type":"response.output_text.delta","delta":"caf\\u00e9","output_index":0,"sequence_number":4}';
const SPLIT = '{"type":"response.output_text.delta",\ndata: "delta":"x","output_index":0}';
const SSE = `event: response.output_text.delta\ndata: ${DELTA}\n\nevent: response.output_text.delta\ndata: ${SPLIT}\n\n`;

describe("an event's data as the backend sent it", () => {
  it("is kept, byte for byte, when the dialect asks for it", async () => {
    const [delta, split] = await read(SSE, true);
    expect(delta?.delta).toBe("café");
    expect(delta?.[RAW_DATA]).toBe(DELTA);
    // data on two lines cannot go out as one `data:` line: that event is written from its parsed form
    expect(split?.delta).toBe("x");
    expect(split?.[RAW_DATA]).toBeUndefined();
  });

  it("is not kept otherwise", async () => {
    const events = await read(SSE, false);
    expect(events.map((e) => e.delta)).toEqual(["café", "x"]);
    for (const event of events) expect(event[RAW_DATA]).toBeUndefined();
  });
});
