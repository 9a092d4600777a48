/**
 * Chat Completions request -> Codex Responses request. Pure: no I/O, no clock.
 *
 * Every field a client may send is either mapped, deliberately dropped (the backend rejects it or it
 * has no Responses meaning), or refused with a 400 that names the field. The README's mapping table
 * documents the same rules.
 */
import { fixedFields, REASONING_EFFORTS, upstreamEffort } from "../../codex/body.js";
import { derivedCacheKey } from "../../codex/cache-key.js";
import { badRequest } from "../../errors.js";
import type { FunctionTool, InputFile, InputImage, InputItem, InputText, OutputText, ResponsesRequest, TextFormat, ToolChoice } from "../../codex/types.js";
import { ToolNames } from "../../codex/tool-names.js";
import { WEB_SEARCH_SOURCES, webSearchTool, type WebSearchOptions } from "../../codex/web-search.js";
import { isObject, type Json } from "../json.js";

export interface ConvertOptions {
  /** upstream model slug, already checked against the allowlist */
  model: string;
  /** effort implied by an effort-suffixed model alias; an explicit `reasoning_effort` wins */
  aliasEffort?: string;
}

export interface ConvertedRequest {
  body: ResponsesRequest;
  toolNames: ToolNames;
  stream: boolean;
  includeUsage: boolean;
}

export function convertChatRequest(raw: unknown, options: ConvertOptions): ConvertedRequest {
  if (!isObject(raw)) throw badRequest("The request body must be a JSON object.");
  const req = raw;
  const toolNames = new ToolNames();

  const stream = optionalBoolean(req.stream, "stream") ?? false;
  const streamOptions = req.stream_options;
  if (streamOptions != null && !isObject(streamOptions)) throw badRequest("stream_options must be an object.", "stream_options");
  const includeUsage = optionalBoolean(streamOptions?.include_usage, "stream_options.include_usage") ?? false;

  if (req.n != null && req.n !== 1) {
    throw badRequest("Only n=1 is supported: the Codex backend returns one choice per request.", "n", "unsupported_value");
  }

  const tools = convertTools(req, toolNames);
  const { instructions, input } = convertMessages(req.messages, toolNames);

  const body: ResponsesRequest = {
    model: options.model,
    instructions,
    input,
    ...fixedFields(),
    prompt_cache_key: promptCacheKey(req, instructions, input),
  };

  if (tools.length > 0) {
    body.tools = tools;
    const choice = convertToolChoice(req, tools, toolNames);
    if (choice !== undefined) body.tool_choice = choice;
    const parallel = optionalBoolean(req.parallel_tool_calls, "parallel_tool_calls");
    if (parallel !== undefined) body.parallel_tool_calls = parallel;
  } else {
    rejectToolChoiceWithoutTools(req);
  }
  const search = webSearchOptions(req.web_search_options);
  if (search) {
    body.tools = [...(body.tools ?? []), webSearchTool(search)];
    body.include = fixedFields([WEB_SEARCH_SOURCES]).include;
  }

  const effort = convertEffort(req.reasoning_effort) ?? options.aliasEffort;
  body.reasoning = effort === undefined ? { summary: "auto" } : { effort, summary: "auto" };

  const text = convertText(req);
  if (text) body.text = text;

  if (req.service_tier === "priority") body.service_tier = "priority";

  return { body, toolNames, stream, includeUsage };
}

/**
 * `web_search_options` (the Chat Completions way to search, as OpenAI's search models take it) turns
 * on the backend's own web search: `search_context_size`, and `user_location.approximate`.
 */
function webSearchOptions(value: unknown): WebSearchOptions | undefined {
  if (value == null) return undefined;
  if (!isObject(value)) throw badRequest("web_search_options must be an object.", "web_search_options");
  const options: WebSearchOptions = {};
  const size = value.search_context_size;
  if (size != null) {
    if (size !== "low" && size !== "medium" && size !== "high")
      throw badRequest("web_search_options.search_context_size must be low, medium or high.", "web_search_options.search_context_size");
    options.contextSize = size;
  }
  const location = isObject(value.user_location) && isObject(value.user_location.approximate) ? value.user_location.approximate : undefined;
  if (location) {
    const picked: Record<string, string> = {};
    for (const key of ["city", "region", "country", "timezone"] as const) if (typeof location[key] === "string" && location[key] !== "") picked[key] = location[key] as string;
    options.userLocation = picked;
  }
  return options;
}

function optionalBoolean(value: unknown, param: string): boolean | undefined {
  if (value == null) return undefined;
  if (typeof value !== "boolean") throw badRequest(`${param} must be a boolean.`, param);
  return value;
}

// ---------------------------------------------------------------------------------------------
// messages

