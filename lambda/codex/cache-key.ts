import { createHash } from "node:crypto";

/**
 * A prompt cache key for a client that sent none: a UUID-shaped digest of what identifies the
 * conversation (its user, or its instructions and first user message), so every turn of it lands on
 * the same cache.
 */
export function derivedCacheKey(user: unknown, instructions: string, firstUserItem: unknown): string {
  const seed = typeof user === "string" && user !== "" ? `user\0${user}` : `conversation\0${instructions}\0${JSON.stringify(firstUserItem ?? null)}`;
  const hex = createHash("sha256").update(seed).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
