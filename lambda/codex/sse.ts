/**
 * Upstream SSE bytes -> parsed events. Framing is left to eventsource-parser; this module adds what a
 * proxy needs on top: JSON decoding by the `type` field, an idle timeout that counts events rather
 * than bytes (a backend dripping comment bytes must not hold a request forever), a cap on how much
 * text one event may take (a line that never ends must not grow without bound), and transport errors
 * turned into ProxyErrors so the stream converter can report them in-band.
 */
import { createParser } from "eventsource-parser";
import { ProxyError } from "../errors.js";
import type { CodexEvent } from "./types.js";

export interface ReadEventsOptions {
  idleTimeoutMs: number;
  /** the most bytes the backend may send without completing an event */
  maxEventBytes: number;
  /** called once when the stream is finished with, however it ended */
  onClose?: () => void;
}

export const MAX_EVENT_BYTES = 16 * 1024 * 1024;

export async function* readEvents(body: ReadableStream<Uint8Array>, options: ReadEventsOptions): AsyncGenerator<CodexEvent> {
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

  // One timer for the whole stream, pushed back whenever events arrive. Time spent waiting for a
  // slow client (suspended at a yield) is not upstream silence, so it never counts.
  let reading = false;
  let idle: ProxyError | undefined;
  const timer = setTimeout(function onIdle() {
    if (!reading) return void timer.refresh();
    idle = idleTimeoutError(options.idleTimeoutMs, "nothing");
    reader.cancel(idle).catch(() => {});
  }, options.idleTimeoutMs);
  let bytesWithoutEvent = 0;

  try {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      reading = true;
      try {
        result = await reader.read();
      } catch (err) {
        throw idle ?? connectionLost(err);
      } finally {
        reading = false;
      }
      if (idle) throw idle;
      const { done, value } = result;
      if (done) {
        parser.feed(decoder.decode());
        parser.reset({ consume: true });
      } else {
        parser.feed(decoder.decode(value, { stream: true }));
        bytesWithoutEvent = queue.length > 0 ? 0 : bytesWithoutEvent + value.byteLength;
      }
      if (malformed !== undefined) {
        throw new ProxyError(502, `The Codex backend sent an event that is not valid JSON: ${malformed}`, { code: "upstream_malformed_event" });
      }
      if (bytesWithoutEvent > options.maxEventBytes) {
        throw new ProxyError(502, `The Codex backend sent more than ${mib(options.maxEventBytes)} without completing an event; the answer was abandoned. Retry the request.`, {
          code: "upstream_event_too_large",
        });
      }
      if (queue.length > 0) {
        for (let i = 0; i < queue.length; i++) yield queue[i] as CodexEvent;
        queue.length = 0;
        timer.refresh();
      }
      if (done) return;
    }
  } finally {
    clearTimeout(timer);
    // Releases the upstream connection when the consumer stops early (client gone, failure seen).
    reader.cancel().catch(() => {});
    options.onClose?.();
  }
}

export function idleTimeoutError(ms: number, what: "nothing" | "no response headers"): ProxyError {
  return new ProxyError(504, `The Codex backend sent ${what} for ${Math.round(ms / 1000)} s; the request was abandoned. Retry it.`, {
    code: "upstream_idle_timeout",
  });
}

function connectionLost(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  return new ProxyError(502, `The connection to the Codex backend was lost mid-answer (${describe(err)}). Retry the request.`, {
    code: "upstream_connection_lost",
    cause: err,
  });
}

export function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / 1024 / 1024)} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
    return `${err.message}${cause}`;
  }
  return String(err);
}
