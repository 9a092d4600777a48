/**
 * Responses SSE events -> Chat Completions chunks: one small state machine, pure.
 *
 * The contract agent clients depend on (docs/dialects.md, "The stream you get back"):
 * - the first chunk carries `delta.role: "assistant"`;
 * - each tool call gets one stable `index`, its `id` and `function.name` on its first delta, and its
 *   arguments only as deltas, never repeated;
 * - exactly one chunk carries a `finish_reason`, then (if asked) one usage chunk with `choices: []`;
 * - a failure is an error frame and never a finish: a cut stream must not look like success (when a
 *   stream fails, is cut or ends is the pipeline's rule: pipeline/stream-life.ts).
 *
 * Items are keyed by `output_index`, not by item id: some gateways rotate item ids between events of
 * the same item (fixture recorded.github-copilot-id-rotation.1.jsonl).
 */
import type { ProxyError } from "../../errors.js";
import type { CodexEvent, OutputItem, ResponseUsage } from "../../codex/types.js";
import type { ErrorFrame, EventMapper, Frame } from "../../pipeline/dialect.js";
import type { ChatChunk, ChatDelta, ChatFinishReason, ChatUsage } from "./types.js";
import type { ToolNames } from "../../codex/tool-names.js";
import { urlCitationOf } from "../../codex/web-search.js";
import { SentText } from "../sent-text.js";

/** `contentPrefix`: set on a plain text delta, the SSE text of the chunk up to its content (see `encodeChunk`) */
export type ChunkFrame = { kind: "chunk"; chunk: ChatChunk; contentPrefix?: string };
export type StreamFrame = Frame<ChunkFrame>;

export interface ChatMapperOptions {
  id: string;
  created: number;
  model: string;
  includeUsage: boolean;
  toolNames: ToolNames;
}

interface CallState {
  index: number;
  sent: SentText;
}

export class ChatEventMapper implements EventMapper<ChunkFrame> {
  private readonly calls = new Map<number, CallState>();
  private readonly texts = new Map<number, SentText>();
  private lastReasoningKey: string | undefined;
  private lastTextIndex: number | undefined;
  /** the content sent so far, in UTF-16 units, and where each message item's text began in it */
  private contentLength = 0;
  private readonly textStarts = new Map<number, number>();
  /** the SSE text of this stream's text-delta chunks up to their content, built at the first */
  private prefix: string | undefined;

  constructor(private readonly options: ChatMapperOptions) {}

  /** The first chunk carries the role. */
  begin(): ChunkFrame[] {
    return [this.chunk({ role: "assistant", content: "" })];
  }

  map(event: CodexEvent): ChunkFrame[] {
    const delta = this.deltaFor(event);
    if (!delta) return [];
    return [event.type === "response.output_text.delta" ? this.contentChunk(delta) : this.chunk(delta)];
  }

  /** The one chunk with a finish reason, then (if asked) the usage chunk. */
  finish(event: CodexEvent): ChunkFrame[] {
    const frames = [this.chunk({}, this.finishReason(event))];
    if (this.options.includeUsage) {
      frames.push({ kind: "chunk", chunk: { ...this.base(), choices: [], usage: convertUsage(event.response?.usage) } });
    }
    return frames;
  }

  fail(error: ProxyError): ErrorFrame {
    return { kind: "error", error };
  }

  private deltaFor(event: CodexEvent): ChatDelta | undefined {
    const index = event.output_index ?? 0;
    switch (event.type) {
      case "response.output_text.delta":
        return event.delta ? { content: this.text(index, event.delta) } : undefined;
      case "response.refusal.delta":
        return event.delta ? { refusal: event.delta } : undefined;
      case "response.reasoning_summary_text.delta":
      case "response.reasoning_text.delta":
        return event.delta ? this.reasoningDelta(event, index) : undefined;
      case "response.output_item.added":
        return event.item?.type === "function_call" ? this.startCall(index, event.item) : undefined;
      case "response.function_call_arguments.delta": {
        const call = this.calls.get(index);
        // Without an `added` event there is no id or name to send yet: the `done` event sends it all.
        if (!call || !event.delta) return undefined;
        call.sent.add(event.delta);
        return { tool_calls: [{ index: call.index, function: { arguments: event.delta } }] };
      }
      case "response.function_call_arguments.done":
        return this.completeCall(index, event.arguments);
      case "response.output_item.done":
        return this.completeItem(index, event.item);
      case "response.output_text.annotation.added":
        return this.annotation(index, (event as { annotation?: unknown }).annotation);
      default:
        return undefined;
    }
  }

  private reasoningDelta(event: CodexEvent, index: number): ChatDelta {
    // A new summary part or reasoning item starts a new paragraph, as Codex shows them.
    const key = `${event.type}:${index}:${event.summary_index ?? 0}`;
    const separator = this.lastReasoningKey !== undefined && this.lastReasoningKey !== key ? "\n\n" : "";
    this.lastReasoningKey = key;
    return { reasoning_content: separator + (event.delta ?? "") };
  }

