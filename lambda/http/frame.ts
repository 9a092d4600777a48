/**
 * A frame of a client's event stream, as the transport (sse.ts) sees it: an `error` frame carries the
 * failure that ends the stream, a `done` frame ends it as a success, any other kind is data. Each
 * dialect defines its own data frames on this base; the transport needs nothing more of them.
 */
import type { ProxyError } from "../errors.js";

export type Frame = { kind: string } & ({ kind: "error"; error: ProxyError } | { kind: "done" } | { kind: string });

export function isErrorFrame(frame: Frame): frame is { kind: "error"; error: ProxyError } {
  return frame.kind === "error";
}
