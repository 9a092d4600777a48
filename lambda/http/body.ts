import { ProxyError, badRequest } from "../errors.js";
import type { AppRequest } from "./request.js";

/** Reads a JSON request body, refusing more than `limit` bytes before buffering them. */
export async function readJsonBody(request: AppRequest, limit: number): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    for await (const chunk of request.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > limit) throw tooLarge(limit); // leaving the loop stops the body
      chunks.push(chunk);
    }
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw badRequest("The request body is empty; send a JSON request body.");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw badRequest(`The request body is not valid JSON (${(err as Error).message}).`, null, "invalid_json");
  }
  if (depthExceeds(body, MAX_DEPTH)) {
    throw badRequest(`The request body nests objects or arrays deeper than ${MAX_DEPTH} levels; no real request needs that.`, null, "json_too_deep");
  }
  return body;
}

/** Deep enough for any real tool schema; shallow enough that no recursive walk downstream can overflow. */
export const MAX_DEPTH = 128;

/** Iterative, so a hostile document cannot overflow the stack here either. */
function depthExceeds(root: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number];
    if (typeof value !== "object" || value === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(value) ? value : Object.values(value)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

function tooLarge(limit: number): ProxyError {
  return new ProxyError(413, `The request body is larger than ${Math.round(limit / 1024 / 1024)} MiB.`, { code: "request_too_large" });
}
