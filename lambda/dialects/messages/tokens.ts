/**
 * An estimate of a converted request's input tokens, for `message_start` and for
 * `POST /v1/messages/count_tokens`: the backend has no counting endpoint. It counts the characters
 * of the text the model reads — instructions, every text part, tool-call arguments and results,
 * tool names, descriptions and schemas — at four characters a token (the usual figure for English
 * and code with OpenAI's tokenizers), plus a fixed 85 tokens per image or file and 4 per item for
 * the framing. Good to a few percent on prose and code; a guide, not an invoice.
 */
import type { PassthroughRequest } from "../../codex/types.js";

const CHARS_PER_TOKEN = 4;
const PER_ITEM = 4;
const PER_ATTACHMENT = 85;

export function estimateInputTokens(body: PassthroughRequest): number {
  let chars = body.instructions.length;
  let tokens = 0;
  const visit = (value: unknown): void => {
    if (typeof value === "string") chars += value.startsWith("data:") ? 0 : value.length;
    else if (Array.isArray(value)) value.forEach(visit);
    else if (typeof value === "object" && value !== null) {
      const record = value as Record<string, unknown>;
      if (record.type === "input_image" || record.type === "input_file") tokens += PER_ATTACHMENT;
      for (const [key, child] of Object.entries(record)) if (key !== "type" && key !== "encrypted_content") visit(child);
    }
  };
  for (const item of body.input) {
    tokens += PER_ITEM;
    visit(item);
  }
  visit(body.tools ?? []);
  return tokens + Math.ceil(chars / CHARS_PER_TOKEN);
}
