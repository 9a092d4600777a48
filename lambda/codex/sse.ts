/**
 * Upstream SSE bytes -> parsed events. Framing is left to eventsource-parser; this module adds what a
 * proxy needs on top: JSON decoding by the `type` field, an idle timeout (long reasoning can be
 * silent, a dead connection must not hang a client forever), and transport errors turned into
 * ProxyErrors so the stream converter can report them in-band.
 */
import { createParser } from "eventsource-parser";
import { ProxyError } from "../errors.js";
import type { CodexEvent } from "./types.js";

export async function* readEvents(body: ReadableStream<Uint8Array>, idleTimeoutMs: number): AsyncGenerator<CodexEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const queue: CodexEvent[] = [];
  let malformed: string | undefined;
  const parser = createParser({
    onEvent(message) {
      if (message.data === "[DONE]") return;
      try {
        const event = JSON.parse(message.data) as CodexEvent;
        if (typeof event !== "object" || event === null) throw new Error("not an object");
        if (typeof event.type !== "string") event.type = message.event ?? "";
        queue.push(event);
      } catch {
        malformed ??= message.data.slice(0, 200);
      }
    },
  });

  try {
    for (;;) {
      const { done, value } = await readWithin(reader, idleTimeoutMs);
      if (done) {
        parser.feed(decoder.decode());
        parser.reset({ consume: true });
      } else {
        parser.feed(decoder.decode(value, { stream: true }));
      }
      if (malformed !== undefined) {
        throw new ProxyError(502, `The Codex backend sent an event that is not valid JSON: ${malformed}`, { code: "upstream_malformed_event" });
      }
      while (queue.length > 0) yield queue.shift() as CodexEvent;
      if (done) return;
    }
  } finally {
    // Releases the upstream connection when the consumer stops early (client gone, failure seen).
    reader.cancel().catch(() => {});
  }
}

async function readWithin(reader: ReadableStreamDefaultReader<Uint8Array>, ms: number): Promise<ReadableStreamReadResult<Uint8Array>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ProxyError(504, `The Codex backend sent nothing for ${Math.round(ms / 1000)} s; the request was abandoned. Retry it.`, {
            code: "upstream_idle_timeout",
          }),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([reader.read(), timeout]);
  } catch (err) {
    if (err instanceof ProxyError) throw err;
    throw new ProxyError(502, `The connection to the Codex backend was lost mid-answer (${describe(err)}). Retry the request.`, {
      code: "upstream_connection_lost",
      cause: err,
    });
  } finally {
    clearTimeout(timer);
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
    return `${err.message}${cause}`;
  }
  return String(err);
}
