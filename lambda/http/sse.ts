/**
 * A dialect's frames -> SSE text, written to whatever carries the response. Each batch of frames
 * (what one upstream read produced) goes out as one write, at once, in the read's own callback
 * (feed.ts); a slow client pauses the upstream read (backpressure) instead of filling memory; a comment goes out when the upstream is silent for a while (long
 * reasoning), so intermediaries and clients do not time the connection out. An `error` or `done`
 * frame ends the body; so does a spent time budget, with the dialect's in-band error frame.
 *
 * Both adapters hand the writer their node stream directly, without web-stream hops; `toResponse`
 * (reply.ts) puts a standard ReadableStream in front of it for a fetch-style caller.
 */
import type { ProxyError } from "../errors.js";
import type { Feed } from "./feed.js";
import { isErrorFrame, type Frame } from "./frame.js";
import { Silence } from "./silence.js";
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
export function sseReply<F extends Frame>(head: F[], rest: Feed<F>, options: SseOptions<F>): Reply {
  return { status: 200, headers: { ...SSE_HEADERS }, body: { write: sseWriter(head, rest, options), cancel: options.onCancel } };
}

function sseWriter<F extends Frame>(head: F[], rest: Feed<F>, options: SseOptions<F>): Writer {
  let started = false;
  return (sink) =>
    new Promise<void>((resolve, reject) => {
      if (started) throw new Error("an SSE body is written once");
      started = true;
      let outcome: StreamOutcome | undefined;
      let error: ProxyError | undefined;
      let over = false;
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
      const silence = new Silence(options.keepAliveMs, () => {
        if (!sink.closed) sink.write(keepAlive);
      });
      const finish = () => {
        if (over) return;
        over = true;
        silence.stop();
        // Stops the upstream read when the stream ends before it does (client gone, failure, budget).
        rest.close();
        if (sink.closed) outcome = "cancelled";
        options.onEnd(outcome ?? "cancelled", outcome === "error" ? error : undefined);
        resolve();
      };
      /** one batch out, in the upstream read's own callback; a full sink pauses the upstream until it drains */
      const send = (frames: F[]) => {
        if (over) return;
        try {
          silence.heard();
          const text = encode(frames);
          if (outcome !== undefined || sink.closed) {
            if (text !== "") sink.write(text);
            return finish();
          }
          if (text === "" || sink.write(text)) return;
          rest.pause();
          sink.ready().then(() => {
            if (over) return;
            if (sink.closed) return finish();
            rest.resume();
          }, fail);
        } catch (err) {
          fail(err);
        }
      };
      const fail = (err: unknown) => {
        reject(err); // before finish settles the promise as a success
        finish();
      };
      send(head);
      if (over) return;
      rest.listen({ batch: send, end: finish });
      options.expired?.then(() => {
        if (over) return;
        const frame = options.onExpired?.() as F;
        sink.write(options.encode(frame));
        outcome = "error";
        error = isErrorFrame(frame) ? frame.error : undefined;
        finish();
      }, fail);
    });
}
