/**
 * Upstream SSE bytes -> parsed events. Framing is left to eventsource-parser; this module adds what a
 * proxy needs on top: JSON decoding by the `type` field, an idle timeout that counts events rather
 * than bytes (a backend dripping comment bytes must not hold a request forever), a cap on how much
 * text one event may take (a line that never ends must not grow without bound), and transport errors
 * turned into ProxyErrors so the stream converter can report them in-band.
 */
import { createParser } from "eventsource-parser";
import type { Readable } from "node:stream";
import { ProxyError } from "../errors.js";
import { RAW_DATA, type WithRawData } from "./events.js";
import type { CodexEvent } from "./types.js";

export interface ReadEventsOptions {
  idleTimeoutMs: number;
  /** the most bytes the backend may send without completing an event */
  maxEventBytes: number;
  /**
   * The most event data one answer may bring: what a request holds of its answer (a non-streamed
   * answer, the output items a Responses stream repeats at its end) is never more than this.
   */
  maxAnswerBytes: number;
  /** called once when the stream is finished with, however it ended */
  onClose?: () => void;
}

export const MAX_EVENT_BYTES = 16 * 1024 * 1024;
/** What an event type may be: a name like `response.output_text.delta`. */
const EVENT_TYPE = /^[\w.:-]{1,200}$/;

function answerTooLarge(maxBytes: number): ProxyError {
  return new ProxyError(
    502,
    `The backend's answer grew past ${mib(maxBytes)}, more than one answer may hold (a model's longest answers are a few MiB); it was abandoned. Retry the request, or ask for a shorter answer.`,
    {
      code: "answer_too_large",
    },
  );
}

/**
 * The events of an upstream body, a batch per read: whatever one read completes goes on together,
 * so a busy connection costs one hop per read rather than per event.
 */
export async function* readEvents(body: Readable, options: ReadEventsOptions): AsyncGenerator<CodexEvent[]> {
  const read = textReader(body);
  let queue: CodexEvent[] = [];
  let malformed: string | undefined;
  let answerChars = 0;
  const parser = createParser({
    onEvent(message) {
      if (message.data === "[DONE]") return;
      answerChars += message.data.length;
      try {
        const event = JSON.parse(message.data) as CodexEvent & WithRawData;
        if (typeof event !== "object" || event === null) throw new Error("not an object");
        if (typeof event.type !== "string") event.type = message.event ?? "";
        // A type goes into the client's `event:` line: a newline in it would forge frames there.
        else if (!EVENT_TYPE.test(event.type)) throw new Error("not an event type");
        else if (!message.data.includes("\n")) event[RAW_DATA] = message.data;
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
    body.destroy(idle);
  }, options.idleTimeoutMs);
  let charsWithoutEvent = 0;
  let failed = false;

  try {
    for (;;) {
      let text: string | undefined;
      reading = true;
      try {
        text = await read();
      } catch (err) {
        failed = true;
        throw idle ?? connectionLost(err);
      } finally {
        reading = false;
      }
      if (text === undefined) {
        parser.reset({ consume: true });
      } else {
        parser.feed(text);
        // UTF-16 units, not bytes: a bound within a factor of three is bound enough here.
        charsWithoutEvent = queue.length > 0 ? 0 : charsWithoutEvent + text.length;
      }
      if (malformed !== undefined) {
        failed = true;
        throw new ProxyError(502, `The Codex backend sent an event that is not valid JSON: ${malformed}`, { code: "upstream_malformed_event" });
      }
      if (answerChars > options.maxAnswerBytes) {
        failed = true;
        throw answerTooLarge(options.maxAnswerBytes);
      }
      if (charsWithoutEvent > options.maxEventBytes) {
        failed = true;
        throw new ProxyError(502, `The Codex backend sent more than ${mib(options.maxEventBytes)} without completing an event; the answer was abandoned. Retry the request.`, {
          code: "upstream_event_too_large",
        });
      }
      if (queue.length > 0) {
        const batch = queue;
        queue = [];
        timer.refresh();
        yield batch;
      }
      if (text === undefined) return;
    }
  } finally {
    clearTimeout(timer);
    release(body, failed);
    options.onClose?.();
  }
}

const HIGH_WATER = 64 * 1024;

/**
 * A body as text, read as fast as it comes: everything that arrived since the last call comes back
 * at once (undefined at the end). Reading pauses only when that much is waiting unread.
 */
function textReader(body: Readable): () => Promise<string | undefined> {
  body.setEncoding("utf8");
  let buffered = "";
  let ended = false;
  let failure: unknown;
  let waiter: (() => void) | undefined;
  const wake = () => {
    const w = waiter;
    waiter = undefined;
    w?.();
  };
  body.on("data", (chunk: string) => {
    buffered += chunk;
    if (buffered.length > HIGH_WATER) body.pause();
    wake();
  });
  body.once("end", () => {
    ended = true;
    wake();
  });
  body.once("error", (err) => {
    failure = err;
    wake();
  });
  body.once("close", () => {
    if (!ended) failure ??= new Error("the connection closed before the answer ended");
    wake();
  });
  return async function read() {
    for (;;) {
      if (buffered !== "") {
        const text = buffered;
        buffered = "";
        if (body.isPaused()) body.resume();
        return text;
      }
      if (failure !== undefined) throw failure;
      if (ended) return undefined;
      await new Promise<void>((resolve) => (waiter = resolve));
    }
  };
}

/**
 * Done with a body: one read to its end goes back to the pool. A consumer that stopped at the
 * terminal event usually has only the end of the chunked body left, so that is awaited briefly
 * rather than throwing the connection (and its TLS session) away; a failed one is closed at once.
 */
function release(body: Readable, failed: boolean): void {
  if (body.readableEnded || body.destroyed) return;
  if (failed) return void body.destroy();
  const timer = setTimeout(() => body.destroy(), 1000);
  body.once("end", () => clearTimeout(timer));
  body.once("error", () => clearTimeout(timer));
  body.resume();
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