interface PendingCall {
  name: string;
  messageIndex: number;
  legacy: boolean;
}

function convertMessages(messages: unknown, toolNames: ToolNames): { instructions: string; input: InputItem[] } {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw badRequest("messages must be a non-empty array.", "messages");
  }
  const instructions: string[] = [];
  const input: InputItem[] = [];
  const pending = new Map<string, PendingCall>();

  messages.forEach((message: unknown, i) => {
    const param = `messages[${i}]`;
    if (!isObject(message)) throw badRequest(`${param} must be an object.`, param);
    switch (message.role) {
      case "system":
      case "developer":
        instructions.push(plainText(message.content, param));
        return;
      case "user":
        input.push({ type: "message", role: "user", content: userContent(message.content, param) });
        return;
      case "assistant":
        convertAssistant(message, i, input, pending, toolNames);
        return;
      case "tool": {
        const id = message.tool_call_id;
        if (typeof id !== "string" || id === "") {
          throw badRequest(`${param}.tool_call_id is required on a tool message.`, `${param}.tool_call_id`);
        }
        if (!pending.delete(id)) {
          throw badRequest(
            `${param} is a tool result for tool_call_id '${id}', but no earlier assistant message has an unanswered tool call with that id. Send the assistant message with its tool_calls before the tool results.`,
            `${param}.tool_call_id`,
            "tool_call_not_found",
          );
        }
        input.push({ type: "function_call_output", call_id: id, output: toolOutput(message.content, param) });
        return;
      }
      case "function": {
        const name = message.name;
        const match = [...pending].find(([, call]) => call.legacy && call.name === name);
        if (typeof name !== "string" || !match) {
          throw badRequest(
            `${param} is a function result for '${String(name)}', but no earlier assistant message has an unanswered function_call with that name.`,
            `${param}.name`,
            "tool_call_not_found",
          );
        }
        pending.delete(match[0]);
        input.push({ type: "function_call_output", call_id: match[0], output: toolOutput(message.content, param) });
        return;
      }
      default:
        throw badRequest(`${param}.role must be one of system, developer, user, assistant, tool, function; got ${JSON.stringify(message.role)}.`, `${param}.role`);
    }
  });

  for (const [id, call] of pending) {
    throw badRequest(
      `The tool call '${id}' in messages[${call.messageIndex}] has no result. Add a tool message with tool_call_id '${id}' after it (the Codex backend rejects a call without its output).`,
      `messages[${call.messageIndex}].tool_calls`,
      "tool_result_missing",
    );
  }
  return { instructions: instructions.join("\n\n"), input };
}

function convertAssistant(message: Json, i: number, input: InputItem[], pending: Map<string, PendingCall>, toolNames: ToolNames): void {
  const param = `messages[${i}]`;
  const text = assistantText(message.content, param);
  if (text.length > 0) input.push({ type: "message", role: "assistant", content: text });

  const toolCalls = message.tool_calls;
  if (toolCalls != null) {
    if (!Array.isArray(toolCalls)) throw badRequest(`${param}.tool_calls must be an array.`, `${param}.tool_calls`);
    toolCalls.forEach((call: unknown, j) => {
      const p = `${param}.tool_calls[${j}]`;
      if (!isObject(call) || typeof call.id !== "string" || call.id === "") throw badRequest(`${p}.id must be a non-empty string.`, `${p}.id`);
      if (pending.has(call.id)) {
        throw badRequest(`${p}.id '${call.id}' is used by another tool call that has no result yet; each tool call needs its own id.`, `${p}.id`, "duplicate_tool_call_id");
      }
      const fn = functionCall(call.function, `${p}.function`);
      pending.set(call.id, { name: fn.name, messageIndex: i, legacy: false });
      input.push({ type: "function_call", call_id: call.id, name: toolNames.toUpstream(fn.name), arguments: fn.arguments });
    });
  }
  if (message.function_call != null) {
    const fn = functionCall(message.function_call, `${param}.function_call`);
    const id = `call_legacy_${i}`;
    pending.set(id, { name: fn.name, messageIndex: i, legacy: true });
    input.push({ type: "function_call", call_id: id, name: toolNames.toUpstream(fn.name), arguments: fn.arguments });
  }
}

function functionCall(fn: unknown, param: string): { name: string; arguments: string } {
  if (!isObject(fn) || typeof fn.name !== "string" || fn.name === "") {
    throw badRequest(`${param}.name must be a non-empty string.`, `${param}.name`);
  }
  const args = fn.arguments;
  // Some clients send already-parsed arguments; the backend wants the JSON text.
  const text = typeof args === "string" ? args : args == null ? "{}" : JSON.stringify(args);
  return { name: fn.name, arguments: text };
}

