/**
 * The Responses API dialect (`POST /v1/responses`): the client's request passed through under the
 * backend's rules, its events passed back, errors in the Responses API's own shape.
 */
import { isTerminalEvent } from "../../codex/events.js";
import type { ProxyError } from "../../errors.js";
import type { Collector, Dialect } from "../../pipeline/dialect.js";
import { convertResponsesRequest } from "./request.js";
import { ResponsesEventMapper, type EventFrame, type ResponsesError } from "./stream.js";

export const responsesDialect: Dialect<EventFrame, ResponsesError> = {
  name: "responses",

  convert(raw, model) {
    const converted = convertResponsesRequest(raw, { model: model.model, ...(model.effort ? { aliasEffort: model.effort } : {}) });
    return {
      body: converted.body,
      stream: converted.stream,
      fields: { tools: converted.body.tools?.length ?? 0 },
      mapper: () => new ResponsesEventMapper(converted.toolNames),
      rawEvents: true,
      collector,
    };
  },

  encode(frame) {
    if (frame.kind === "event") return `event: ${String(frame.event.type)}\ndata: ${frame.raw ?? JSON.stringify(frame.event)}\n\n`;
    if (frame.kind === "done") return ""; // the Responses API ends with its terminal event, no [DONE]
    const failed = frame.failed ? `event: response.failed\ndata: ${JSON.stringify(frame.failed)}\n\n` : "";
    return `${failed}event: error\ndata: ${JSON.stringify(errorEvent(frame.error, frame.sequence))}\n\n`;
  },

  errorReply: (error: ProxyError) => error.toReply(),
};

/**
 * The `error` event: the public API's top-level fields, and the same error nested under `error`
 * (the backend's own form, and what makes the openai SDK's stream throw).
 */
function errorEvent(error: ProxyError, sequence: number): Record<string, unknown> {
  const { message, type, param, code } = error.toJSON().error;
  return { type: "error", code, message, param, sequence_number: sequence, error: { type, code, message, param } };
}

/** A non-streamed answer is the terminal event's response object, output filled by the mapper. */
function collector(): Collector<EventFrame> {
  let response: unknown = null;
  return {
    add(frame) {
      if (isTerminalEvent(frame.event.type)) response = frame.event.response;
    },
    result: () => response,
  };
}
