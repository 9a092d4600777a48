/**
 * Chat chunks -> one `chat.completion`, for clients that did not ask to stream. The upstream is
 * always streamed (the backend requires it); running the same stream converter and folding its
 * chunks keeps a single source of truth for content, tool calls and finish reasons — including the
 * rebuild from `output_item.done`, since `response.completed.output` can be empty.
 */
import type { ChatAnnotation, ChatChunk, ChatCompletion, ChatFinishReason, ChatToolCall, ChatUsage } from "./types.js";
import { convertUsage } from "./stream.js";

export class CompletionBuilder {
  private content = "";
  private refusal = "";
  private reasoning = "";
  private readonly toolCalls: ChatToolCall[] = [];
  private readonly annotations: ChatAnnotation[] = [];
  private finishReason: ChatFinishReason = "stop";
  private usage: ChatUsage = convertUsage(undefined);
  private meta: Pick<ChatChunk, "id" | "created" | "model"> | undefined;

  add(chunk: ChatChunk): void {
    this.meta ??= { id: chunk.id, created: chunk.created, model: chunk.model };
    if (chunk.usage) this.usage = chunk.usage;
    for (const choice of chunk.choices) {
      const { delta } = choice;
      if (delta.content) this.content += delta.content;
      if (delta.refusal) this.refusal += delta.refusal;
      if (delta.reasoning_content) this.reasoning += delta.reasoning_content;
      if (delta.annotations) this.annotations.push(...delta.annotations);
      for (const call of delta.tool_calls ?? []) {
        const existing = this.toolCalls[call.index];
        if (existing) existing.function.arguments += call.function.arguments;
        else this.toolCalls[call.index] = { id: call.id ?? "", type: "function", function: { name: call.function.name ?? "", arguments: call.function.arguments } };
      }
      if (choice.finish_reason) this.finishReason = choice.finish_reason;
    }
  }

  build(): ChatCompletion {
    const meta = this.meta ?? { id: "", created: 0, model: "" };
    const message: ChatCompletion["choices"][0]["message"] = {
      role: "assistant",
      content: this.content === "" && this.toolCalls.length > 0 ? null : this.content,
      refusal: this.refusal === "" ? null : this.refusal,
    };
    if (this.reasoning !== "") message.reasoning_content = this.reasoning;
    if (this.toolCalls.length > 0) message.tool_calls = this.toolCalls;
    if (this.annotations.length > 0) message.annotations = this.annotations;
    return {
      ...meta,
      object: "chat.completion",
      choices: [{ index: 0, message, finish_reason: this.finishReason, logprobs: null }],
      usage: this.usage,
    };
  }
}
