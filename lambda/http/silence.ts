/**
 * Noticing that a stream has gone quiet: `onSilence` runs once `ms` have passed without a `heard()`,
 * then again after each further `ms` of quiet. Used for the upstream's idle timeout (codex/sse.ts)
 * and the keep-alive comments to the client (sse.ts), which both hear every event of an answer.
 *
 * `heard()` only sets a flag, since it runs once per event: pushing a timer back instead (refresh)
 * reads the loop's clock and relinks the timer each time, 3% of the CPU of a streamed event in a
 * profile. The price is precision: the quiet is checked in eighths of `ms`, so `onSilence` comes
 * after between `ms` and 1.125 times `ms` of quiet.
 */
const SLICES = 8;

export class Silence {
  private heardSince = false;
  private quietSlices = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(ms: number, onSilence: () => void) {
    this.timer = setInterval(
      () => {
        if (this.heardSince) {
          this.heardSince = false;
          this.quietSlices = 0;
        } else if (++this.quietSlices >= SLICES) {
          this.quietSlices = 0;
          onSilence();
        }
      },
      Math.max(1, ms / SLICES),
    );
  }

  heard(): void {
    this.heardSince = true;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
