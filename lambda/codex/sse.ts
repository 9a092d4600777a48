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
import type { Feed, FeedListener } from "../http/feed.js";
import { Silence } from "../http/silence.js";
import { RAW_DATA, TEXT_DELTA, type WithRawData } from "./events.js";
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
  /** keep each event's data as the backend sent it (RAW_DATA), for a dialect that forwards events unchanged */
  keepRaw?: boolean;
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
 * The events of an upstream body, pushed a batch per read: whatever one read completes goes to the
 * listener at once, in the read's own callback (http/feed.ts says why). The body is read only while
 * the feed is listened to and not paused, so a slow client holds the socket, not memory.
 */
export function readEvents(body: Readable, options: ReadEventsOptions): Feed<CodexEvent> {
  let listener: FeedListener<CodexEvent> | undefined;
  let queue: CodexEvent[] = [];
  let malformed: string | undefined;
  let answerChars = 0;
  let charsWithoutEvent = 0;
  const keepRaw = options.keepRaw === true;
  const parser = createParser({
    onEvent(message) {
      if (message.data === "[DONE]") return;
      answerChars += message.data.length;
      try {
        const event = JSON.parse(message.data) as CodexEvent & WithRawData;
        if (typeof event !== "object" || event === null) throw new Error("not an object");
        if (typeof event.type !== "string") event.type = message.event ?? "";
        // A type goes into the client's `event:` line: a newline in it would forge frames there.
        else if (event.type !== TEXT_DELTA && !EVENT_TYPE.test(event.type)) throw new Error("not an event type");
        else if (keepRaw && !message.data.includes("\n")) event[RAW_DATA] = message.data;
        queue.push(event);
      } catch {
        malformed ??= message.data.slice(0, 200);
      }
    },
  });

  let started = false;
  let paused = false;
  /** the end was delivered, or the reader closed the feed: nothing more goes out */
  let over = false;
  /** an end that came while paused, delivered at `resume` */
  let pendingEnd: { error?: unknown } | undefined;
  let ended = false;
  let idle: ProxyError | undefined;
  // Events, not bytes, break the silence. Time spent paused for a slow client is not upstream
  // silence, so it never counts.
  let silence: Silence | undefined;

  const finish = (failed: boolean) => {
    over = true;
    silence?.stop();
    body.off("data", onData);
    release(body, failed);
    options.onClose?.();
  };
  const end = (error?: unknown) => {
    if (over) return;
    if (paused) {
      pendingEnd ??= error === undefined ? {} : { error };
      return;
    }
    finish(error !== undefined);
    listener?.end(error);
  };
  const deliver = () => {
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    silence?.heard();
    try {
      listener?.batch(batch);
    } catch (err) {
      // A listener's bug ends the feed with it, in-band; thrown here, it would be the socket's to crash on.
      end(err);
    }
  };
  function onData(text: string) {
    if (over) return;
    parser.feed(text);
    // UTF-16 units, not bytes: a bound within a factor of three is bound enough here.
    charsWithoutEvent = queue.length > 0 ? 0 : charsWithoutEvent + text.length;
    const failure =
      malformed !== undefined
        ? new ProxyError(502, `The Codex backend sent an event that is not valid JSON: ${malformed}`, { code: "upstream_malformed_event" })
        : answerChars > options.maxAnswerBytes
          ? answerTooLarge(options.maxAnswerBytes)
          : charsWithoutEvent > options.maxEventBytes
            ? new ProxyError(502, `The Codex backend sent more than ${mib(options.maxEventBytes)} without completing an event; the answer was abandoned. Retry the request.`, {
                code: "upstream_event_too_large",
              })
            : undefined;
    if (failure) {
      queue = [];
      return end(failure);
    }
    deliver();
  }
  const start = () => {
    started = true;
    body.setEncoding("utf8");
    body.once("end", () => {
      ended = true;
      if (over) return;
      parser.reset({ consume: true });
      deliver();
      end();
    });
    body.once("error", (err) => end(idle ?? connectionLost(err)));
    body.once("close", () => {
      if (!ended) end(idle ?? connectionLost(new Error("the connection closed before the answer ended")));
    });
    silence = new Silence(options.idleTimeoutMs, () => {
      if (paused) return;
      idle = idleTimeoutError(options.idleTimeoutMs, "nothing");
      body.destroy(idle);
    });
    body.on("data", onData);
  };

  const feed: Feed<CodexEvent> = {
    listen(next) {
      listener = next;
      if (!started) start();
      feed.resume();
    },
    pause() {
      paused = true;
      body.pause();
    },
    resume() {
      if (!paused || over) return;
      paused = false;
      if (pendingEnd) return end(pendingEnd.error);
      body.resume();
    },
    close() {
      if (!over) finish(false);
    },
  };
  return feed;
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
