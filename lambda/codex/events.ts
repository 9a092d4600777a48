/** Facts about upstream events that every dialect's stream converter relies on. */

/** Events that arrive before the backend has really accepted the request. */
export function isHandshakeEvent(type: string): boolean {
  return type === "response.created" || type === "response.in_progress" || type === "response.queued" || isVendorEvent(type);
}

/** The backend's own frames, not part of the Responses API; never forwarded to a client. */
export function isVendorEvent(type: string): boolean {
  return type.startsWith("codex.") || type.startsWith("responsesapi.");
}
