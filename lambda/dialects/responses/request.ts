/**
 * Responses API request -> the Codex backend's body. Pure. The client already speaks the backend's
 * language, so items and tools pass through; what changes is what the backend's rules require
 * (docs/backend.md §2-3, docs/codex-cli.md):
 * - `store: false` and `stream: true` always; `instructions` defaults to "";
 * - only the fields the backend accepts are forwarded (an allowlist: `temperature`,
 *   `max_output_tokens`, `metadata`, `user`, … never reach it);
 * - item `id`s are dropped (with `store: false` the backend cannot resolve them), except a
 *   `compaction` item's `cmp_` id, to which the backend binds its encrypted content; `system` items
 *   become `developer` items, a string `input` becomes one user message;
 * - a `compaction_trigger` (remote compaction, docs/codex-cli.md) must be the one, last, id-less
 *   item, as the backend requires; the legacy `/responses/compact` call appends it;
 * - `include` always carries `reasoning.encrypted_content`, so reasoning survives between turns;
 * - function names over 64 characters are shortened (and restored on the way back);
 * - what needs server-side state is refused with a 400 that says what to send instead.
 */
import { fixedFields, upstreamEffort } from "../../codex/body.js";
import { derivedCacheKey } from "../../codex/cache-key.js";
import { COMPACTION_ITEM, COMPACTION_TRIGGER, isCompactionId } from "../../codex/compaction.js";
import { ToolNames } from "../../codex/tool-names.js";
import type { PassthroughRequest } from "../../codex/types.js";
import { badRequest } from "../../errors.js";
import { isObject, type Json } from "../json.js";

export interface ConvertedResponsesRequest {
  body: PassthroughRequest;
  stream: boolean;
  toolNames: ToolNames;
}

/** Passed through as the client sent them; everything else the client sends is dropped. */
const FORWARDED = ["parallel_tool_calls", "text", "client_metadata"] as const;
const FULL_HISTORY = "Send the whole conversation in `input` instead: this proxy's backend stores nothing between requests.";

export interface ResponsesRequestOptions {
  model: string;
  aliasEffort?: string;
  /** the legacy `/responses/compact` call: a compaction trigger ends the input, the answer is one JSON */
  compact?: boolean;
}

export function convertResponsesRequest(raw: unknown, options: ResponsesRequestOptions): ConvertedResponsesRequest {
  if (!isObject(raw)) throw badRequest("The request body must be a JSON object.");
  refuseServerState(raw);
  const toolNames = new ToolNames();
  const stream = raw.stream == null || options.compact ? false : raw.stream;
  if (typeof stream !== "boolean") throw badRequest("stream must be a boolean.", "stream");
  if (raw.instructions != null && typeof raw.instructions !== "string") throw badRequest("instructions must be a string.", "instructions");
  const instructions = (raw.instructions as string | undefined) ?? "";
  const input = convertInput(raw.input, toolNames);
  if (options.compact && input.at(-1)?.type !== COMPACTION_TRIGGER) input.push({ type: COMPACTION_TRIGGER });
  checkCompactionTrigger(input);

  const body: PassthroughRequest = {
    model: options.model,
    instructions,
    input,
    ...fixedFields(convertInclude(raw.include)),
    prompt_cache_key:
      typeof raw.prompt_cache_key === "string" && raw.prompt_cache_key !== ""
        ? raw.prompt_cache_key
        : derivedCacheKey(
            raw.user,
            instructions,
            input.find((item) => item.type === "message" && item.role === "user"),
          ),
  };
  if (raw.tools != null) body.tools = convertTools(raw.tools, toolNames);
  if (raw.tool_choice != null) body.tool_choice = convertToolChoice(raw.tool_choice, toolNames);
  const reasoning = convertReasoning(raw.reasoning, options.aliasEffort);
  if (reasoning) body.reasoning = reasoning;
  for (const key of FORWARDED) if (raw[key] != null) (body as unknown as Json)[key] = raw[key];
  if (raw.service_tier === "priority") body.service_tier = "priority";
  return { body, stream, toolNames };
}

function refuseServerState(raw: Json): void {
  if (raw.previous_response_id != null) {
    throw badRequest(
      `previous_response_id cannot be used: the Codex backend keeps no responses (store is always false). ${FULL_HISTORY}`,
      "previous_response_id",
      "unsupported_parameter",
    );
  }
  if (raw.conversation != null) throw badRequest(`conversation cannot be used: the Codex backend keeps no conversations. ${FULL_HISTORY}`, "conversation", "unsupported_parameter");
  if (raw.background === true)
    throw badRequest(
      "background responses cannot be used: the Codex backend only streams. Send the request with background false (or without it).",
      "background",
      "unsupported_parameter",
    );
  if (raw.prompt != null) throw badRequest("Stored prompt templates (prompt) cannot be used here; send instructions and input instead.", "prompt", "unsupported_parameter");
}