function partsOf(content: unknown, param: string): Json[] {
  if (!Array.isArray(content)) throw badRequest(`${param}.content must be a string or an array of content parts.`, `${param}.content`);
  return content.map((part: unknown, k) => {
    if (!isObject(part) || typeof part.type !== "string") {
      throw badRequest(`${param}.content[${k}] must be a content part object with a type.`, `${param}.content[${k}]`);
    }
    return part;
  });
}

function textOfPart(part: Json, param: string): string {
  if (typeof part.text !== "string") throw badRequest(`${param}.text must be a string.`, `${param}.text`);
  return part.text;
}

/** system/developer content: text only, parts joined without separators (as OpenAI does). */
function plainText(content: unknown, param: string): string {
  if (typeof content === "string") return content;
  return partsOf(content, param)
    .map((part, k) => {
      if (part.type !== "text") {
        throw badRequest(`${param}.content[${k}]: only text parts are allowed in system and developer messages.`, `${param}.content[${k}].type`);
      }
      return textOfPart(part, `${param}.content[${k}]`);
    })
    .join("");
}

function assistantText(content: unknown, param: string): OutputText[] {
  if (content == null) return [];
  if (typeof content === "string") return content === "" ? [] : [{ type: "output_text", text: content }];
  return partsOf(content, param).map((part, k) => {
    const p = `${param}.content[${k}]`;
    if (part.type === "text") return { type: "output_text", text: textOfPart(part, p) };
    if (part.type === "refusal" && typeof part.refusal === "string") return { type: "output_text", text: part.refusal };
    throw badRequest(`${p}: assistant messages may only hold text or refusal parts.`, `${p}.type`);
  });
}

function userContent(content: unknown, param: string): (InputText | InputImage | InputFile)[] {
  if (typeof content === "string") return [{ type: "input_text", text: content }];
  return partsOf(content, param).map((part, k) => {
    const p = `${param}.content[${k}]`;
    switch (part.type) {
      case "text":
        return { type: "input_text", text: textOfPart(part, p) };
      case "image_url":
        return imagePart(part.image_url, p);
      case "file":
        return filePart(part.file, p);
      default:
        throw badRequest(`${p}.type '${String(part.type)}' is not supported; use text, image_url or file parts.`, `${p}.type`, "unsupported_content_type");
    }
  });
}

function imagePart(image: unknown, param: string): InputImage {
  const url = typeof image === "string" ? image : isObject(image) ? image.url : undefined;
  if (typeof url !== "string" || !/^(data:image\/[\w.+-]+;base64,|https?:\/\/)/i.test(url)) {
    throw badRequest(`${param}.image_url.url must be a data:image/...;base64 URL or an http(s) URL.`, `${param}.image_url.url`);
  }
  const detail = isObject(image) ? image.detail : undefined;
  if (detail === undefined || detail === null) return { type: "input_image", image_url: url };
  if (detail !== "auto" && detail !== "low" && detail !== "high") {
    throw badRequest(`${param}.image_url.detail must be auto, low or high.`, `${param}.image_url.detail`);
  }
  return { type: "input_image", image_url: url, detail };
}

function filePart(file: unknown, param: string): InputFile {
  if (!isObject(file) || typeof file.file_data !== "string") {
    throw badRequest(
      `${param}.file.file_data is required: uploaded file ids cannot be used through a ChatGPT login, send the file inline as a data URL.`,
      `${param}.file`,
      "unsupported_value",
    );
  }
  const item: InputFile = { type: "input_file", file_data: file.file_data };
  if (typeof file.filename === "string") item.filename = file.filename;
  return item;
}

function toolOutput(content: unknown, param: string): string | (InputText | InputImage)[] {
  if (content == null) return "";
  if (typeof content === "string") return content;
  const parts = partsOf(content, param);
  if (parts.every((p) => p.type === "text")) return parts.map((p, k) => textOfPart(p, `${param}.content[${k}]`)).join("");
  return parts.map((part, k) => {
    const p = `${param}.content[${k}]`;
    if (part.type === "text") return { type: "input_text", text: textOfPart(part, p) };
    if (part.type === "image_url") return imagePart(part.image_url, p);
    throw badRequest(`${p}.type '${String(part.type)}' is not supported in a tool result; use text or image_url parts.`, `${p}.type`);
  });
}

// ---------------------------------------------------------------------------------------------
// tools

function convertTools(req: Json, toolNames: ToolNames): FunctionTool[] {
  const out: FunctionTool[] = [];
  if (req.tools != null) {
    if (!Array.isArray(req.tools)) throw badRequest("tools must be an array.", "tools");
    req.tools.forEach((tool: unknown, i) => {
      if (!isObject(tool) || tool.type !== "function") {
        throw badRequest(`tools[${i}].type must be 'function'; other tool types are not available through this proxy.`, `tools[${i}].type`);
      }
      out.push(functionTool(tool.function, `tools[${i}].function`, toolNames));
    });
  }
  if (req.functions != null) {
    if (!Array.isArray(req.functions)) throw badRequest("functions must be an array.", "functions");
    req.functions.forEach((fn: unknown, i) => {
      out.push(functionTool(fn, `functions[${i}]`, toolNames));
    });
  }
  return out;
}

