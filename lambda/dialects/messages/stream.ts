/**
 * Upstream events -> Anthropic Messages SSE, each frame as its upstream cause arrives:
 * `message_start`, then one content block at a time — `text_delta` for text, `input_json_delta`
 * with each fragment of a tool call's arguments as it streams, `thinking_delta` for reasoning
 * summaries and a `signature_delta` (the encrypted reasoning, see signature.ts) before the thinking
 * block stops — then `message_delta` with the stop reason and usage, and `message_stop`.
 * A failure after the start is an `error` event and the stream ends without `message_stop`, since
 * Claude Code tolerates a missing `message_stop` and would take a cut answer as complete. (When a
 * stream fails, is cut or ends is the pipeline's rule: pipeline/stream-life.ts.)
 */
import { randomBytes } from "node:crypto";
import type { ToolNames } from "../../codex/tool-names.js";
import type { CodexEvent, OutputItem } from "../../codex/types.js";
import { ProxyError } from "../../errors.js";
import type { ErrorFrame, EventMapper, Frame } from "../../pipeline/dialect.js";
import { inDomains, searchOf, urlCitationOf } from "../../codex/web-search.js";
import type { WebSearchTool } from "./request.js";
import { writeSignature } from "./signature.js";
import type { Json } from "../json.js";
import { SentText } from "../sent-text.js";

/** `textPrefix`: set on a text delta, the SSE text of the event up to its text (see `encodeEvent`) */
export type EventFrame = { kind: "event"; event: Json; textPrefix?: string };
export type MessagesFrame = Frame<EventFrame>;

interface OpenBlock {
  index: number;
  outputIndex: number;
  type: "text" | "tool_use" | "thinking";
  /** tool_use: the argument text sent so far */
  sent: SentText;
  /** text: its deltas' SSE text up to the text */
  textPrefix?: string;
}

export class MessagesEventMapper implements EventMapper<EventFrame> {
  private open: OpenBlock | undefined;
  private blocks = 0;
  private toolCalls = 0;
  private refused = false;
  private readonly id = `msg_${randomBytes(12).toString("hex")}`;
  /** each reasoning item's summary parts, by output index and summary index */
  private readonly thinking = new Map<number, Map<number, string>>();
  /** with web search: each message's text so far (citations quote it) and the pages' titles */
  private readonly texts = new Map<number, string>();
  private readonly titles = new Map<string, string>();
  private searches = 0;

  constructor(private readonly options: { model: string; inputTokens: number; toolNames: ToolNames; webSearch?: WebSearchTool }) {}

