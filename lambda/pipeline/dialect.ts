/**
 * What a dialect (a client-facing API: Chat Completions, Responses, …) gives the pipeline. Everything
 * that knows a wire format lives behind this interface, in the dialect's own folder; the pipeline
 * (run.ts) knows none of them. A dialect says *what* the client sees; when a stream begins, fails, is
 * cut or ends is the pipeline's to decide (stream-life.ts), the same for every dialect.
 */
import type { CodexEvent, UpstreamRequest } from "../codex/types.js";
import type { ProxyError } from "../errors.js";
import type { ErrorFrame, Frame } from "../http/frame.js";
import type { AppRequest } from "../http/request.js";
import type { Reply } from "../http/reply.js";
import type { LogFields } from "../log.js";
import type { ResolvedModel } from "../models/catalog.js";

export type { ErrorFrame, Frame } from "../http/frame.js";

/** A dialect's data frames: anything with a kind of its own (never `error` or `done`). */
export type DataFrame = { kind: string };

/** Upstream events -> the dialect's frames, one answer's worth of state. */
export interface EventMapper<D extends DataFrame, E extends ErrorFrame = ErrorFrame> {
  /** The backend has accepted the request: the answer's first frames, given the handshake events it sent before. */
  begin(handshake: CodexEvent[]): D[];
  /** An event of the answer, neither its end nor a failure. */
  map(event: CodexEvent): D[];
  /** The terminal event (`response.completed` or `response.incomplete`): the answer's last frames, before `done`. */
  finish(event: CodexEvent): D[];
  /**
   * The frame that ends the stream with `error`. `cause`: the backend's `error` or `response.failed`
   * event, when the failure came from the backend.
   */
  fail(error: ProxyError, cause?: CodexEvent): E;
}

/**
 * Data frames -> the one JSON answer of a request that did not ask to stream. What it may hold is
 * bounded before it sees a frame: the upstream reader caps the event data of one answer (codex/sse.ts).
 */
export interface Collector<D extends DataFrame> {
  add(frame: D): void;
  result(): unknown;
}

export interface Conversion<D extends DataFrame, E extends ErrorFrame = ErrorFrame> {
  body: UpstreamRequest;
  stream: boolean;
  /** added to the request's log line */
  fields: LogFields;
  mapper(meta: { requestedModel: string; now: () => number }): EventMapper<D, E>;
  /** the mapper forwards events unchanged and reads their data as the backend sent it (RAW_DATA); kept only then */
  rawEvents?: boolean;
  collector(): Collector<D>;
}

export interface Dialect<D extends DataFrame, E extends ErrorFrame = ErrorFrame> {
  /** names the dialect in logs and metrics */
  readonly name: string;
  /** Checks a request body and converts it to the upstream body; throws a 400 ProxyError. */
  convert(raw: unknown, model: ResolvedModel): Conversion<D, E>;
  /** One frame as SSE text. */
  encode(frame: Frame<D, E>): string;
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
