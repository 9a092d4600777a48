/**
 * A request a dialect answers itself, without the backend (Anthropic's count_tokens): its body is
 * read under the same limits and the same process-wide budget as a turn's, and its errors take the
 * route's shape like every other.
 */
import { readJsonBody, type BodyBudget } from "../http/body.js";
import type { AppRequest } from "../http/request.js";
import { jsonReply } from "../http/reply.js";
import type { Turn } from "./run.js";

export interface LocalAnswer {
  /** names the answer in logs */
  readonly name: string;
  /** the JSON answer to a request body; throws a 400 ProxyError */
  answer(raw: unknown): unknown;
}

export async function runLocal(local: LocalAnswer, request: AppRequest, limits: { maxBodyBytes: number; bodies: BodyBudget }): Promise<Turn> {
  const hold = limits.bodies.hold();
  try {
    const reply = jsonReply(200, local.answer(await readJsonBody(request, limits.maxBodyBytes, hold)));
    return { reply, facts: { fields: { dialect: local.name } } };
  } finally {
    hold.release();
  }
}
