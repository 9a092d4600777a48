/**
 * Local mode: look at the login every `intervalMs` even when no request comes, so an idle proxy
 * refreshes it on time (as the deployed stack's daily rotation does) rather than on the first
 * request after a long pause. `get()` refreshes only when one is due. The timer never keeps the
 * process alive.
 */
import type { Logger } from "../log.js";
import type { TokenSource } from "./tokens.js";

export function keepFresh(tokens: TokenSource, intervalMs: number, log: Logger): () => void {
  const timer = setInterval(() => {
    tokens.get().catch((err: unknown) => log.warn("background login check failed; the next request will try again", { error: err instanceof Error ? err.message : String(err) }));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
