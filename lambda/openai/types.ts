/**
 * Chat Completions wire types: only the parts the proxy reads or writes. Incoming values are
 * untrusted JSON, so request types describe what a well-behaved client sends and the converter
 * checks every field it uses.
 */

export interface ChatTextPart {
  type: "text";
  text: string;
}

export interface ChatImagePart {
  type: "image_url";
  image_url: { url: string; detail?: "auto" | "low" | "high" } | string;
}

export interface ChatFilePart {
  type: "file";
  file: { file_data?: string; file_id?: string; filename?: string };
}

export interface ChatRefusalPart {
  type: "refusal";
  refusal: string;
}

export type ChatContentPart = ChatTextPart | ChatImagePart | ChatFilePart | ChatRefusalPart;

export interface ChatToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: "system" | "developer" | "user" | "assistant" | "tool" | "function";
  content?: string | ChatContentPart[] | null;
  name?: string;
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
  /** legacy single function call on an assistant message */
  function_call?: { name: string; arguments: string };
}

export interface ChatFunctionTool {
  type: "function";
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean | null };
}

export type ChatToolChoice = "auto" | "none" | "required" | { type: "function"; function: { name: string } };

export type ChatResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  | {
      type: "json_schema";
      json_schema: { name: string; description?: string; schema?: Record<string, unknown>; strict?: boolean | null };
    };

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  tools?: ChatFunctionTool[];
  tool_choice?: ChatToolChoice;
  parallel_tool_calls?: boolean;
  functions?: ChatFunctionTool["function"][];
  function_call?: "auto" | "none" | { name: string };
  response_format?: ChatResponseFormat;
  reasoning_effort?: string | null;
  verbosity?: "low" | "medium" | "high" | null;
  prompt_cache_key?: string;
  user?: string;
  n?: number | null;
  service_tier?: string | null;
  [other: string]: unknown;
}

export interface ChatToolCallDelta {
  index: number;
  id?: string;
  type?: "function";
  function: { name?: string; arguments: string };
}

export interface ChatDelta {
  role?: "assistant";
  content?: string | null;
  refusal?: string | null;
  reasoning_content?: string;
  tool_calls?: ChatToolCallDelta[];
}

export type ChatFinishReason = "stop" | "length" | "tool_calls" | "content_filter";

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details: { reasoning_tokens: number };
}

export interface ChatChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: { index: 0; delta: ChatDelta; finish_reason: ChatFinishReason | null; logprobs: null }[];
  usage?: ChatUsage;
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: {
    index: 0;
    message: {
      role: "assistant";
      content: string | null;
      refusal: string | null;
      reasoning_content?: string;
      tool_calls?: ChatToolCall[];
    };
    finish_reason: ChatFinishReason;
    logprobs: null;
  }[];
  usage: ChatUsage;
}
