/**
 * The legacy compaction call, `POST /v1/responses/compact`, still made by older Codex clients (0.147,
 * some Desktop builds). The backend's own `/responses/compact` is gone (404 since 2026-08-12), so the
 * call becomes what the current Codex CLI sends instead: an ordinary streamed `/responses` request
 * whose input ends with a `compaction_trigger`. The backend answers it with one `compaction` output
 * item (its `response.completed` carries `output: []`), and the client gets what the public API's
 * `responses.compact` returns and Codex's `compact.rs` parses: a `response.compaction` object whose
 * `output` is the request's user messages, which a client replaces its history with, followed by
 * the compaction item exactly as the backend minted it (docs/codex-cli.md).
 */
import { isTerminalEvent } from "../../codex/events.js";
import { ProxyError } from "../../errors.js";
import type { Collector, Dialect } from "../../pipeline/dialect.js";
import { isObject, type Json } from "../json.js";
import { responsesDialect } from "./index.js";
import { convertResponsesRequest } from "./request.js";
import { ResponsesEventMapper, type EventFrame, type ResponsesError } from "./stream.js";

export const compactDialect: Dialect<EventFrame, ResponsesError> = {
  name: "responses-compact",

  convert(raw, model) {
    const converted = convertResponsesRequest(raw, { model: model.model, compact: true, ...(model.effort ? { aliasEffort: model.effort } : {}) });
    const kept = (isObject(raw) && Array.isArray(raw.input) ? raw.input : []).filter(isKeptMessage);
    return {
      body: converted.body,
      stream: false,
      fields: { tools: converted.body.tools?.length ?? 0 },
      mapper: () => new ResponsesEventMapper(converted.toolNames),
      collector: () => compactionCollector(kept),
    };
  },

  // Never streamed; the error shape is the Responses API's.
  encode: responsesDialect.encode,
  errorReply: responsesDialect.errorReply,
};

/** What a compacted history keeps of the request: the user's messages. */
function isKeptMessage(item: unknown): boolean {
  return isObject(item) && (item.type === undefined || item.type === "message") && item.role === "user";
}

function compactionCollector(kept: unknown[]): Collector<EventFrame> {
  let compaction: Json | undefined;
  let response: Json = {};
  return {
    add(frame) {
      if (isTerminalEvent(frame.event.type) && isObject(frame.event.response)) response = frame.event.response;
      const item = frame.event.item;
      if (frame.event.type === "response.output_item.done" && isObject(item) && item.type === "compaction") compaction ??= item;
    },
    result() {
      if (!compaction) {
        throw new ProxyError(
          502,
          "The Codex backend finished the compaction request without a compaction item, so there is nothing to replace the history with. Retry the compaction; if it keeps failing, start a new thread.",
          {
            code: "upstream_no_compaction",
          },
        );
      }
      const { id, created_at, usage } = response;
      return { id, object: "response.compaction", created_at, output: [...kept, compaction], usage };
    },
  };
}