  begin(): EventFrame[] {
    return [
      this.frame({
        type: "message_start",
        message: {
          id: this.id,
          type: "message",
          role: "assistant",
          model: this.options.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: this.options.inputTokens, output_tokens: 0 },
        },
      }),
    ];
  }

  map(event: CodexEvent): EventFrame[] {
    const index = event.output_index ?? 0;
    switch (event.type) {
      case "response.output_text.delta":
      case "response.refusal.delta":
        if (event.type === "response.refusal.delta") this.refused = true;
        if (!event.delta) return [];
        if (this.options.webSearch) this.texts.set(index, (this.texts.get(index) ?? "") + event.delta);
        return [...this.ensureOpen("text", index, { type: "text", text: "" }), this.textDelta(event.delta)];
      case "response.output_text.annotation.added":
        return this.citation(index, (event as { annotation?: unknown }).annotation);
      case "response.reasoning_summary_text.delta": {
        if (!event.delta) return [];
        const parts = this.thinking.get(index) ?? new Map<number, string>();
        const key = summaryIndex(event.summary_index);
        parts.set(key, (parts.get(key) ?? "") + event.delta);
        this.thinking.set(index, parts);
        return [...this.ensureOpen("thinking", index, { type: "thinking", thinking: "", signature: "" }), this.delta({ type: "thinking_delta", thinking: event.delta })];
      }
      case "response.output_item.added":
        return event.item?.type === "function_call" ? this.startToolUse(index, event.item) : [];
      case "response.function_call_arguments.delta":
        if (this.open?.type !== "tool_use" || this.open.outputIndex !== index || !event.delta) return [];
        this.open.sent.add(event.delta);
        return [this.delta({ type: "input_json_delta", partial_json: event.delta })];
      case "response.output_item.done":
        return this.itemDone(index, event.item);
      default:
        return [];
    }
  }

  /** The open block closes, then `message_delta` with the stop reason and usage, and `message_stop`. */
  finish(event: CodexEvent): EventFrame[] {
    const usage = event.response?.usage;
    const cached = usage?.input_tokens_details?.cached_tokens ?? 0;
    const reason = event.response?.incomplete_details?.reason;
    const stopReason =
      event.type === "response.incomplete" ? (reason === "content_filter" ? "refusal" : "max_tokens") : this.refused ? "refusal" : this.toolCalls > 0 ? "tool_use" : "end_turn";
    return [
      ...this.closeOpen(),
      this.frame({
        type: "message_delta",
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: {
          input_tokens: Math.max(0, (usage?.input_tokens ?? 0) - cached),
          output_tokens: usage?.output_tokens ?? 0,
          cache_read_input_tokens: cached,
          cache_creation_input_tokens: 0,
          ...(this.options.webSearch ? { server_tool_use: { web_search_requests: this.searches } } : {}),
        },
      }),
      this.frame({ type: "message_stop" }),
    ];
  }

  fail(error: ProxyError): ErrorFrame {
    return { kind: "error", error };
  }

  private startToolUse(index: number, item: OutputItem): EventFrame[] {
    const frames = this.closeOpen();
    this.toolCalls++;
    this.open = { index: this.blocks++, outputIndex: index, type: "tool_use", sent: new SentText() };
    frames.push(
      this.frame({
        type: "content_block_start",
        index: this.open.index,
        content_block: { type: "tool_use", id: item.call_id ?? item.id ?? `toolu_${index}`, name: this.options.toolNames.toClient(item.name ?? ""), input: {} },
      }),
    );
    if (item.arguments) {
      this.open.sent.add(item.arguments);
      frames.push(this.delta({ type: "input_json_delta", partial_json: item.arguments }));
    }
    return frames;
  }

  private itemDone(index: number, item: OutputItem | undefined): EventFrame[] {
    if (!item) return [];
    if (item.type === "web_search_call") return this.search(item);
    if (item.type === "function_call") {
      // Without an `added` event the whole call arrives here.
      const frames = this.open?.type === "tool_use" && this.open.outputIndex === index ? [] : this.startToolUse(index, { ...item, arguments: "" });
      const rest = (this.open as OpenBlock).sent.rest(item.arguments ?? "");
      if (rest) frames.push(this.delta({ type: "input_json_delta", partial_json: rest }));
      return [...frames, ...this.closeOpen()];
    }
    if (item.type === "reasoning") {
      const encrypted = (item as { encrypted_content?: unknown }).encrypted_content;
      if (typeof encrypted !== "string") return this.open?.type === "thinking" && this.open.outputIndex === index ? this.closeOpen() : [];
      const parts = [...(this.thinking.get(index) ?? new Map<number, string>())].sort(([a], [b]) => a - b);
      const signature = writeSignature({ encrypted, summary: parts.map(([, text]) => text) });
      if (this.open?.type === "thinking" && this.open.outputIndex === index) return [this.delta({ type: "signature_delta", signature }), ...this.closeOpen()];
      // Reasoning without a summary still has to travel to the next turn.
      const frames = this.closeOpen();
      const blockIndex = this.blocks++;
      frames.push(
        this.frame({ type: "content_block_start", index: blockIndex, content_block: { type: "redacted_thinking", data: signature } }),
        this.frame({ type: "content_block_stop", index: blockIndex }),
      );
      return frames;
    }
    if (item.type === "message" && this.open?.type === "text" && this.open.outputIndex === index) return this.closeOpen();
    return [];
  }

  /**
   * A finished search: a `server_tool_use` block (its input streamed as one `input_json_delta`), then
   * its `web_search_tool_result` block with the pages the backend read, titled from the citations
   * seen so far (else by their URL), less any blocked domain.
   */
  private search(item: OutputItem): EventFrame[] {
    const search = searchOf(item);
    if (!search || !this.options.webSearch) return [];
    this.searches++;
    const { name, blockedDomains } = this.options.webSearch;
    const id = `srvtoolu_${(search.id.replace(/^ws_/, "") || randomBytes(12).toString("hex")).slice(0, 48)}`;
    const frames = this.closeOpen();
    this.open = { index: this.blocks++, outputIndex: -1, type: "tool_use", sent: new SentText() };
    frames.push(this.frame({ type: "content_block_start", index: this.open.index, content_block: { type: "server_tool_use", id, name, input: {} } }));
    frames.push(this.delta({ type: "input_json_delta", partial_json: JSON.stringify({ query: search.query }) }), ...this.closeOpen());
    const results = [...new Set(search.urls)]
      .filter((url) => !inDomains(url, blockedDomains))
      .map((url) => ({ type: "web_search_result", url, title: this.titles.get(url) ?? url, encrypted_content: Buffer.from(url).toString("base64url"), page_age: null }));
    const at = this.blocks++;
    frames.push(
      this.frame({ type: "content_block_start", index: at, content_block: { type: "web_search_tool_result", tool_use_id: id, content: results } }),
      this.frame({ type: "content_block_stop", index: at }),
    );
    return frames;
  }

  /** A `url_citation` on the answer's text as Anthropic's `citations_delta` on the text block it belongs to. */
  private citation(index: number, annotation: unknown): EventFrame[] {
    const cite = urlCitationOf(annotation);
    if (!cite || !this.options.webSearch || inDomains(cite.url, this.options.webSearch.blockedDomains)) return [];
    this.titles.set(cite.url, cite.title);
    const cited = (this.texts.get(index) ?? "").slice(cite.start_index, cite.end_index).slice(0, 150);
    const encrypted_index = Buffer.from(`${cite.url}#${cite.start_index}-${cite.end_index}`).toString("base64url");
    return [
      ...this.ensureOpen("text", index, { type: "text", text: "" }),
      this.delta({ type: "citations_delta", citation: { type: "web_search_result_location", url: cite.url, title: cite.title, cited_text: cited, encrypted_index } }),
    ];
  }

  private ensureOpen(type: "text" | "thinking", outputIndex: number, block: Json): EventFrame[] {
    if (this.open?.type === type && this.open.outputIndex === outputIndex) return [];
    const frames = this.closeOpen();
    this.open = { index: this.blocks++, outputIndex, type, sent: new SentText() };
    frames.push(this.frame({ type: "content_block_start", index: this.open.index, content_block: block }));
    return frames;
  }

  private closeOpen(): EventFrame[] {
    if (!this.open) return [];
    const frame = this.frame({ type: "content_block_stop", index: this.open.index });
    this.open = undefined;
    return [frame];
  }

  /** A text delta, which `encodeEvent` writes from its block's constant prefix. */
  private textDelta(text: string): EventFrame {
    const frame = this.delta({ type: "text_delta", text });
    const open = this.open as OpenBlock;
    frame.textPrefix =
      open.textPrefix ??= `event: content_block_delta\ndata: {"type":"content_block_delta","index":${JSON.stringify(open.index)},"delta":{"type":"text_delta","text":`;
    return frame;
  }

  private delta(delta: Json): EventFrame {
    return this.frame({ type: "content_block_delta", index: this.open?.index ?? 0, delta });
  }

  private frame(event: Json): EventFrame {
    return { kind: "event", event };
  }
}

/** A reasoning item has a few summary parts; no real answer comes near this many. */
const MAX_SUMMARY_INDEX = 10_000;

/**
 * A summary index from upstream, checked: it keys a Map, never an array, so a hostile value (4294967294)
 * cannot make a sparse array of billions of slots; anything but a small whole number is malformed.
 */
function summaryIndex(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= MAX_SUMMARY_INDEX) return value;
  throw new ProxyError(502, "The Codex backend sent a reasoning summary with an invalid summary_index; the answer was abandoned. Retry the request.", {
    code: "upstream_malformed_event",
  });
}

/**
 * An event as SSE text. A text delta, the frame of nearly every upstream event, is its block's
 * constant prefix, its text and a constant suffix: byte for byte what stringifying the whole event
 * gives (a property test holds them equal), at a fraction of the cost.
 */
export function encodeEvent(frame: { event: Json; textPrefix?: string }): string {
  if (frame.textPrefix !== undefined) return `${frame.textPrefix}${JSON.stringify((frame.event.delta as { text: string }).text)}}}\n\n`;
  return `event: ${String(frame.event.type)}\ndata: ${JSON.stringify(frame.event)}\n\n`;
}
