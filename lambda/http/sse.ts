/**
 * Stream frames -> an SSE Response body. Pull-based, so a slow client slows the upstream read
 * instead of filling memory; a comment line goes out when the upstream is silent for a while (long
 * reasoning), so intermediaries and clients do not time the connection out.
 */
import type { StreamFrame } from "../convert/stream.js";
import type { ProxyError } from "../errors.js";

const encoder = new TextEncoder();

export function encodeFrame(frame: StreamFrame): string {
  if (frame.kind === "chunk") return `data: ${JSON.stringify(frame.chunk)}\n\n`;
  if (frame.kind === "error") return `data: ${JSON.stringify(frame.error.toJSON())}\n\n`;
  return "data: [DONE]\n\n";
}

export interface SseOptions {
  keepAliveMs: number;
  /** called once with the last frame's kind (and its error), or "cancelled" when the client went away */
  onEnd: (outcome: StreamFrame["kind"] | "cancelled", error?: ProxyError) => void;
}

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
};

export function sseBody(head: StreamFrame[], rest: AsyncIterator<StreamFrame>, options: SseOptions): ReadableStream<Uint8Array> {
  let pending: Promise<IteratorResult<StreamFrame>> | undefined;
  let ended = false;
  const end = (outcome: StreamFrame["kind"] | "cancelled", error?: ProxyError) => {
    if (ended) return;
    ended = true;
    options.onEnd(outcome, error);
  };

  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const frame of head) controller.enqueue(encoder.encode(encodeFrame(frame)));
    },
    async pull(controller) {
      pending ??= rest.next();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const tick = new Promise<"tick">((resolve) => {
        timer = setTimeout(() => resolve("tick"), options.keepAliveMs);
      });
      const result = await Promise.race([pending, tick]);
      clearTimeout(timer);
      if (result === "tick") {
        controller.enqueue(encoder.encode(": keep-alive\n\n"));
        return;
      }
      pending = undefined;
      if (result.done) {
        controller.close();
        end("done");
        return;
      }
      controller.enqueue(encoder.encode(encodeFrame(result.value)));
      if (result.value.kind !== "chunk") {
        controller.close();
        end(result.value.kind, result.value.kind === "error" ? result.value.error : undefined);
        await rest.return?.();
      }
    },
    async cancel() {
      end("cancelled");
      await rest.return?.();
    },
  });
}
