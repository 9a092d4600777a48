/**
 * Responses API wire types as the Codex backend speaks them (see docs/backend.md
 * sections 2-4). Only what the proxy sends or reads; unknown event fields are ignored.
 */

export interface InputText {
  type: "input_text";
  text: string;
}
export interface OutputText {
  type: "output_text";
  text: string;
}
export interface InputImage {
  type: "input_image";
  image_url: string;
  detail?: "auto" | "low" | "high";
}
export interface InputFile {
  type: "input_file";
  file_data: string;
  filename?: string;
}

export type InputItem =
  | { type: "message"; role: "user" | "developer"; content: (InputText | InputImage | InputFile)[] }
  | { type: "message"; role: "assistant"; content: OutputText[] }
  | { type: "function_call"; call_id: string; name: string; arguments: string }
  | { type: "function_call_output"; call_id: string; output: string | (InputText | InputImage)[] };

export interface FunctionTool {
  type: "function";
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
  strict: boolean;
}

/** A tool the backend runs itself: its web search (codex/web-search.ts). */
export interface HostedTool {
  type: "web_search";
  [option: string]: unknown;
}

export type ToolChoice = "auto" | "none" | "required" | { type: "function"; name: string };

export type TextFormat = { type: "text" } | { type: "json_object" } | { type: "json_schema"; name: string; description?: string; schema: Record<string, unknown>; strict: boolean };

export interface ResponsesRequest {
  model: string;
  instructions: string;
  input: InputItem[];
  tools?: (FunctionTool | HostedTool)[];
  tool_choice?: ToolChoice;
  parallel_tool_calls?: boolean;
  reasoning?: { effort?: string; summary: "auto" };
  include?: string[];
  text?: { format?: TextFormat; verbosity?: string };
  service_tier?: string;
  store: false;
  stream: true;
  prompt_cache_key: string;
}

/**
 * A body from a Responses-API client: its own items and tools, normalised and passed through
 * (dialects/responses/request.ts), with the same fixed fields as every upstream body.
 */
export interface PassthroughRequest extends Omit<ResponsesRequest, "input" | "tools" | "tool_choice" | "reasoning"> {
  input: Record<string, unknown>[];
  tools?: Record<string, unknown>[];
  tool_choice?: unknown;
  reasoning?: Record<string, unknown>;
  client_metadata?: unknown;
}

export type UpstreamRequest = ResponsesRequest | PassthroughRequest;

export interface ResponseUsage {
  input_tokens?: number;
  input_tokens_details?: { cached_tokens?: number } | null;
  output_tokens?: number;
  output_tokens_details?: { reasoning_tokens?: number } | null;
  total_tokens?: number;
}

export interface UpstreamErrorInfo {
  code?: string | null | undefined;
  type?: string | null | undefined;
  message?: string | null | undefined;
  param?: string | null | undefined;
  plan_type?: string | null | undefined;
  resets_at?: number | null | undefined;
  resets_in_seconds?: number | null | undefined;
  /** not the backend's: the HTTP answer's Retry-After, when the failure came as a status */
  retry_after_seconds?: number;
}

export interface OutputItem {
  id?: string;
  type: string;
  /** function_call */
  call_id?: string;
  name?: string;
  arguments?: string;
  /** message */
  role?: string;
  phase?: string;
  content?: { type: string; text?: string; refusal?: string }[];
}

/**
 * One parsed upstream SSE event. The proxy dispatches on `type`; the optional fields cover every
 * event it reads, so the converters can stay free of casts.
 */
export interface CodexEvent {
  type: string;
  output_index?: number;
  summary_index?: number;
  item?: OutputItem;
  delta?: string;
  text?: string;
  arguments?: string;
  response?: {
    id?: string;
    status?: string;
    usage?: ResponseUsage | null;
    error?: UpstreamErrorInfo | null;
    incomplete_details?: { reason?: string } | null;
  };
  /** the `error` event, nested form */
  error?: UpstreamErrorInfo;
  /** the `error` event, top-level form */
  code?: string | null;
  message?: string | null;
  param?: string | null;
}
