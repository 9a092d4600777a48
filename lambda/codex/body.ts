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
