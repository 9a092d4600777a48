/**
 * The model list used when neither ALLOWED_MODELS is set nor the account's live catalog can be read.
 * Kept here and only here; update it from GET {CODEX_BASE_URL}/models when the backend moves on.
 * Snapshot: the visible models of the 2026-08 catalog (test/fixtures/upstream/codex-models-catalog.trimmed.json).
 */
export const FALLBACK_MODELS: readonly string[] = ["gpt-5.6-sol", "gpt-5.6-terra", "gpt-5.6-luna", "gpt-5.5", "gpt-5.4", "gpt-5.4-mini"];