function functionTool(fn: unknown, param: string, toolNames: ToolNames): FunctionTool {
  if (!isObject(fn) || typeof fn.name !== "string" || fn.name === "") {
    throw badRequest(`${param}.name must be a non-empty string.`, `${param}.name`);
  }
  if (fn.parameters != null && !isObject(fn.parameters)) throw badRequest(`${param}.parameters must be a JSON Schema object.`, `${param}.parameters`);
  const tool: FunctionTool = {
    type: "function",
    name: toolNames.toUpstream(fn.name),
    parameters: (fn.parameters as Json | undefined) ?? { type: "object", properties: {} },
    strict: fn.strict === true,
  };
  if (typeof fn.description === "string") tool.description = fn.description;
  return tool;
}

function convertToolChoice(req: Json, tools: FunctionTool[], toolNames: ToolNames): ToolChoice | undefined {
  const choice = req.tool_choice ?? legacyFunctionCall(req.function_call);
  if (choice == null) return undefined;
  if (choice === "auto" || choice === "none" || choice === "required") return choice;
  if (isObject(choice) && choice.type === "function" && isObject(choice.function) && typeof choice.function.name === "string") {
    const wanted = choice.function.name;
    const tool = tools.find((t) => t.name === toolNames.toUpstream(wanted));
    if (!tool) throw badRequest(`tool_choice names the function '${wanted}', which is not in tools.`, "tool_choice");
    return { type: "function", name: tool.name };
  }
  throw badRequest('tool_choice must be \'auto\', \'none\', \'required\' or {"type":"function","function":{"name":...}}.', "tool_choice");
}

function legacyFunctionCall(value: unknown): unknown {
  if (value == null || typeof value === "string") return value;
  if (isObject(value)) return { type: "function", function: { name: value.name } };
  return value;
}

function rejectToolChoiceWithoutTools(req: Json): void {
  const choice = req.tool_choice ?? req.function_call;
  if (choice == null || choice === "auto" || choice === "none") return;
  throw badRequest("tool_choice asks for a tool call, but the request has no tools.", "tool_choice");
}

// ---------------------------------------------------------------------------------------------
// reasoning, text, cache key

function convertEffort(value: unknown): string | undefined {
  if (value == null) return undefined;
  if (typeof value !== "string" || !(REASONING_EFFORTS as readonly string[]).includes(value)) {
    throw badRequest(`reasoning_effort must be one of ${REASONING_EFFORTS.join(", ")}.`, "reasoning_effort");
  }
  return upstreamEffort(value);
}

function convertText(req: Json): ResponsesRequest["text"] | undefined {
  const text: NonNullable<ResponsesRequest["text"]> = {};
  if (req.response_format != null) text.format = textFormat(req.response_format);
  if (req.verbosity != null) {
    if (req.verbosity !== "low" && req.verbosity !== "medium" && req.verbosity !== "high") {
      throw badRequest("verbosity must be low, medium or high.", "verbosity");
    }
    text.verbosity = req.verbosity;
  }
  return Object.keys(text).length > 0 ? text : undefined;
}

function textFormat(format: unknown): TextFormat {
  if (!isObject(format)) throw badRequest("response_format must be an object.", "response_format");
  if (format.type === "text" || format.type === "json_object") return { type: format.type };
  if (format.type === "json_schema") {
    const js = format.json_schema;
    if (!isObject(js) || typeof js.name !== "string" || !isObject(js.schema)) {
      throw badRequest("response_format.json_schema needs a name and a schema object.", "response_format.json_schema");
    }
    const out: TextFormat = { type: "json_schema", name: js.name, schema: js.schema, strict: js.strict === true };
    if (typeof js.description === "string") out.description = js.description;
    return out;
  }
  throw badRequest("response_format.type must be text, json_object or json_schema.", "response_format.type");
}

/**
 * The backend's prompt cache is keyed by this value, so it must stay the same for every turn of a
 * conversation: the client's own key when it gives one, else a hash of what never changes between
 * turns (the instructions and the first user message).
 */
function promptCacheKey(req: Json, instructions: string, input: InputItem[]): string {
  if (typeof req.prompt_cache_key === "string" && req.prompt_cache_key !== "") return req.prompt_cache_key;
  return derivedCacheKey(
    req.user,
    instructions,
    input.find((item) => item.type === "message" && item.role === "user"),
  );
}
