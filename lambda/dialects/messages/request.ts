/**
 * Anthropic Messages request -> the Codex backend's Responses body. Pure. Facts:
 * docs/dialects.md ("Claude Code and the Anthropic Messages API": what Claude Code really sends).
 *
 * - `system` (string or text blocks), and `system` messages inside `messages` (Claude Code sends
 *   one), become `instructions`; a first block that is Claude Code's billing line is not a prompt;
 * - text, image (base64 or URL) and PDF document blocks become input parts; `tool_use` blocks become
 *   `function_call` items and `tool_result` blocks `function_call_output` items, paired by id;
 * - `thinking` / `redacted_thinking` blocks whose signature we issued become reasoning items again
 *   (the signature carries the backend's encrypted reasoning), so reasoning survives the turn;
 * - custom tools become function tools; a `web_search_*` server tool of any date becomes the
 *   backend's own `web_search` tool (docs/web-search.md); other server tools are refused by name;
 * - earlier searches (`server_tool_use` and `web_search_tool_result` blocks) reach the model as
 *   assistant text, since the backend stores no items to refer to;
 * - `thinking` / `output_config.effort` set the reasoning effort; `max_tokens` is required (as the
 *   API requires it) but never forwarded, nor `temperature`, `top_p`, `top_k`, `stop_sequences`.
 */
import { fixedFields } from "../../codex/body.js";
import { derivedCacheKey } from "../../codex/cache-key.js";
import { ToolNames } from "../../codex/tool-names.js";
import { WEB_SEARCH_SOURCES, webSearchTool } from "../../codex/web-search.js";
import type { PassthroughRequest } from "../../codex/types.js";
import { badRequest } from "../../errors.js";
import { readSignature } from "./signature.js";
import { isObject, type Json } from "../json.js";

export interface ConvertedMessagesRequest {
  body: PassthroughRequest;
  stream: boolean;
  toolNames: ToolNames;
  /** set when the request offers the web search server tool */
  webSearch?: WebSearchTool;
}

/** What the answer must honour of the client's web search tool that the backend cannot. */
export interface WebSearchTool {
  /** the tool's name, for the `server_tool_use` blocks */
  name: string;
  /** results and citations from these domains are left out of the answer */
  blockedDomains: string[];
}

/** Anthropic's web search tool, any dated version: `web_search_20250305`, `web_search_20260209`, … */
const WEB_SEARCH_TYPE = /^web_search_\d{8}$/;

/** `budget_tokens` below the first bound is `low`, below the second `medium`, else `high`. */
export const THINKING_BUDGET_BOUNDS = [4_096, 16_384] as const;
const EFFORTS: Record<string, string> = { low: "low", medium: "medium", high: "high", max: "xhigh", xhigh: "xhigh" };

/** A turn must say how long its answer may be (count_tokens need not): Anthropic's rule, kept. */
export function checkMaxTokens(raw: unknown): void {
  if (isObject(raw) && !(Number.isInteger(raw.max_tokens) && (raw.max_tokens as number) > 0)) {
    throw badRequest("max_tokens: a positive integer is required.", "max_tokens");
  }
}

export function convertMessagesRequest(raw: unknown, options: { model: string; aliasEffort?: string }): ConvertedMessagesRequest {
  if (!isObject(raw)) throw badRequest("The request body must be a JSON object.");
  const stream = raw.stream == null ? false : raw.stream;
  if (typeof stream !== "boolean") throw badRequest("stream must be a boolean.", "stream");
  const toolNames = new ToolNames();
  const instructions = systemText(raw.system);
  const input = convertMessages(raw.messages, instructions, toolNames);

  const body: PassthroughRequest = {
    model: options.model,
    instructions: instructions.join("\n\n"),
    input,
    ...fixedFields(),
    prompt_cache_key: derivedCacheKey(
      isObject(raw.metadata) ? raw.metadata.user_id : undefined,
      instructions.join("\n\n"),
      input.find((i) => i.role === "user"),
    ),
    reasoning: { summary: "auto", ...effortOf(raw, options.aliasEffort) },
  };
  const { tools, webSearch } = convertTools(raw.tools, toolNames);
  if (tools.length > 0) {
    body.tools = tools;
    convertToolChoice(raw.tool_choice, body, toolNames, webSearch);
  }
  if (webSearch) body.include = fixedFields([WEB_SEARCH_SOURCES]).include;
  return { body, stream, toolNames, ...(webSearch ? { webSearch } : {}) };
}