  /** Message text; a second message item (a final answer after a commentary preamble) starts a new paragraph. */
  private text(index: number, text: string): string {
    const separator = this.lastTextIndex !== undefined && this.lastTextIndex !== index ? "\n\n" : "";
    this.lastTextIndex = index;
    let sent = this.texts.get(index);
    if (!sent) {
      sent = new SentText();
      this.texts.set(index, sent);
    }
    if (!this.textStarts.has(index)) this.textStarts.set(index, this.contentLength + separator.length);
    sent.add(text);
    this.contentLength += separator.length + text.length;
    return separator + text;
  }

  /** A web search citation, its indexes moved from its message item's text to the whole content. */
  private annotation(index: number, annotation: unknown): ChatDelta | undefined {
    const cite = urlCitationOf(annotation);
    if (!cite) return undefined;
    const start = this.textStarts.get(index) ?? 0;
    return {
      annotations: [{ type: "url_citation", url_citation: { url: cite.url, title: cite.title, start_index: start + cite.start_index, end_index: start + cite.end_index } }],
    };
  }

  private startCall(outputIndex: number, item: OutputItem): ChatDelta {
    const args = item.arguments ?? "";
    const call: CallState = { index: this.calls.size, sent: new SentText(args) };
    this.calls.set(outputIndex, call);
    return {
      tool_calls: [
        {
          index: call.index,
          id: item.call_id ?? item.id ?? `call_${outputIndex}`,
          type: "function",
          function: { name: this.options.toolNames.toClient(item.name ?? ""), arguments: args },
        },
      ],
    };
  }

  /** Sends whatever part of the final arguments the deltas did not already carry. */
  private completeCall(outputIndex: number, finalArguments: string | undefined): ChatDelta | undefined {
    const call = this.calls.get(outputIndex);
    if (!call || finalArguments === undefined) return undefined;
    // When the deltas disagree with the total, nothing is re-sent: a client appends, it cannot replace.
    const rest = call.sent.rest(finalArguments);
    if (!rest) return undefined;
    call.sent.add(rest);
    return { tool_calls: [{ index: call.index, function: { arguments: rest } }] };
  }

  private completeItem(outputIndex: number, item: OutputItem | undefined): ChatDelta | undefined {
    if (!item) return undefined;
    if (item.type === "function_call") {
      if (!this.calls.has(outputIndex)) {
        return this.startCall(outputIndex, item);
      }
      return this.completeCall(outputIndex, item.arguments);
    }
    if (item.type === "message") {
      const full = (item.content ?? []).map((part) => (part.type === "output_text" ? (part.text ?? "") : "")).join("");
      const rest = (this.texts.get(outputIndex) ?? new SentText()).rest(full);
      return rest ? { content: this.text(outputIndex, rest) } : undefined;
    }
    return undefined;
  }

  private finishReason(event: CodexEvent): ChatFinishReason {
    if (event.type === "response.incomplete") {
      // A truncated answer must say so even when it was building a tool call: its arguments are cut.
      const reason = event.response?.incomplete_details?.reason;
      if (reason === "content_filter") return "content_filter";
      if (reason === "max_output_tokens" || reason === "max_tokens") return "length";
    }
    return this.calls.size > 0 ? "tool_calls" : "stop";
  }

  private base(): Omit<ChatChunk, "choices"> {
    const { id, created, model } = this.options;
    return { id, object: "chat.completion.chunk", created, model };
  }

  /** A text delta's chunk, which `encodeChunk` writes from this stream's constant prefix. */
  private contentChunk(delta: ChatDelta): ChunkFrame {
    const frame = this.chunk(delta);
    frame.contentPrefix = this.prefix ??= contentPrefix(frame.chunk);
    return frame;
  }

  private chunk(delta: ChatDelta, finishReason: ChatFinishReason | null = null): ChunkFrame {
    const { id, created, model } = this.options;
    // One literal shape per chunk (no spread): this runs for every delta.
    return { kind: "chunk", chunk: { id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }] } };
  }
}

/**
 * A chunk as SSE text. A text delta, the frame of nearly every event, is its stream's constant prefix,
 * its content and a constant suffix: byte for byte what stringifying the whole chunk gives (a
 * property test holds them equal), at a tenth of the cost.
 */
export function encodeChunk(frame: { chunk: ChatChunk; contentPrefix?: string }): string {
  if (frame.contentPrefix !== undefined) return `${frame.contentPrefix}${JSON.stringify(frame.chunk.choices[0]?.delta.content)}${CONTENT_SUFFIX}`;
  return `data: ${JSON.stringify(frame.chunk)}\n\n`;
}

const CONTENT_SUFFIX = '},"finish_reason":null,"logprobs":null}]}\n\n';

function contentPrefix({ id, object, created, model }: ChatChunk): string {
  return `data: {"id":${JSON.stringify(id)},"object":${JSON.stringify(object)},"created":${JSON.stringify(created)},"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":{"content":`;
}

export function convertUsage(usage: ResponseUsage | null | undefined): ChatUsage {
  const prompt = usage?.input_tokens ?? 0;
  const completion = usage?.output_tokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: usage?.total_tokens ?? prompt + completion,
    prompt_tokens_details: { cached_tokens: usage?.input_tokens_details?.cached_tokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: usage?.output_tokens_details?.reasoning_tokens ?? 0 },
  };
}
