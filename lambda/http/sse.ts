/**
 * A dialect's frames -> an SSE Response body. Pull-based, so a slow client slows the upstream read
 * instead of filling memory; a comment line goes out when the upstream is silent for a while (long
 * reasoning), so intermediaries and clients do not time the connection out. An `error` or `done`
 * frame ends the body; so does a spent time budget, with the dialect's in-band error frame.
 */
import type { ProxyError } from "../errors.js";
import { isErrorFrame, type Frame } from "../pipeline/dialect.js";

const encoder = new TextEncoder();

export type StreamOutcome = "done" | "error" | "cancelled";

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
}

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
};

export function sseBody<F extends Frame>(head: F[], rest: AsyncIterator<F>, options: SseOptions<F>): ReadableStream<Uint8Array> {
  let pending: Promise<IteratorResult<F>> | undefined;
  let ended = false;
  const end = (outcome: StreamOutcome, error?: ProxyError) => {
    if (ended) return;
    ended = true;
    options.onEnd(outcome, error);
  };

  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const frame of head) controller.enqueue(encoder.encode(options.encode(frame)));
    },
    async pull(controller) {
      pending ??= rest.next();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const tick = new Promise<"tick">((resolve) => {
        timer = setTimeout(() => resolve("tick"), options.keepAliveMs);
      });
      // Without a budget nothing else is raced: a promise that never settles would gather a reaction per frame.
      const result = await (options.expired ? Promise.race([pending, tick, options.expired]) : Promise.race([pending, tick]));
      clearTimeout(timer);
      if (result === "tick") {
        controller.enqueue(encoder.encode(options.keepAlive ?? ": keep-alive\n\n"));
        return;
      }
      if (result === "expired") {
        const frame = options.onExpired?.() as F;
        controller.enqueue(encoder.encode(options.encode(frame)));
        controller.close();
        end("error", isErrorFrame(frame) ? frame.error : undefined);
        pending?.catch(() => {});
        void rest.return?.(undefined)?.catch(() => {});
        return;
      }
      pending = undefined;
      if (result.done) {
        controller.close();
        end("done");
        return;
      }
      const frame = result.value;
      controller.enqueue(encoder.encode(options.encode(frame)));
      if (isErrorFrame(frame) || frame.kind === "done") {
        controller.close();
        end(isErrorFrame(frame) ? "error" : "done", isErrorFrame(frame) ? frame.error : undefined);
        await rest.return?.(undefined);
      }
    },
    async cancel() {
      end("cancelled");
      await rest.return?.(undefined);
    },
  });
}
