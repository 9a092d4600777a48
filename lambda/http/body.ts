import { ProxyError, badRequest } from "../errors.js";

/** Reads a JSON request body, refusing more than `limit` bytes before buffering them. */
export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        throw tooLarge(limit);
      }
      chunks.push(value);
    }
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw badRequest("The request body is empty; send a JSON Chat Completions request.");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`The request body is not valid JSON (${(err as Error).message}).`, null, "invalid_json");
  }
}

function tooLarge(limit: number): ProxyError {
  return new ProxyError(413, `The request body is larger than ${Math.round(limit / 1024 / 1024)} MiB.`, { code: "request_too_large" });
}
