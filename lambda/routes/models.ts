import { jsonReply, type Reply } from "../http/reply.js";
import type { ModelCatalog } from "../models/catalog.js";

/** GET /v1/models in the OpenAI list shape; `created` is when this list was read. */
export async function handleModels(models: ModelCatalog, now: () => number): Promise<Reply> {
  const created = Math.floor(now() / 1000);
  const data = (await models.list()).map((id) => ({ id, object: "model", created, owned_by: "openai" }));
  return jsonReply(200, { object: "list", data });
}