function systemText(system: unknown): string[] {
  if (system == null) return [];
  if (typeof system === "string") return system === "" ? [] : [system];
  if (!Array.isArray(system)) throw badRequest("system must be a string or an array of text blocks.", "system");
  return system
    .map((block: unknown, i) => {
      if (!isObject(block) || block.type !== "text" || typeof block.text !== "string") throw badRequest(`system[${i}] must be a text block.`, `system[${i}]`);
      return block.text;
    })
    .filter((text, i) => !(i === 0 && text.startsWith("x-anthropic-billing-header:")) && text !== "");
}

interface Pending {
  name: string;
  at: string;
}

function convertMessages(messages: unknown, instructions: string[], toolNames: ToolNames): Json[] {
  if (!Array.isArray(messages) || messages.length === 0) throw badRequest("messages must be a non-empty array.", "messages");
  const input: Json[] = [];
  const pending = new Map<string, Pending>();
  messages.forEach((message: unknown, i) => {
    const param = `messages[${i}]`;
    if (!isObject(message)) throw badRequest(`${param} must be an object.`, param);
    const blocks = typeof message.content === "string" ? [{ type: "text", text: message.content }] : message.content;
    if (!Array.isArray(blocks)) throw badRequest(`${param}.content must be a string or an array of content blocks.`, `${param}.content`);
    if (message.role === "system") {
      // Not in the public API, but Claude Code sends one: it is more instructions, never a system role upstream.
      instructions.push(...blocks.map((b: unknown, j) => textOf(b, `${param}.content[${j}]`)));
      return;
    }
    if (message.role === "user") userTurn(blocks, param, input, pending);
    else if (message.role === "assistant") assistantTurn(blocks, param, input, pending, toolNames);
    else throw badRequest(`${param}.role must be user or assistant; got ${JSON.stringify(message.role)}.`, `${param}.role`);
  });
  for (const [id, call] of pending) {
    throw badRequest(
      `The tool_use block '${id}' in ${call.at} has no tool_result. Send a tool_result with tool_use_id '${id}' in the next user message.`,
      call.at,
      "tool_result_missing",
    );
  }
  return input;
}

function textOf(block: unknown, param: string): string {
  if (!isObject(block) || block.type !== "text" || typeof block.text !== "string") throw badRequest(`${param} must be a text block.`, param);
  return block.text;
}

function userTurn(blocks: unknown[], param: string, input: Json[], pending: Map<string, Pending>): void {
  const parts: Json[] = [];
  blocks.forEach((block: unknown, j) => {
    const p = `${param}.content[${j}]`;
    if (!isObject(block)) throw badRequest(`${p} must be a content block.`, p);
    if (block.type === "tool_result") {
      const id = block.tool_use_id;
      if (typeof id !== "string" || !pending.delete(id)) {
        throw badRequest(
          `${p} is a tool_result for '${String(id)}', but no earlier assistant message has an unanswered tool_use with that id.`,
          `${p}.tool_use_id`,
          "tool_use_not_found",
        );
      }
      input.push({ type: "function_call_output", call_id: id, output: toolOutput(block, p) });
      return;
    }
    parts.push(inputPart(block, p));
  });
  if (parts.length > 0) input.push({ type: "message", role: "user", content: parts });
}

function inputPart(block: Json, p: string): Json {
  switch (block.type) {
    case "text":
      return { type: "input_text", text: textOf(block, p) };
    case "image":
      return { type: "input_image", image_url: sourceUrl(block.source, `${p}.source`, "image") };
    case "document": {
      const source = block.source;
      if (isObject(source) && source.type === "text" && typeof source.data === "string") return { type: "input_text", text: source.data };
      const title = typeof block.title === "string" && block.title !== "" ? block.title : "document.pdf";
      return { type: "input_file", file_data: sourceUrl(source, `${p}.source`, "document"), filename: title };
    }
    default:
      throw badRequest(`${p}.type '${String(block.type)}' is not supported here; use text, image, document, tool_result.`, `${p}.type`, "unsupported_content_type");
  }
}

function sourceUrl(source: unknown, p: string, what: string): string {
  if (isObject(source) && source.type === "base64" && typeof source.media_type === "string" && typeof source.data === "string")
    return `data:${source.media_type};base64,${source.data}`;
  if (isObject(source) && source.type === "url" && typeof source.url === "string") return source.url;
  throw badRequest(`${p}: a ${what} source must be {type: "base64", media_type, data} or {type: "url", url}.`, p);
}

