/**
 * Upstream events -> the Responses API's own event stream: each event passes through as it arrives,
 * with its type, order and payload, except that
 * - the backend's vendor frames (`codex.*`, `responsesapi.*`) are dropped;
 * - handshake events (`response.created`, `response.in_progress`) are held until the backend really
 *   accepts the request, so a refusal is still a real HTTP status;
 * - shortened tool names are restored;
 * - `response.completed` carries the streamed output items (the backend sends `output: []`, and
 *   `responses.stream().finalResponse()` reads it from there);
 * - a failure after the stream began ends with an `error` event, never with a made-up
 *   `response.completed`; an upstream `response.failed` passes through and is followed by one.
 */
import { mapUpstreamFailure } from "../../codex/errors.js";
import { isHandshakeEvent, isTerminalEvent, isVendorEvent, RAW_DATA, type WithRawData } from "../../codex/events.js";
import type { ToolNames } from "../../codex/tool-names.js";
import type { CodexEvent } from "../../codex/types.js";
import { ProxyError } from "../../errors.js";
import type { StreamConverter } from "../../pipeline/dialect.js";
import { isObject, type Json } from "../json.js";

export type ResponsesFrame =
  /** `raw`: the event's data as the backend sent it, when the event goes out unchanged */
  { kind: "event"; event: Json; raw?: string } | { kind: "error"; error: ProxyError; sequence: number; failed?: Json } | { kind: "done" };

export class ResponsesStreamConverter implements StreamConverter<ResponsesFrame> {
  private finished = false;
  private committed = false;
  private readonly held: Json[] = [];
  private readonly items = new Map<number, Json>();
  private sequence = 0;

  constructor(
    private readonly toolNames: ToolNames,
    private readonly now: () => number,
  ) {}

  get isFinished(): boolean {
    return this.finished;
  }

  push(upstream: CodexEvent & WithRawData): ResponsesFrame[] {
    if (this.finished || isVendorEvent(upstream.type)) return [];
    const event = this.restoreNames(upstream as unknown as Json);
    if (typeof event.sequence_number === "number") this.sequence = Math.max(this.sequence, event.sequence_number);

    if (upstream.type === "response.failed" || upstream.type === "error") {
      this.finished = true;
      const info = upstream.type === "error" ? (upstream.error ?? { code: upstream.code, message: upstream.message, param: upstream.param }) : upstream.response?.error;
      const error = mapUpstreamFailure(info ?? undefined, this.now());
      if (!this.committed || upstream.type !== "response.failed") return [{ kind: "error", error, sequence: this.sequence + 1 }];
      this.fillOutput(event); // a response object always has its output, failed or not
      return [{ kind: "error", error, sequence: this.sequence + 1, failed: event }];
    }
    if (!this.committed && isHandshakeEvent(upstream.type)) {
      this.held.push(event);
      return [];
    }
    if (upstream.type === "response.output_item.done" && isObject(event.item) && typeof upstream.output_index === "number") {
      this.items.set(upstream.output_index, event.item);
    }
    const terminal = isTerminalEvent(upstream.type);
    if (terminal) this.fillOutput(event);

    const frames: ResponsesFrame[] = this.committed ? [] : this.held.splice(0).map((held) => ({ kind: "event", event: held }));
    this.committed = true;
    const raw = event === (upstream as unknown) && !terminal ? upstream[RAW_DATA] : undefined;
    frames.push(raw === undefined ? { kind: "event", event } : { kind: "event", event, raw });
    if (terminal) {
      this.finished = true;
      frames.push({ kind: "done" });
    }
    return frames;
  }

  end(): ResponsesFrame[] {
    if (this.finished) return [];
    return [
      this.fail(
        new ProxyError(502, "The Codex backend closed the stream before the response was complete; the answer is truncated. Retry the request.", {
          code: "upstream_stream_truncated",
        }),
      ),
    ];
  }

  fail(error: ProxyError): ResponsesFrame {
    this.finished = true;
    return { kind: "error", error, sequence: this.sequence + 1 };
  }

  /** The backend sends `output: []` (or none) in its terminal event; the client gets what was streamed. */
  private fillOutput(event: Json): void {
    const response = event.response;
    if (!isObject(response)) return;
    if (Array.isArray(response.output) && response.output.length > 0) return;
    response.output = [...this.items.entries()].sort(([a], [b]) => a - b).map(([, item]) => item);
  }

  private restoreNames(event: Json): Json {
    const item = event.item;
    const response = event.response;
    if (item === undefined && response === undefined) return event; // most events: a delta
    const fixItem = (value: unknown): unknown =>
      isObject(value) && typeof value.name === "string" && this.toolNames.toClient(value.name) !== value.name ? { ...value, name: this.toolNames.toClient(value.name) } : value;
    if (isObject(item)) return { ...event, item: fixItem(item) };
    if (isObject(response) && (Array.isArray(response.output) || Array.isArray(response.tools))) {
      const fixed: Json = { ...response };
      if (Array.isArray(response.output)) fixed.output = response.output.map(fixItem);
      if (Array.isArray(response.tools)) fixed.tools = response.tools.map(fixItem);
      return { ...event, response: fixed };
    }
    return event;
  }
}
