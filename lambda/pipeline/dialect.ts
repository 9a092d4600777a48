/**
 * What a dialect (a client-facing API: Chat Completions, Responses, …) gives the pipeline. Everything
 * that knows a wire format lives behind this interface, in the dialect's own folder; the pipeline
 * (run.ts) knows none of them.
 */
import type { CodexEvent, UpstreamRequest } from "../codex/types.js";
import type { ProxyError } from "../errors.js";
import type { Reply } from "../http/reply.js";
import type { Frame } from "../http/frame.js";
import type { AppRequest } from "../http/request.js";
import type { LogFields } from "../log.js";
import type { ResolvedModel } from "../models/catalog.js";

export { isErrorFrame, type Frame } from "../http/frame.js";

/** Upstream events -> the dialect's frames, one request's worth of state. */
export interface StreamConverter<F extends Frame> {
  push(event: CodexEvent): F[];
  /** The upstream ended without a terminal event: a truncation, never a success. */
  end(): F[];
  /** An in-band frame for a failure the pipeline saw (transport, time budget, a bug). */
  fail(error: ProxyError): F;
  readonly isFinished: boolean;
}

/**
 * Frames -> the one JSON answer of a request that did not ask to stream. What it may hold is bounded
 * before it sees a frame: the upstream reader caps the event data of one answer (codex/sse.ts).
 */
export interface Collector<F extends Frame> {
  add(frame: F): void;
  result(): unknown;
}

export interface Conversion<F extends Frame> {
  body: UpstreamRequest;
  stream: boolean;
  /** added to the request's log line */
  fields: LogFields;
  converter(meta: { requestedModel: string; now: () => number }): StreamConverter<F>;
  collector(): Collector<F>;
}

export interface Dialect<F extends Frame> {
  /** names the dialect in logs and metrics */
  readonly name: string;
  /** Checks a request body and converts it to the upstream body; throws a 400 ProxyError. */
  convert(raw: unknown, model: ResolvedModel): Conversion<F>;
  /** One frame as SSE text. */
  encode(frame: F): string;
  /** An error before anything was streamed, as this dialect's clients expect it. */
  errorReply(error: ProxyError): Reply;
  /** What goes out while the upstream is silent; an SSE comment when unset. */
  readonly keepAlive?: string;
  /** The upstream model for a name the catalog does not know, if the dialect maps foreign names. */
  modelFallback?(name: string): string | undefined;
  /** Where this dialect's clients put the proxy's key, when not in `Authorization: Bearer` alone. */
  readonly clientKey?: ClientKey;
}

export interface ClientKey {
  /** the key as an Authorization value, or null */
  read(request: AppRequest): string | null;
  /** how the clients send it, for the advice of a 401 */
  hint: string;
}
