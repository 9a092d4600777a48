/**
 * The Chat Completions dialect (`POST /v1/chat/completions`): its request converter, stream
 * event mapper, non-stream folding and frame encoding, put together for the pipeline.
 */
import { randomBytes } from "node:crypto";
import type { ProxyError } from "../../errors.js";
import type { Collector, Dialect } from "../../pipeline/dialect.js";
import { CompletionBuilder } from "./complete.js";
import { convertChatRequest } from "./request.js";
import { ChatEventMapper, encodeChunk, type ChunkFrame } from "./stream.js";

export const chatDialect: Dialect<ChunkFrame> = {
  name: "chat",

  convert(raw, model) {
    const converted = convertChatRequest(raw, { model: model.model, ...(model.effort ? { aliasEffort: model.effort } : {}) });
    return {
      body: converted.body,
      stream: converted.stream,
      fields: { tools: converted.body.tools?.length ?? 0 },
      mapper: ({ requestedModel, now }) =>
        new ChatEventMapper({
          id: `chatcmpl-${randomBytes(12).toString("hex")}`,
          created: Math.floor(now() / 1000),
          model: requestedModel,
          // A non-streamed answer always reports usage.
          includeUsage: converted.stream ? converted.includeUsage : true,
          toolNames: converted.toolNames,
        }),
      collector: (): Collector<ChunkFrame> => {
        const builder = new CompletionBuilder();
        return {
          add: (frame) => builder.add(frame.chunk),
          result: () => builder.build(),
        };
      },
    };
  },

  encode(frame) {
    if (frame.kind === "chunk") return encodeChunk(frame);
    if (frame.kind === "error") return `data: ${JSON.stringify(frame.error.toJSON())}\n\n`;
    return "data: [DONE]\n\n";
  },

  errorReply: (error: ProxyError) => error.toReply(),
};
