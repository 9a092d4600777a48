/**
 * The `signature` of a thinking block is ours to define (clients return it unchanged with the next
 * turn). It carries the backend's encrypted reasoning and its summary, so the next request can send
 * the reasoning item back and the model keeps its chain of thought across tool calls.
 */
const PREFIX = "cxp1.";

export interface CarriedReasoning {
  encrypted: string;
  summary: string[];
}

export function writeSignature(reasoning: CarriedReasoning): string {
  return PREFIX + Buffer.from(JSON.stringify({ e: reasoning.encrypted, s: reasoning.summary }), "utf8").toString("base64url");
}

/** The reasoning a signature carries, or undefined for one we did not issue. */
export function readSignature(signature: unknown): CarriedReasoning | undefined {
  if (typeof signature !== "string" || !signature.startsWith(PREFIX)) return undefined;
  try {
    const doc = JSON.parse(Buffer.from(signature.slice(PREFIX.length), "base64url").toString("utf8")) as { e?: unknown; s?: unknown };
    if (typeof doc.e !== "string" || !Array.isArray(doc.s) || !doc.s.every((x) => typeof x === "string")) return undefined;
    return { encrypted: doc.e, summary: doc.s as string[] };
  } catch {
    return undefined;
  }
}
