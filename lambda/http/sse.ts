/**
 * A dialect's frames -> SSE text, written to whatever carries the response. Each batch of frames
 * (what one upstream read produced) goes out as one write, at once; a slow client is waited for
 * (backpressure) instead of filling memory; a comment goes out when the upstream is silent for a while (long
 * reasoning), so intermediaries and clients do not time the connection out. An `error` or `done`
 * frame ends the body; so does a spent time budget, with the dialect's in-band error frame.
 *
 * Both adapters hand the writer their node stream directly, without web-stream hops; `toResponse`
 * (reply.ts) puts a standard ReadableStream in front of it for a fetch-style caller.
 */
import type { ProxyError } from "../errors.js";
import { isErrorFrame, type Frame } from "./frame.js";
import type { Reply } from "./reply.js";

export type StreamOutcome = "done" | "error" | "cancelled";

/** Where SSE text goes: a node Writable, or a ReadableStream's controller. */
export interface TextSink {
  /** false: wait for `ready()` before writing more */
  write(text: string): boolean;
  /** resolves when more may be written, or the sink has closed */
  ready(): Promise<void>;
  /** the client is gone */
  readonly closed: boolean;
}

export interface SseOptions<F extends Frame> {
  encode: (frame: F) => string;
  keepAliveMs: number;
  /** the text sent after `keepAliveMs` of silence; an SSE comment by default */
  keepAlive?: string;
  /** resolves when the request's time budget is spent; `onExpired` gives the frame to end with */
  expired?: Promise<"expired">;
  onExpired?: () => F;
  /** called once: how the stream ended (with the error frame's error) */
  onEnd: (outcome: StreamOutcome, error?: ProxyError) => void;
  /** the body's reader went away: stop the upstream, so the writer wakes up and ends */
  onCancel: () => void;
}

/** Writes the whole body to `sink`; resolves when it has ended, however it ended. */
export type Writer = (sink: TextSink) => Promise<void>;

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
};

/** A 200 event stream of `head`, then the batches of `rest`. */
export function sseReply<F extends Frame>(head: F[], rest: AsyncIterator<F[]>, options: SseOptions<F>): Reply {
  return { status: 200, headers: { ...SSE_HEADERS }, body: { write: sseWriter(head, rest, options), cancel: options.onCancel } };
}

function sseWriter<F extends Frame>(head: F[], rest: AsyncIterator<F[]>, options: SseOptions<F>): Writer {
  let started = false;
  return async (sink) => {
    if (started) throw new Error("an SSE body is written once");
    started = true;
    let outcome: StreamOutcome | undefined;
    let error: ProxyError | undefined;
    /** the batch as text, up to and including a terminal frame */
    const encode = (frames: F[]): string => {
      let text = "";
      for (const frame of frames) {
        text += options.encode(frame);
        if (isErrorFrame(frame)) {
          outcome = "error";
          error = frame.error;
          break;
        }
        if (frame.kind === "done") {
          outcome = "done";
          break;
        }
      }
      return text;
    };
    const keepAlive = options.keepAlive ?? ": keep-alive\n\n";
    const timer = setTimeout(function tick() {
      if (!sink.closed) sink.write(keepAlive);
      timer.refresh();
    }, options.keepAliveMs);
    const orExpired = <T>(pending: Promise<T>): Promise<T | "expired"> => (options.expired ? Promise.race([pending, options.expired]) : pending);
    const send = async (text: string) => {
      if (text === "" || sink.write(text)) return;
      await orExpired(sink.ready());
    };
    try {
      await send(encode(head));
      while (outcome === undefined && !sink.closed) {
        const pending = rest.next();
        const next = await orExpired(pending);
        if (next === "expired") {
          pending.catch(() => {});
          const frame = options.onExpired?.() as F;
          sink.write(options.encode(frame));
          outcome = "error";
          error = isErrorFrame(frame) ? frame.error : undefined;
          break;
        }
        if (next.done) {
          outcome = "done";
          break;
        }
        timer.refresh();
        await send(encode(next.value));
      }
    } finally {
      clearTimeout(timer);
      if (sink.closed) outcome = "cancelled";
      options.onEnd(outcome ?? "cancelled", outcome === "error" ? error : undefined);
      // Stops the upstream read when the stream ends before it does (client gone, failure, budget).
      await rest.return?.(undefined)?.catch(() => {});
    }
  };
}
