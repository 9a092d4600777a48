/**
 * Upstream events -> the Responses API's own event stream: each event passes through as it arrives,
 * with its type, order and payload, except that
 * - the backend's vendor frames (`codex.*`, `responsesapi.*`) are dropped;
 * - handshake events (`response.created`, `response.in_progress`) are held until the backend really
 *   accepts the request, so a refusal is still a real HTTP status;
 * - shortened tool names are restored;
 * - output indexes are made contiguous when the backend skips one (a real recording goes 0, 2: an
 *   item it did not stream), since the openai SDK's accumulator reads `output[output_index]` and
 *   throws "missing output at index 2" otherwise;
 * - `response.completed` carries the streamed output items (the backend sends `output: []`, and
 *   `responses.stream().finalResponse()` reads it from there);
 * - a failure after the stream began ends with an `error` event, never with a made-up
 *   `response.completed`; an upstream `response.failed` passes through and is followed by one.
 * When a stream begins, fails, is cut or ends is the pipeline's rule (pipeline/stream-life.ts).
 */
import { RAW_DATA, type WithRawData } from "../../codex/events.js";
import type { ToolNames } from "../../codex/tool-names.js";
import type { CodexEvent } from "../../codex/types.js";
import type { ProxyError } from "../../errors.js";
import type { ErrorFrame, EventMapper, Frame } from "../../pipeline/dialect.js";
import { isObject, type Json } from "../json.js";

/** `raw`: the event's data as the backend sent it, when the event goes out unchanged */
export type EventFrame = { kind: "event"; event: Json; raw?: string };
/** `failed`: the backend's `response.failed` event, which goes out before the `error` event */
export type ResponsesError = ErrorFrame & { sequence: number; failed?: Json };
export type ResponsesFrame = Frame<EventFrame, ResponsesError>;

export class ResponsesEventMapper implements EventMapper<EventFrame, ResponsesError> {
  private readonly items = new Map<number, Json>();
  /** the client's output index for each upstream one, given in the order items are added */
  private readonly indexes = new Map<number, number>();
  private sequence = 0;
  private begun = false;

  constructor(private readonly toolNames: ToolNames) {}

  /** The handshake events the pipeline held go out now, in their order. */
  begin(handshake: CodexEvent[]): EventFrame[] {
    this.begun = true;
    return handshake.map((held) => ({ kind: "event", event: this.named(held) }));
  }

  map(upstream: CodexEvent & WithRawData): EventFrame[] {
    const event = this.reindexed(upstream, this.named(upstream));
    if (upstream.type === "response.output_item.done" && isObject(event.item) && typeof upstream.output_index === "number") {
      this.items.set(upstream.output_index, event.item);
    }
    const raw = event === (upstream as unknown) ? upstream[RAW_DATA] : undefined;
    return [raw === undefined ? { kind: "event", event } : { kind: "event", event, raw }];
  }

  finish(upstream: CodexEvent): EventFrame[] {
    const event = this.named(upstream);
    this.fillOutput(event);
    return [{ kind: "event", event }];
  }

  /** After the answer began, the backend's `response.failed` passes through ahead of the `error` event. */
  fail(error: ProxyError, cause?: CodexEvent): ResponsesError {
    const event = cause ? this.named(cause) : undefined;
    const sequence = this.sequence + 1;
    if (!event || !this.begun || cause?.type !== "response.failed") return { kind: "error", error, sequence };
    this.fillOutput(event); // a response object always has its output, failed or not
    return { kind: "error", error, sequence, failed: event };
  }

  /** The event with the client's output index, when it differs from the backend's. */
  private reindexed(upstream: CodexEvent, event: Json): Json {
    const at = upstream.output_index;
    if (typeof at !== "number") return event;
    let index = this.indexes.get(at);
    if (index === undefined && upstream.type === "response.output_item.added") {
      index = this.indexes.size;
      this.indexes.set(at, index);
    }
    return index === undefined || index === at ? event : { ...event, output_index: index };
  }

  /** The event with the client's tool names, its sequence number noted. */
  private named(upstream: CodexEvent): Json {
    const event = this.restoreNames(upstream as unknown as Json);
    if (typeof event.sequence_number === "number") this.sequence = Math.max(this.sequence, event.sequence_number);
    return event;
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
