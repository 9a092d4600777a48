/** Facts about upstream events that the pipeline's stream life and every dialect's mapper rely on. */

/**
 * The type of nearly every event of an answer (a piece of its text): the hot path checks for it
 * first, since no rule about the handshake, vendor frames, failures or the end applies to it.
 */
export const TEXT_DELTA = "response.output_text.delta";

/** Events that arrive before the backend has really accepted the request. */
export function isHandshakeEvent(type: string): boolean {
  return type === "response.created" || type === "response.in_progress" || type === "response.queued" || isVendorEvent(type);
}

/** The events that end a successful answer (a failure ends with `response.failed` or `error`). */
export function isTerminalEvent(type: unknown): type is "response.completed" | "response.incomplete" {
  return type === "response.completed" || type === "response.incomplete";
}

/** The backend's own frames, not part of the Responses API; never forwarded to a client. */
export function isVendorEvent(type: string): boolean {
  return type.startsWith("codex.") || type.startsWith("responsesapi.");
}

/**
 * On an event, its JSON exactly as the backend sent it, for a dialect that forwards the event
 * unchanged: writing those bytes again costs nothing, stringifying the parsed event a few µs per
 * delta. Set only for a dialect that asks (the Responses API's), and only where the data can go out
 * as one `data:` line and the event names its own type: the other dialects never read it.
 * A symbol, so no JSON.stringify of the event ever carries it along.
 */
export const RAW_DATA = Symbol("the event's data as the backend sent it");
export type WithRawData = { [RAW_DATA]?: string };
