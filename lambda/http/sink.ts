/** Writing a Reply's body to a node Writable (a ServerResponse, Lambda's response stream). */
import type { Writable } from "node:stream";
import { isStreamed, type Reply } from "./reply.js";
import type { TextSink } from "./sse.js";

/** The body into `out`, which is then ended: text in one write, an event stream through its writer under backpressure. */
export async function writeBody(reply: Reply, out: Writable): Promise<void> {
  if (isStreamed(reply)) {
    await reply.body.write(writableSink(out));
    out.end();
    return;
  }
  out.end(reply.body ?? undefined);
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
