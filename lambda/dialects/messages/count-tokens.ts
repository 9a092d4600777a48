/**
 * `POST /v1/messages/count_tokens`: the request converted as for a turn, and its input estimated
 * (tokens.ts). The backend is not called, and the model name plays no part in the estimate.
 */
import type { LocalAnswer } from "../../pipeline/local-answer.js";
import { convertMessagesRequest } from "./request.js";
import { estimateInputTokens } from "./tokens.js";

export const countTokens: LocalAnswer = {
  name: "messages-count-tokens",
  answer(raw) {
    const { body } = convertMessagesRequest(raw, { model: "" });
    return { input_tokens: estimateInputTokens(body) };
  },
};
