/**
 * The benchmark's client: raw node:http with keep-alive (no fetch, no SDK), so it costs as little
 * CPU as a client can and the same for every side. It notes when the answer's first text arrives and
 * checks the stream ended with its success terminator: a cut stream is counted as a failure.
 */
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";

export interface Side {
  name: string;
  port: number;
  path: string;
  headers: Record<string, string>;
  body: (long: boolean) => string;
  /** bytes that appear only once the first text delta is out */
  firstText: string;
  /** bytes that appear only in a stream that ended well */
  terminator: string;
}

export interface Sample {
  first: number;
  total: number;
  ok: boolean;
}

const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

export function stream(side: Side, long: boolean): Promise<Sample> {
  const body = side.body(long);
  const firstText = Buffer.from(side.firstText);
  const terminator = Buffer.from(side.terminator);
  return new Promise((resolve) => {
    const started = performance.now();
    let first = 0;
    let ended = false;
    let tail: Buffer = Buffer.alloc(0);
    const seen = (chunk: Buffer, what: Buffer) => chunk.includes(what) || (tail.length > 0 && Buffer.concat([tail, chunk.subarray(0, what.length)]).includes(what));
    const req = request(
      {
        agent,
        host: "127.0.0.1",
        port: side.port,
        path: side.path,
        method: "POST",
        headers: { ...side.headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        res.on("data", (chunk: Buffer) => {
          if (first === 0 && seen(chunk, firstText)) first = performance.now() - started;
          if (!ended && seen(chunk, terminator)) ended = true;
          tail = chunk.subarray(-48);
        });
        res.on("end", () => resolve({ first, total: performance.now() - started, ok: res.statusCode === 200 && first > 0 && ended }));
        res.on("error", () => resolve({ first, total: performance.now() - started, ok: false }));
      },
    );
    req.on("error", () => resolve({ first: 0, total: performance.now() - started, ok: false }));
    req.end(body);
  });
}

/** `concurrency` streams at once, `rounds` times over. */
export async function burst(side: Side, long: boolean, concurrency: number, rounds = 1): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let r = 0; r < rounds; r++) samples.push(...(await Promise.all(Array.from({ length: concurrency }, () => stream(side, long)))));
  return samples;
}

export function closeClient(): void {
  agent.destroy();
}

export const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
};
