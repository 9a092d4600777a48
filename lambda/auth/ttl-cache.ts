/**
 * A value read from somewhere slow (Secrets Manager), kept for a TTL at module scope so warm Lambda
 * invocations reuse it, with at most one read in flight: a cold start under 50 concurrent requests
 * makes one call, not 50.
 */
export class TtlCache<T> {
  private value: { data: T; expiresAt: number } | undefined;
  private inflight: Promise<T> | undefined;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<T> {
    if (this.value && this.value.expiresAt > this.now()) return this.value.data;
    return this.refresh();
  }

  /** Reads again now (joining a read already under way). */
  refresh(): Promise<T> {
    this.inflight ??= this.read()
      .then((data) => {
        this.value = { data, expiresAt: this.now() + this.ttlMs };
        return data;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  /** When the cached value was read, if any (ms since epoch). */
  get readAt(): number | undefined {
    return this.value ? this.value.expiresAt - this.ttlMs : undefined;
  }
}
