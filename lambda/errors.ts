/**
 * One error type for everything the proxy reports to a client. It carries the HTTP status and the
 * OpenAI error body, so an error thrown anywhere (validation, upstream mapping, auth) becomes the
 * same `{"error":{message,type,param,code}}` shape that openai-node turns into its APIError classes.
 */
import { jsonReply, type Reply } from "./http/reply.js";
import { scrub } from "./log.js";

export type OpenAIErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "upstream_error"
  | "server_error"
  | "timeout_error";

export interface OpenAIErrorBody {
  error: {
    message: string;
    type: OpenAIErrorType;
    param: string | null;
    code: string | null;
  };
}

export interface ProxyErrorInit {
  type?: OpenAIErrorType;
  param?: string | null;
  code?: string | null;
  headers?: Record<string, string>;
  cause?: unknown;
}

export class ProxyError extends Error {
  readonly status: number;
  readonly type: OpenAIErrorType;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, init: ProxyErrorInit = {}) {
    // Messages quote upstream text, which has been seen to quote tokens back: scrub every one.
    super(scrub(message), init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "ProxyError";
    this.status = status;
    this.type = init.type ?? defaultType(status);
    this.param = init.param ?? null;
    this.code = init.code ?? null;
    this.headers = init.headers ?? {};
  }

  toJSON(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  toReply(): Reply {
    return jsonReply(this.status, this.toJSON(), this.headers);
  }
}

function defaultType(status: number): OpenAIErrorType {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_error";
  if (status === 502) return "upstream_error";
  if (status === 504) return "timeout_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

export function badRequest(message: string, param: string | null = null, code: string | null = null): ProxyError {
  return new ProxyError(400, message, { param, code: code ?? (param ? "invalid_value" : null) });
}

/** Anything that is not already a ProxyError is a bug on our side: report it without internals. */
export function toProxyError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  return new ProxyError(500, "Internal proxy error. The proxy logs have the details; please report it.", {
    code: "internal_error",
    cause: err,
  });
}
