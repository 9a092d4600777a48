/**
 * What every upstream body carries whatever the dialect, by the backend's rules (docs/backend.md §2):
 * `store: false` and `stream: true` always, and `include` asking for each reasoning item's encrypted
 * content, the only way reasoning survives to the next turn when nothing is stored.
 */
export const ENCRYPTED_REASONING = "reasoning.encrypted_content";

/** The fixed fields, with `include` holding `extra` (the client's own or the dialect's) and the encrypted reasoning. */
export function fixedFields(extra: Iterable<string> = []): { store: false; stream: true; include: string[] } {
  return { store: false, stream: true, include: [...new Set([...extra, ENCRYPTED_REASONING])] };
}

/** The reasoning efforts the backend's models have offered (docs/backend.md §8). */
export const REASONING_EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh", "max", "ultra"] as const;

/** A reasoning effort the backend accepts: GPT-5.x refuses "minimal", and "low" is the nearest. */
export function upstreamEffort<T extends string | undefined>(effort: T): T | "low" {
  return effort === "minimal" ? "low" : effort;
}

/**
 * The body without its encrypted reasoning items: what a conversation can still send after it moved
 * to another login, which cannot read them (they are bound to the login that minted them). The model
 * loses its earlier reasoning, not the conversation. Compaction items cannot be dropped that way:
 * they stand for the history itself.
 */
export function withoutEncryptedReasoning<B extends { input?: unknown }>(body: B): B {
  if (!Array.isArray(body.input)) return body;
  const input = body.input.filter((item) => !(typeof item === "object" && item !== null && (item as { type?: unknown }).type === "reasoning"));
  return input.length === body.input.length ? body : { ...body, input };
}