function toolOutput(block: Json, p: string): string | Json[] {
  const prefix = block.is_error === true ? "Error: " : "";
  if (block.content == null) return prefix;
  if (typeof block.content === "string") return prefix + block.content;
  if (!Array.isArray(block.content)) throw badRequest(`${p}.content must be a string or an array of text and image blocks.`, `${p}.content`);
  const parts = block.content.map((b: unknown, k) => {
    if (!isObject(b) || (b.type !== "text" && b.type !== "image")) throw badRequest(`${p}.content[${k}] must be a text or image block.`, `${p}.content[${k}]`);
    return inputPart(b, `${p}.content[${k}]`);
  });
  if (prefix) parts.unshift({ type: "input_text", text: prefix });
  return parts.every((part) => part.type === "input_text") ? parts.map((part) => part.text).join("") : parts;
}

function assistantTurn(blocks: unknown[], param: string, input: Json[], pending: Map<string, Pending>, toolNames: ToolNames): void {
  blocks.forEach((block: unknown, j) => {
    const p = `${param}.content[${j}]`;
    if (!isObject(block)) throw badRequest(`${p} must be a content block.`, p);
    switch (block.type) {
      case "text":
        if (block.text !== "") input.push({ type: "message", role: "assistant", content: [{ type: "output_text", text: textOf(block, p) }] });
        return;
      case "tool_use": {
        if (typeof block.id !== "string" || block.id === "" || typeof block.name !== "string") throw badRequest(`${p} needs an id and a name.`, p);
        if (pending.has(block.id)) throw badRequest(`${p}.id '${block.id}' is used by another tool_use without a result yet.`, `${p}.id`, "duplicate_tool_use_id");
        pending.set(block.id, { name: block.name, at: p });
        input.push({ type: "function_call", call_id: block.id, name: toolNames.toUpstream(block.name), arguments: JSON.stringify(block.input ?? {}) });
        return;
      }
      case "server_tool_use":
        // An earlier search: its query, then its results (next block), reach the model as text.
        if (block.name === "web_search" || (isObject(block.input) && typeof block.input.query === "string")) {
          const query = isObject(block.input) && typeof block.input.query === "string" ? block.input.query : "";
          input.push({ type: "message", role: "assistant", content: [{ type: "output_text", text: `[searched the web for: ${query}]` }] });
          return;
        }
        throw badRequest(`${p} is a server_tool_use of '${String(block.name)}', which this proxy cannot replay; only web search can.`, `${p}.name`, "unsupported_content_type");
      case "web_search_tool_result":
        input.push({ type: "message", role: "assistant", content: [{ type: "output_text", text: searchResultText(block.content) }] });
        return;
      case "thinking":
      case "redacted_thinking": {
        // Our signature carries the backend's encrypted reasoning; anything else cannot be replayed.
        const reasoning = readSignature(block.type === "thinking" ? block.signature : block.data);
        if (reasoning) input.push({ type: "reasoning", summary: reasoning.summary.map((text) => ({ type: "summary_text", text })), encrypted_content: reasoning.encrypted });
        return;
      }
      default:
        throw badRequest(
          `${p}.type '${String(block.type)}' is not supported in an assistant message; use text, tool_use, thinking, server_tool_use, web_search_tool_result.`,
          `${p}.type`,
          "unsupported_content_type",
        );
    }
  });
}

/** An earlier search's results as the model reads them again: one line per page. */
function searchResultText(content: unknown): string {
  if (!Array.isArray(content)) {
    const code = isObject(content) && typeof content.error_code === "string" ? content.error_code : "unknown";
    return `[the web search failed: ${code}]`;
  }
  const lines = content
    .filter(isObject)
    .map((r) => `- ${typeof r.title === "string" ? r.title : ""} <${typeof r.url === "string" ? r.url : ""}>${typeof r.page_age === "string" ? ` (${r.page_age})` : ""}`);
  return lines.length > 0 ? `[web search results]\n${lines.join("\n")}` : "[the web search found nothing]";
}

