/**
 * When an answer's stream begins, fails, is cut or ends: one rule for every dialect. The dialect's
 * mapper (dialect.ts) says only what each event becomes; this decides
 * - which events a client never sees: the backend's vendor frames, and the handshake events
 *   (`response.created`, …) until the backend has really accepted the request: they are held, and
 *   handed to the mapper's `begin` (which may show them) at the first event that proves acceptance,
 *   so a refusal before it is still a real HTTP status;
 * - how a failure is read from a `response.failed` or `error` event, and that it ends the stream;
 * - that `response.completed` or `response.incomplete` ends it as a success (with `done`), and that
 *   an upstream that closes without one is a truncation, never a success;
 * - that nothing follows the end.
 * Pure and synchronous: the pipeline drives it with upstream events; tests drive it with recorded ones.
 */
import { mapUpstreamFailure } from "../codex/errors.js";
import { isHandshakeEvent, isTerminalEvent, isVendorEvent, TEXT_DELTA } from "../codex/events.js";
import type { CodexEvent, ResponseUsage } from "../codex/types.js";
import { ProxyError } from "../errors.js";
import { DONE, type ErrorFrame, type Frame } from "../http/frame.js";
import type { EventMapper } from "./dialect.js";

/** What an answer learned of its cost: the backend's token usage, and the web searches it ran. */
export interface AnswerUsage {
  tokens?: ResponseUsage;
  searches: number;
}

export class StreamLife<D extends { kind: string }, E extends ErrorFrame> {
  /** filled as the events go by, whichever dialect shows them: for the log line and the metrics */
  readonly usage: AnswerUsage = { searches: 0 };
  private accepted = false;
  private ended = false;
  private readonly held: CodexEvent[] = [];

  constructor(
    private readonly mapper: EventMapper<D, E>,
    private readonly now: () => number,
  ) {}

  /** an error or done frame has gone out (or would have): nothing more will */
  get isFinished(): boolean {
    return this.ended;
  }

  /** The frames of one upstream event, in order; none once the stream has ended. */
  push(event: CodexEvent): Frame<D, E>[] {
    // The common case first: a piece of an accepted answer's text is none of the events below.
    if (event.type === TEXT_DELTA && this.accepted && !this.ended) return this.mapper.map(event);
    if (this.ended || isVendorEvent(event.type)) return [];
    if (event.type === "response.failed" || event.type === "error") {
      return [this.fail(mapUpstreamFailure(failureOf(event), this.now()), event)];
    }
    if (!this.accepted && isHandshakeEvent(event.type)) {
      this.held.push(event);
      return [];
    }
    const frames: Frame<D, E>[] = [];
    if (!this.accepted) {
      this.accepted = true;
      for (const frame of this.mapper.begin(this.held.splice(0))) frames.push(frame);
    }
    if (event.type === "response.output_item.done" && event.item?.type === "web_search_call") this.usage.searches++;
    if (isTerminalEvent(event.type)) {
      // A terminal event without its response object cannot end an answer as a success.
      if (typeof event.response !== "object" || event.response === null || Array.isArray(event.response)) throw malformedEvent(event.type);
      if (event.response.usage) this.usage.tokens = event.response.usage;
      this.ended = true;
      for (const frame of this.mapper.finish(event)) frames.push(frame);
      frames.push(DONE);
      return frames;
    }
    for (const frame of this.mapper.map(event)) frames.push(frame);
    return frames;
  }

  /** The upstream closed. Without a terminal event before it, the answer is truncated. */
  end(): Frame<D, E>[] {
    return this.ended ? [] : [this.fail(truncated())];
  }

  /** The frame that ends the stream with `error`: the backend's, a transport failure, a spent budget, a bug. */
  fail(error: ProxyError, cause?: CodexEvent): E {
    this.ended = true;
    return this.mapper.fail(error, cause);
  }

  /** Every frame of a whole recorded answer, as a client would get it: for tests and the bench. */
  run(events: Iterable<CodexEvent>): Frame<D, E>[] {
    const frames: Frame<D, E>[] = [];
    for (const event of events) for (const frame of this.push(event)) frames.push(frame);
    for (const frame of this.end()) frames.push(frame);
    return frames;
  }
}

/** The failure an `error` event (in its nested or top-level form) or a `response.failed` carries. */
function failureOf(event: CodexEvent) {
  if (event.type === "error") return event.error ?? { code: event.code, message: event.message, param: event.param };
  return event.response?.error ?? undefined;
}

export function malformedEvent(type: string): ProxyError {
  return new ProxyError(502, `The Codex backend sent a ${type} event in a shape this proxy cannot read; the answer was abandoned. Retry the request.`, {
    code: "upstream_malformed_event",
  });
}

function truncated(): ProxyError {
  return new ProxyError(502, "The Codex backend closed the stream before the response was complete; the answer is truncated. Retry the request.", {
    code: "upstream_stream_truncated",
  });
}
