/**
 * A stream of batches pushed to one listener, in the callback of the read that completed them: the
 * upstream body's events (codex/sse.ts), the frames the pipeline makes of them (pipeline/run.ts) and
 * the SSE writer that sends them (sse.ts) are three listeners chained, so an event crosses all three
 * in one synchronous call, with no promise or async generator between them. Measured (docs/
 * performance.md): with three async hops per event, a converting proxy spent 1.76 times a bare
 * pass-through's CPU per long answer at 16 streams; pushed, 1.31 times. Backpressure runs the other
 * way: a listener that cannot take more pauses the feed, which pauses the socket it reads.
 */

export interface FeedListener<T> {
  /** what one read completed (never empty) */
  batch(items: T[]): void;
  /** the feed is over: ended, or failed with `error`. Called once, and nothing follows. */
  end(error?: unknown): void;
}

export interface Feed<T> {
  /** Delivers to `listener` from now on (it replaces the one before) and resumes the feed. */
  listen(listener: FeedListener<T>): void;
  /** no batch until `resume`; an end that comes meanwhile waits too */
  pause(): void;
  resume(): void;
  /** Done with it: nothing more is delivered, and what it reads is let go. */
  close(): void;
}

/** A feed's batches after `map`; `map` may close the source (at the answer's end), `end` gives the last batch. */
export function mapFeed<A, B>(source: Feed<A>, map: (batch: A[]) => B[], end: (error?: unknown) => B[]): Feed<B> {
  return {
    listen(listener) {
      source.listen({
        batch(items) {
          const mapped = map(items);
          if (mapped.length > 0) listener.batch(mapped);
        },
        end(error) {
          const last = end(error);
          if (last.length > 0) listener.batch(last);
          listener.end();
        },
      });
    },
    pause: () => source.pause(),
    resume: () => source.resume(),
    close: () => source.close(),
  };
}

/** The feed's next batch, the feed paused after it; undefined when it ends first (its failure is thrown). */
export function nextBatch<T>(feed: Feed<T>): Promise<T[] | undefined> {
  return new Promise((resolve, reject) => {
    let settled = false;
    feed.listen({
      batch(items) {
        if (settled) return;
        settled = true;
        feed.pause();
        resolve(items);
      },
      end(error) {
        if (settled) return;
        settled = true;
        if (error === undefined) resolve(undefined);
        else reject(error);
      },
    });
  });
}