/** The backend's rule for remote compaction: one trigger, the last item ("must be the final input item"). */
function checkCompactionTrigger(input: Json[]): void {
  const at = input.findIndex((item) => item.type === COMPACTION_TRIGGER);
  if (at === -1) return;
  if (at !== input.length - 1) {
    throw badRequest(
      `input[${at}] is a compaction_trigger, which must be the one and last item of input (it asks the backend to compact everything before it); move it to the end, once.`,
      `input[${at}]`,
      "invalid_compaction_trigger",
    );
  }
}

function convertInput(input: unknown, toolNames: ToolNames): Json[] {
  if (typeof input === "string") return [{ type: "message", role: "user", content: [{ type: "input_text", text: input }] }];
  if (!Array.isArray(input) || input.length === 0) throw badRequest("input must be a string or a non-empty array of items.", "input");
  return input.map((item: unknown, i) => convertItem(item, `input[${i}]`, toolNames));
}

function convertItem(item: unknown, param: string, toolNames: ToolNames): Json {
  if (!isObject(item)) throw badRequest(`${param} must be an object.`, param);
  if (item.type === "item_reference") {
    throw badRequest(
      `${param} is an item_reference ('${String(item.id)}'), which needs the item stored server-side. ${FULL_HISTORY} With the AI SDK set providerOptions: { openai: { store: false } } so it sends whole items.`,
      param,
      "unsupported_item_reference",
    );
  }
  if (item.type === COMPACTION_TRIGGER && item.id !== undefined) {
    throw badRequest(`${param} is a compaction_trigger with an id; send it as {"type":"compaction_trigger"}, without one.`, `${param}.id`, "invalid_compaction_trigger");
  }
  // The encrypted content of a compaction item is bound to the id the backend minted with it.
  if (item.type === COMPACTION_ITEM && isCompactionId(item.id)) return { ...item };
  const { id: _id, ...copy } = item; // ids refer to stored items, which this backend never has
  if (copy.type === undefined && typeof copy.role === "string") copy.type = "message";
  if (typeof copy.type !== "string") throw badRequest(`${param}.type must be a string (message, function_call, function_call_output, reasoning, …).`, `${param}.type`);
  if (copy.type === "message") return convertMessage(copy, param);
  if (copy.type === "function_call" && typeof copy.name === "string") copy.name = toolNames.toUpstream(copy.name);
  return copy;
}

function convertMessage(message: Json, param: string): Json {
  const role = message.role === "system" ? "developer" : message.role;
  if (role !== "user" && role !== "assistant" && role !== "developer") {
    throw badRequest(`${param}.role must be one of user, assistant, system, developer; got ${JSON.stringify(message.role)}.`, `${param}.role`);
  }
  const content = typeof message.content === "string" ? [{ type: role === "assistant" ? "output_text" : "input_text", text: message.content }] : message.content;
  if (!Array.isArray(content)) throw badRequest(`${param}.content must be a string or an array of content parts.`, `${param}.content`);
  return { ...message, role, content };
}

function convertTools(tools: unknown, toolNames: ToolNames): Json[] {
  if (!Array.isArray(tools)) throw badRequest("tools must be an array.", "tools");
  return tools.map((tool: unknown, i) => {
    if (!isObject(tool) || typeof tool.type !== "string") throw badRequest(`tools[${i}] must be an object with a type.`, `tools[${i}]`);
    if (tool.type !== "function") return tool;
    if (typeof tool.name !== "string" || tool.name === "") throw badRequest(`tools[${i}].name must be a non-empty string.`, `tools[${i}].name`);
    return { ...tool, name: toolNames.toUpstream(tool.name) };
  });
}

function convertToolChoice(choice: unknown, toolNames: ToolNames): unknown {
  if (isObject(choice) && choice.type === "function" && typeof choice.name === "string") return { ...choice, name: toolNames.toUpstream(choice.name) };
  return choice;
}

function convertReasoning(reasoning: unknown, aliasEffort: string | undefined): Json | undefined {
  if (reasoning != null && !isObject(reasoning)) throw badRequest("reasoning must be an object.", "reasoning");
  const out: Json = { ...(reasoning ?? {}) };
  if (out.effort == null && aliasEffort) out.effort = aliasEffort;
  if (typeof out.effort === "string") out.effort = upstreamEffort(out.effort);
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The client's `include` values, checked (the fixed fields add the encrypted reasoning). */
function convertInclude(include: unknown): string[] {
  if (include != null && (!Array.isArray(include) || include.some((x) => typeof x !== "string"))) throw badRequest("include must be an array of strings.", "include");
  return (include as string[] | undefined) ?? [];
}
