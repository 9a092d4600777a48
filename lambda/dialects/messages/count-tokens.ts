/**
 * `POST /v1/messages/count_tokens`: the request converted as for a turn, and its input estimated
 * (tokens.ts). The backend is not called, and the model name plays no part in the estimate.
 */
import { readJsonBody, type BodyBudget } from "../../http/body.js";
import { jsonReply, type Reply } from "../../http/reply.js";
import { convertMessagesRequest } from "./request.js";
import { estimateInputTokens } from "./tokens.js";
import type { AppRequest } from "../../http/request.js";

export async function countTokens(request: AppRequest, maxBodyBytes: number, bodies: BodyBudget): Promise<Reply> {
  const hold = bodies.hold();
  try {
    const raw = await readJsonBody(request, maxBodyBytes, hold);
    const { body } = convertMessagesRequest(raw, { model: "", requireMaxTokens: false });
    return jsonReply(200, { input_tokens: estimateInputTokens(body) });
  } finally {
    hold.release();
  }
}
