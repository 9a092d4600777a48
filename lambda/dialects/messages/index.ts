/**
 * The Anthropic Messages dialect (`POST /v1/messages`, Claude Code and the Anthropic SDKs): request
 * and event mappers, the non-stream `message` object, Anthropic-shaped errors, `ping` frames
 * while the backend is silent, and model names mapped by ANTHROPIC_MODEL_MAP.
 */
import type { ClientKey, Collector, Dialect } from "../../pipeline/dialect.js";
import { anthropicError, anthropicErrorReply } from "./errors.js";
import { checkMaxTokens, convertMessagesRequest } from "./request.js";
import { encodeEvent, MessagesEventMapper, type EventFrame } from "./stream.js";
import { estimateInputTokens } from "./tokens.js";

/** `[substring, model]` pairs, first match wins; `*` matches any name. */
export type ModelMap = readonly (readonly [string, string])[];

/** Claude Code sends the key as x-api-key (ANTHROPIC_API_KEY) or as a bearer token (ANTHROPIC_AUTH_TOKEN). */
export const anthropicClientKey: ClientKey = {
  read(request) {
    const apiKey = request.headers.get("x-api-key");
    return request.headers.get("authorization") ?? (apiKey ? `Bearer ${apiKey}` : null);
  },
  hint: "'x-api-key: <key>' or 'Authorization: Bearer <key>'",
};

export function messagesDialect(modelMap: ModelMap): Dialect<EventFrame> {
  return {
    name: "messages",
    clientKey: anthropicClientKey,

    convert(raw, model) {
      checkMaxTokens(raw);
      const converted = convertMessagesRequest(raw, { model: model.model, ...(model.effort ? { aliasEffort: model.effort } : {}) });
      const inputTokens = estimateInputTokens(converted.body);
      return {
        body: converted.body,
        stream: converted.stream,
        fields: { tools: converted.body.tools?.length ?? 0 },
        mapper: ({ requestedModel }) =>
          new MessagesEventMapper({
            model: requestedModel,
            inputTokens,
            toolNames: converted.toolNames,
            ...(converted.webSearch ? { webSearch: converted.webSearch } : {}),
          }),
        collector,
      };
    },

    modelFallback(name) {
      const lower = name.toLowerCase();
      return modelMap.find(([pattern]) => pattern === "*" || lower.includes(pattern.toLowerCase()))?.[1];
    },

    encode(frame) {
      if (frame.kind === "event") return encodeEvent(frame);
      if (frame.kind === "error") return `event: error\ndata: ${JSON.stringify(anthropicError(frame.error))}\n\n`;
      return "";
    },

    keepAlive: `event: ping\ndata: {"type":"ping"}\n\n`,

    errorReply: anthropicErrorReply,
  };
}

/**
 * A tool call's input from its argument text. Tools go upstream with `strict: false`, so a model may
 * write arguments that are not JSON, and an answer cut by `response.incomplete` may end mid-call:
 * then the input is the raw text, as the streamed form passes it on, and never a failed answer.
 */
function toolInput(text: string): unknown {
  if (text === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * The backend names a page only in the citations that follow its search, so a streamed result can
 * carry only its URL as title; a folded answer still has its results open, and takes the title.
 */
function titleResults(content: Record<string, unknown>[], citation: unknown): void {
  const { url, title } = (citation ?? {}) as { url?: unknown; title?: unknown };
  if (typeof url !== "string" || typeof title !== "string") return;
  for (const block of content) {
    if (block?.type !== "web_search_tool_result" || !Array.isArray(block.content)) continue;
    for (const result of block.content as { url?: unknown; title?: unknown }[]) if (result.url === url && result.title === url) result.title = title;
  }
}

/** The `message` object a non-streamed request gets, folded from the same frames. */
function collector(): Collector<EventFrame> {
  let message: Record<string, unknown> = {};
  const content: Record<string, unknown>[] = [];
  const json: string[] = [];
  return {
    add(frame) {
      const event = frame.event as {
        type: string;
        index?: number;
        message?: Record<string, unknown>;
        content_block?: Record<string, unknown>;
        delta?: Record<string, unknown>;
        usage?: Record<string, unknown>;
      };
      const index = event.index ?? 0;
      switch (event.type) {
        case "message_start":
          message = { ...event.message };
          break;
        case "content_block_start":
          content[index] = { ...event.content_block };
          json[index] = "";
          break;
        case "content_block_delta": {
          const block = content[index] ?? {};
          const delta = event.delta ?? {};
          const piece = String(delta.text ?? delta.partial_json ?? delta.thinking ?? "");
          if (delta.type === "text_delta") block.text = String(block.text ?? "") + piece;
          if (delta.type === "thinking_delta") block.thinking = String(block.thinking ?? "") + piece;
          if (delta.type === "signature_delta") block.signature = delta.signature;
          if (delta.type === "input_json_delta") json[index] += piece;
          if (delta.type === "citations_delta") {
            block.citations = [...((block.citations as unknown[] | undefined) ?? []), delta.citation];
            titleResults(content, delta.citation);
          }
          break;
        }
        case "content_block_stop": {
          const block = content[index];
          if (block?.type === "tool_use" || block?.type === "server_tool_use") block.input = toolInput(json[index] ?? "");
          break;
        }
        case "message_delta":
          message = { ...message, ...event.delta, usage: { ...(message.usage as object), ...event.usage } };
          break;
        default:
          break;
      }
    },
    result: () => ({ ...message, content }),
  };
}
