/**
 * Chat Completions wire types of what the proxy sends. Requests are untrusted JSON that
 * convert/request.ts checks field by field (the README's mapping table lists what is accepted), so
 * they get no static type here.
 */

export interface ChatToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
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
  /** web search citations, as OpenAI's search models stream them */
  annotations?: ChatAnnotation[];
}

export interface ChatAnnotation {
  type: "url_citation";
  url_citation: { url: string; title: string; start_index: number; end_index: number };
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
      annotations?: ChatAnnotation[];
    };
    finish_reason: ChatFinishReason;
    logprobs: null;
  }[];
  usage: ChatUsage;
}
