/**
 * A frame of a client's event stream, as the transport (sse.ts) sees it: a dialect's data frame, or
 * one of the two frames that end a stream: `error` (with the failure) or `done` (a success). Each
 * dialect names its data frames' kinds; the transport needs nothing more of them.
 */
import type { ProxyError } from "../errors.js";

export interface ErrorFrame {
  kind: "error";
  error: ProxyError;
}

export interface DoneFrame {
  kind: "done";
}

/** A dialect's data frames `D`, its error frame `E` (the base one, or one carrying more) and `done`. */
export type Frame<D extends { kind: string } = { kind: string }, E extends ErrorFrame = ErrorFrame> = D | E | DoneFrame;

/** The one `done` frame: it carries nothing, so every stream shares it. */
export const DONE: DoneFrame = Object.freeze({ kind: "done" as const });

export function isErrorFrame(frame: { kind: string }): frame is ErrorFrame {
  return frame.kind === "error";
}
