/** Writing a Response's body to a node Writable (a ServerResponse, Lambda's response stream). */
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { takeWriter, type TextSink } from "./sse.js";

/** The body into `out`, which is ended: an SSE body through its writer, without web streams; any other piped with backpressure. */
export async function writeBody(response: Response, out: Writable): Promise<void> {
  const writer = takeWriter(response);
  if (writer) {
    await writer(writableSink(out));
    out.end();
    return;
  }
  if (!response.body) {
    out.end();
    return;
  }
  await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), out);
}

function writableSink(out: Writable): TextSink {
  let closed = false;
  const onClose = () => {
    closed = true;
  };
  out.once("close", onClose);
  out.once("error", onClose); // a write to a vanished client is that client's loss, not a crash
  return {
    write: (text) => !closed && out.write(text),
    ready: () =>
      new Promise<void>((resolve) => {
        if (closed || !out.writableNeedDrain) return resolve();
        const done = () => {
          out.off("drain", done);
          out.off("close", done);
          resolve();
        };
        out.once("drain", done);
        out.once("close", done);
      }),
    get closed() {
      return closed || out.destroyed;
    },
  };
}
