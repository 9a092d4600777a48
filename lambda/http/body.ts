/**
 * Reading a JSON request body within bounds, so that no client can take the server down for all:
 * - its bytes (the route's limit), refused before they are buffered;
 * - its shape: how many JSON values it holds and how deep it nests, counted on the raw bytes as they
 *   arrive, before JSON.parse builds anything. A 30 MiB body of a million tiny messages grew to
 *   hundreds of MB of heap and seconds of blocked event loop per request; one within these bounds
 *   parses and converts in tens of milliseconds;
 * - what all requests hold at once (BodyBudget): sixteen concurrent 30 MiB bodies ran the local
 *   server out of heap, every connection dropped. Past the budget a request gets a 503 to retry.
 */
import { ProxyError, badRequest } from "../errors.js";
import type { AppRequest } from "./request.js";

/** Deep enough for any real tool schema; shallow enough that no recursive walk downstream can overflow. */
export const MAX_DEPTH = 128;
/**
 * Objects, arrays and list items a body may hold. A long agent session with tools and images holds a
 * few thousand to tens of thousands; past this, a body is a flood, not a conversation.
 */
export const MAX_JSON_VALUES = 100_000;
/** The request bodies the process holds at once, by default: a body costs about five times its size in memory while it is parsed, converted and sent (measured: four 30 MiB bodies at once, 731 MB peak RSS). */
export const DEFAULT_BODY_BUDGET_BYTES = 64 * 1024 * 1024;

/** Bytes of request bodies held across all requests; each request takes its share and gives it back. */
export class BodyBudget {
  private used = 0;

  constructor(readonly limit = DEFAULT_BODY_BUDGET_BYTES) {}

  /** A request's share, given back once with `release` (idempotent). */
  hold(): BodyHold {
    let held = 0;
    return {
      take: (bytes) => {
        if (this.used + bytes > this.limit) return false;
        this.used += bytes;
        held += bytes;
        return true;
      },
      release: () => {
        this.used -= held;
        held = 0;
      },
    };
  }
}

export interface BodyHold {
  take(bytes: number): boolean;
  release(): void;
}

/** Reads a JSON request body, refusing more than `limit` bytes, values or depth before parsing it. */
export async function readJsonBody(request: AppRequest, limit: number, hold: BodyHold): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  const chunks: Uint8Array[] = [];
  const shape = new JsonShape();
  let size = 0;
  if (request.body) {
    for await (const chunk of request.body as AsyncIterable<Uint8Array>) {
      // leaving the loop (a throw) stops the body
      size += chunk.byteLength;
      if (size > limit) throw tooLarge(limit);
      if (!hold.take(chunk.byteLength)) throw busy();
      shape.feed(chunk);
      if (shape.maxDepth > MAX_DEPTH) {
        throw badRequest(`The request body nests objects or arrays deeper than ${MAX_DEPTH} levels; no real request needs that.`, null, "json_too_deep");
      }
      if (shape.values > MAX_JSON_VALUES) throw tooComplex();
      chunks.push(chunk);
    }
  }
  const text = Buffer.concat(chunks).toString("utf8");
  chunks.length = 0;
  if (text.trim() === "") throw badRequest("The request body is empty; send a JSON request body.");
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest(`The request body is not valid JSON (${(err as Error).message}).`, null, "invalid_json");
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Counts a JSON text's values (each `{`, `[` and `,` outside strings) and its deepest nesting, chunk
 * by chunk. Strings are skipped with a native search for their closing quote, so a body that is
 * mostly one large string (an image) costs almost nothing. Exact for valid JSON; for anything else it
 * is only a bound, and JSON.parse has the last word.
 */
export class JsonShape {
  values = 0;
  maxDepth = 0;
  private depth = 0;
  private inString = false;
  /** backslashes that ended the previous chunk inside a string */
  private carry = 0;

  feed(chunk: Uint8Array): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.inString) {
        const quote = chunk.indexOf(QUOTE, i);
        const end = quote === -1 ? n : quote;
        let run = 0;
        for (let k = end - 1; k >= i && chunk[k] === BACKSLASH; k--) run++;
        if (run === end - i) run += this.carry; // the run reaches back into the previous chunk
        if (quote === -1) {
          this.carry = run;
          return;
        }
        this.carry = 0;
        i = quote + 1;
        if (run % 2 === 0) this.inString = false; // an even run of backslashes escapes itself, not the quote
        continue;
      }
      const c = chunk[i++];
      if (c === QUOTE) this.inString = true;
      else if (c === 0x7b || c === 0x5b) {
        this.values++;
        if (++this.depth > this.maxDepth) this.maxDepth = this.depth;
      } else if (c === 0x7d || c === 0x5d) this.depth--;
      else if (c === 0x2c) this.values++;
    }
  }
}

function tooLarge(limit: number): ProxyError {
  return new ProxyError(413, `The request body is larger than ${Math.round(limit / 1024 / 1024)} MiB.`, { code: "request_too_large" });
}

function tooComplex(): ProxyError {
  return new ProxyError(
    413,
    `The request body holds more than ${MAX_JSON_VALUES.toLocaleString("en-US")} JSON values (objects, arrays and list items); no real conversation needs that many. Shorten the conversation, or compact it, and send it again.`,
    { code: "request_too_complex" },
  );
}

function busy(): ProxyError {
  return new ProxyError(
    503,
    "The proxy is holding as much of other requests' bodies as it may at once, so this one was turned away to keep the server up for everyone. Retry in a moment.",
    {
      code: "server_busy",
      headers: { "retry-after": "2" },
    },
  );
}
