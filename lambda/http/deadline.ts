/**
 * A time budget for one request. Inside Lambda a client disconnect is invisible and the function is
 * killed at its timeout, so every request must end on its own before then: before the status is out
 * that is a 504; mid-stream it is an in-band error frame and a clean end — never a silent cut.
 */
import { ProxyError } from "../errors.js";
import { encodeFrame } from "./sse.js";

export function deadlineError(budgetMs: number): ProxyError {
  return new ProxyError(
    504,
    `The answer did not finish within this deployment's time budget (${Math.round(budgetMs / 1000)} s) and was stopped. Ask for a shorter answer, or raise the function timeout.`,
    { code: "deadline_exceeded" },
  );
}

/**
 * Lambda's remaining time less a margin to write the error and end the stream. At least a second:
 * on a small function a cold Node 24 process was seen to need over half a second between the
 * budget's timer and the last byte leaving (a late timer, aborting the upstream, the final write).
 */
export function budgetFrom(remainingMs: number): number {
  return Math.max(1, remainingMs - Math.min(10_000, Math.max(1_000, remainingMs * 0.1)));
}

/**
 * Resolves to `pending`'s response bounded by `budgetMs`; `abort` is fired when the budget runs
 * out so the upstream call stops too.
 */
export async function respondWithin(pending: Promise<Response>, budgetMs: number, abort: AbortController): Promise<Response> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"expired">((resolve) => {
    timer = setTimeout(() => resolve("expired"), budgetMs);
  });
  const first = await Promise.race([pending, expired]);
  if (first === "expired") {
    abort.abort();
    pending.catch(() => {}); // it will reject with the abort; nobody is waiting for it any more
    return deadlineError(budgetMs).toResponse();
  }
  const isStream = first.body !== null && (first.headers.get("content-type") ?? "").startsWith("text/event-stream");
  if (!isStream || !first.body) {
    clearTimeout(timer);
    return first;
  }
  const body = bounded(first.body, expired, budgetMs, abort, () => clearTimeout(timer));
  return new Response(body, { status: first.status, headers: first.headers });
}

function bounded(
  inner: ReadableStream<Uint8Array>,
  expired: Promise<"expired">,
  budgetMs: number,
  abort: AbortController,
  done: () => void,
): ReadableStream<Uint8Array> {
  const reader = inner.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await Promise.race([reader.read(), expired]);
      if (next === "expired") {
        abort.abort();
        void reader.cancel().catch(() => {});
        controller.enqueue(new TextEncoder().encode(encodeFrame({ kind: "error", error: deadlineError(budgetMs) })));
        controller.close();
        return;
      }
      if (next.done) {
        done();
        controller.close();
        return;
      }
      controller.enqueue(next.value);
    },
    async cancel(reason) {
      done();
      await reader.cancel(reason);
    },
  });
}
