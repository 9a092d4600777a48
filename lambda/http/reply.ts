/**
 * What the app answers, as plain values: a status, headers and a body that is text, an SSE writer or
 * nothing. Both adapters write a Reply straight to their node stream, so serving a request builds no
 * fetch `Response`, `Headers` or `ReadableStream` (Node's fetch implementation was 4.6 MB of the local
 * server's resident memory). `toResponse` is the fetch view of the same answer, for a fetch-style
 * caller.
 */
import type { TextSink, Writer } from "./sse.js";

export interface Reply {
  status: number;
  /** lower-case names; the app adds its own (CORS, usage windows, request id) in place */
  headers: Record<string, string>;
  body: string | SseBody | null;
}

/** An event stream, written once by whoever serves the reply. */
export interface SseBody {
  write: Writer;
  /** the reader went away before the end: stop the upstream so the writer wakes up and ends */
  cancel: () => void;
}

export function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(value) };
}

export function isStreamed(reply: Reply): reply is Reply & { body: SseBody } {
  return typeof reply.body === "object" && reply.body !== null;
}

export function toResponse(reply: Reply): Response {
  const body = isStreamed(reply) ? bodyStream(reply.body) : (reply.body as string | null);
  return new Response(body, { status: reply.status, headers: reply.headers });
}

const encoder = new TextEncoder();

const CLOSED: TextSink = { write: () => false, ready: () => Promise.resolve(), closed: true };

/** The writer behind a standard ReadableStream, started at the first read. */
function bodyStream({ write, cancel }: SseBody): ReadableStream<Uint8Array> {
  let wake: (() => void) | undefined;
  let closed = false;
  /** the writer runs once, from the first read or from a cancel before it */
  let started = false;
  const ready = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        ready();
        if (started) return;
        started = true;
        void write({
          write(text) {
            if (closed) return false;
            controller.enqueue(encoder.encode(text));
            return (controller.desiredSize ?? 0) > 0;
          },
          ready: () => (closed ? Promise.resolve() : new Promise<void>((resolve) => (wake = resolve))),
          get closed() {
            return closed;
          },
        }).then(
          () => {
            if (!closed) controller.close();
            closed = true;
          },
          (err: unknown) => {
            if (!closed) controller.error(err);
            closed = true;
          },
        );
      },
      cancel() {
        closed = true;
        ready();
        cancel();
        // Cancelled before the first read: the writer still runs, to a closed sink, so it ends the
        // upstream read (its connection slot and idle timer) and reports how the stream ended.
        if (started) return;
        started = true;
        write(CLOSED).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}
