/**
 * Errors as Anthropic clients expect them: `{"type":"error","error":{"type","message"}}` with the
 * API's statuses. An overloaded backend is 529 `overloaded_error`, which the SDKs retry.
 */
import type { ProxyError } from "../../errors.js";
import { jsonReply, type Reply } from "../../http/reply.js";

const TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
};

export function anthropicStatus(error: ProxyError): number {
  return error.code === "upstream_overloaded" ? 529 : error.status;
}

export function anthropicError(error: ProxyError): { type: "error"; error: { type: string; message: string } } {
  const status = anthropicStatus(error);
  const type = status === 529 ? "overloaded_error" : (TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error"));
  return { type: "error", error: { type, message: error.message } };
}

export function anthropicErrorReply(error: ProxyError): Reply {
  return jsonReply(anthropicStatus(error), anthropicError(error), error.headers);
}
