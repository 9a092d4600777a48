/**
 * An optional cap on concurrent upstream streams (UPSTREAM_MAX_CONNECTIONS). A request that finds
 * every slot taken waits, but only for a bounded time: it then gets a 503 that says why, instead of
 * queueing silently behind answers that may take minutes.
 */
import { ProxyError } from "../errors.js";

export class UpstreamSlots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];

  /** `max` undefined means no cap. */
  constructor(
    private readonly max: number | undefined,
    private readonly waitMs: number,
  ) {}

  /** Resolves to the release function once a slot is held. */
  async acquire(signal: AbortSignal): Promise<() => void> {
    if (this.max === undefined) return noop;
    if (this.used < this.max) return this.take();
    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        cleanup();
        resolve();
      };
      const fail = (error: unknown) => {
        cleanup();
        const i = this.waiting.indexOf(wake);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(error);
      };
      const timer = setTimeout(() => fail(this.busyError()), this.waitMs);
      const onAbort = () => fail(signal.reason);
      const cleanup = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(wake);
    });
    return this.take(true);
  }

  private take(handedOver = false): () => void {
    if (!handedOver) this.used++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next)
        next(); // the slot passes straight to the next waiter
      else this.used--;
    };
  }

  private busyError(): ProxyError {
    return new ProxyError(
      503,
      `All ${this.max} upstream connections (UPSTREAM_MAX_CONNECTIONS) stayed busy for ${Math.round(this.waitMs / 1000)} s. Retry in a moment, or raise UPSTREAM_MAX_CONNECTIONS.`,
      { code: "upstream_busy", headers: { "retry-after": "5" } },
    );
  }
}

const noop = (): void => {};
