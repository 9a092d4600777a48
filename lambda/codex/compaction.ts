/**
 * Remote compaction as the backend speaks it (docs/codex-cli.md): a request whose input ends with
 * `{"type":"compaction_trigger"}` is answered with one `compaction` item, whose encrypted content is
 * bound to the `cmp_…` id the backend minted with it (and to the login). Codex marks such requests
 * with the beta feature `remote_compaction_v2`; the proxy sends the same mark for them.
 */
export const COMPACTION_TRIGGER = "compaction_trigger";
export const COMPACTION_ITEM = "compaction";
export const REMOTE_COMPACTION_FEATURE = "remote_compaction_v2";

/** An id the backend minted for a compaction item (it refuses others: "Expected an ID that begins with cmp"). */
export function isCompactionId(id: unknown): id is string {
  return typeof id === "string" && id.startsWith("cmp_");
}

/** Whether a body asks for a compaction or carries one. */
export function usesRemoteCompaction(input: readonly { type?: unknown }[]): boolean {
  for (const item of input) if (item.type === COMPACTION_TRIGGER || item.type === COMPACTION_ITEM) return true;
  return false;
}
