/**
 * A dialect's frames -> SSE text, written to whatever carries the response. Each batch of frames
 * (what one upstream read produced) goes out as one write, at once; a slow client is waited for
 * (backpressure) instead of filling memory; a comment goes out when the upstream is silent for a while (long
 * reasoning), so intermediaries and clients do not time the connection out. An `error` or `done`
 * frame ends the body; so does a spent time budget, with the dialect's in-band error frame.
 *
 * The body is a standard ReadableStream for any fetch-style caller, and both adapters take the
 * writer itself (`takeWriter`) to write to their node stream directly, without web-stream hops.
 */
import type { ProxyError } from "../errors.js";
import { isErrorFrame, type Frame } from "../pipeline/dialect.js";

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

const writers = new WeakMap<Response, Writer>();

/** The response's SSE writer, for an adapter to drive; the body stream is then never read. */
export function takeWriter(response: Response): Writer | undefined {
  const writer = writers.get(response);
  writers.delete(response);
  return writer;
}

export function sseResponse<F extends Frame>(head: F[], rest: AsyncIterator<F[]>, options: SseOptions<F>, init: ResponseInit): Response {
  const writer = sseWriter(head, rest, options);
  const response = new Response(bodyStream(writer, options.onCancel), init);
  writers.set(response, writer);
  return response;
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

const encoder = new TextEncoder();

/** The writer behind a standard ReadableStream; it starts at the first read, so an adapter taking the writer instead never starts it. */
function bodyStream(writer: Writer, onCancel: () => void): ReadableStream<Uint8Array> {
  let wake: (() => void) | undefined;
  let closed = false;
  let running: Promise<void> | undefined;
  const ready = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        ready();
        running ??= writer({
          write(text) {
            if (closed) return false;
            controller.enqueue(encoder.encode(text));
            return (controller.desiredSize ?? 0) > 0;
          },
          ready: () => (closed ? Promise.resolve() : new Promise<void>((resolve) => (wake = resolve))),
          get closed() {
            return closed;
          },
        }).then(
          () => {
            if (!closed) controller.close();
            closed = true;
          },
          (err: unknown) => {
            if (!closed) controller.error(err);
            closed = true;
          },
        );
      },
      cancel() {
        closed = true;
        ready();
        onCancel();
      },
    },
    { highWaterMark: 0 },
  );
}