function convertTools(tools: unknown, toolNames: ToolNames): { tools: Json[]; webSearch?: WebSearchTool } {
  if (tools == null) return { tools: [] };
  if (!Array.isArray(tools)) throw badRequest("tools must be an array.", "tools");
  const serverTools: string[] = [];
  const out: Json[] = [];
  let webSearch: WebSearchTool | undefined;
  tools.forEach((tool: unknown, i) => {
    if (!isObject(tool) || typeof tool.name !== "string") throw badRequest(`tools[${i}] must be a tool with a name.`, `tools[${i}]`);
    if (typeof tool.type === "string" && WEB_SEARCH_TYPE.test(tool.type)) {
      if (webSearch) throw badRequest(`tools[${i}] is a second web search tool; send one.`, `tools[${i}]`);
      webSearch = { name: tool.name, blockedDomains: domains(tool.blocked_domains, `tools[${i}].blocked_domains`) };
      out.push(webSearchTool({ allowedDomains: domains(tool.allowed_domains, `tools[${i}].allowed_domains`), ...userLocation(tool.user_location) }));
      return;
    }
    if (tool.type !== undefined && tool.type !== "custom") {
      serverTools.push(`${tool.name} (${String(tool.type)})`);
      return;
    }
    if (tool.defer_loading === true) return; // a placeholder for tools loaded later: nothing to call now
    const { $schema: _schema, ...schema } = isObject(tool.input_schema) ? tool.input_schema : { type: "object" };
    out.push({
      type: "function",
      name: toolNames.toUpstream(tool.name),
      ...(typeof tool.description === "string" ? { description: tool.description } : {}),
      parameters: schema,
      strict: false,
    });
  });
  if (serverTools.length > 0) {
    throw badRequest(
      `Anthropic server tools cannot run on the Codex backend: ${serverTools.join(", ")}. Only web search (web_search_*) can; remove the others, or declare them as custom tools your client runs.`,
      "tools",
      "unsupported_tool",
    );
  }
  return webSearch ? { tools: out, webSearch } : { tools: out };
}

function domains(value: unknown, param: string): string[] {
  if (value == null) return [];
  if (!Array.isArray(value) || value.some((d) => typeof d !== "string" || d === "")) throw badRequest(`${param} must be an array of domain names.`, param);
  return value as string[];
}

function userLocation(value: unknown): { userLocation?: Record<string, string> } {
  if (!isObject(value)) return {};
  const out: Record<string, string> = {};
  for (const key of ["city", "region", "country", "timezone"] as const) if (typeof value[key] === "string" && value[key] !== "") out[key] = value[key] as string;
  return { userLocation: out };
}

function convertToolChoice(choice: unknown, body: PassthroughRequest, toolNames: ToolNames, webSearch: WebSearchTool | undefined): void {
  if (choice == null) return;
  if (!isObject(choice)) throw badRequest("tool_choice must be an object.", "tool_choice");
  if (choice.type === "auto") body.tool_choice = "auto";
  else if (choice.type === "any") body.tool_choice = "required";
  else if (choice.type === "none") body.tool_choice = "none";
  else if (choice.type === "tool" && typeof choice.name === "string" && choice.name === webSearch?.name) body.tool_choice = { type: "web_search" };
  else if (choice.type === "tool" && typeof choice.name === "string") body.tool_choice = { type: "function", name: toolNames.toUpstream(choice.name) };
  else throw badRequest("tool_choice.type must be auto, any, none or tool (with a name).", "tool_choice.type");
  if (choice.disable_parallel_tool_use === true) body.parallel_tool_calls = false;
}

function effortOf(raw: Json, aliasEffort: string | undefined): { effort?: string } {
  const config = isObject(raw.output_config) ? raw.output_config : {};
  if (config.effort != null) {
    // an own-property lookup: a client string must never reach the prototype chain ("__proto__", "constructor")
    if (typeof config.effort !== "string" || !Object.hasOwn(EFFORTS, config.effort)) {
      throw badRequest(`output_config.effort must be one of ${Object.keys(EFFORTS).join(", ")}; got ${JSON.stringify(config.effort)}.`, "output_config.effort");
    }
    return { effort: EFFORTS[config.effort] as string };
  }
  const thinking = isObject(raw.thinking) ? raw.thinking : {};
  if (thinking.type === "disabled") return { effort: "low" }; // the lowest effort every catalog model accepts
  if (thinking.type === "enabled" && typeof thinking.budget_tokens === "number") {
    const [low, medium] = THINKING_BUDGET_BOUNDS;
    return { effort: thinking.budget_tokens < low ? "low" : thinking.budget_tokens < medium ? "medium" : "high" };
  }
  return aliasEffort ? { effort: aliasEffort } : {};
}
