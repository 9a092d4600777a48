/** A node Writable (a ServerResponse, Lambda's response stream) as the SSE writer's sink. */
import type { Writable } from "node:stream";
import type { TextSink } from "./sse.js";

export function writableSink(out: Writable): TextSink {
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
