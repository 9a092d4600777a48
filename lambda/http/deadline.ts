/**
 * A time budget for one request. Inside Lambda a client disconnect is invisible and the function is
 * killed at its timeout, so every request must end on its own before then: before the status is out
 * that is a 504; mid-stream it is the dialect's in-band error frame and a clean end — never a silent
 * cut. The pipeline (pipeline/run.ts) enforces it where a dialect is known; `respondWithin` is the
 * adapter's backstop for everything before that (reading secrets, checking keys).
 */
import { ProxyError } from "../errors.js";
import type { Reply } from "./reply.js";

export function deadlineError(budgetMs: number): ProxyError {
  return new ProxyError(
    504,
    `The answer did not finish within this deployment's time budget (${Math.round(budgetMs / 1000)} s) and was stopped. Ask for a shorter answer, or raise the function timeout.`,
    { code: "deadline_exceeded" },
  );
}

/**
 * Lambda's remaining time less a margin to write the error and end the stream: 10% of it, at least
 * two seconds and at most ten. A cold Node 24 process was seen to need over half a second between the
 * budget's timer and the last byte leaving (a late timer, aborting the upstream, the final write),
 * and more on a starved CPU — a small function has a seventh of a core.
 */
export function budgetFrom(remainingMs: number): number {
  return Math.max(1, remainingMs - Math.min(10_000, Math.max(2_000, remainingMs * 0.1)));
}

/**
 * Resolves to `pending`'s response, or to a 504 once `budgetMs` has passed (`abort` is then fired so
 * the work stops too), rendered as the route's clients expect it. Only the wait for the response is
 * bounded: its body is the pipeline's business.
 */
export async function respondWithin(pending: Promise<Reply>, budgetMs: number, abort: AbortController, render: (error: ProxyError) => Reply = (e) => e.toReply()): Promise<Reply> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"expired">((resolve) => {
    timer = setTimeout(() => resolve("expired"), budgetMs);
  });
  try {
    const first = await Promise.race([pending, expired]);
    if (first !== "expired") return first;
    abort.abort();
    pending.catch(() => {}); // it will reject with the abort; nobody is waiting for it any more
    return render(deadlineError(budgetMs));
  } finally {
    clearTimeout(timer);
  }
}

/** `pending`, or the budget's 504 once `ms` have passed. */
export async function beforeDeadline<T>(pending: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(deadlineError(ms)), ms);
  });
  try {
    return await Promise.race([pending, expired]);
  } finally {
    clearTimeout(timer);
    pending.catch(() => {}); // settled or abandoned: nobody waits for it any more
  }
}
