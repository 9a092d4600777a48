/** Kept equal to package.json's version by test/version.test.ts; a constant bundles without JSON imports. */
export const VERSION = "0.1.0";

/** What the proxy is, in the same words everywhere (help, /health, the stack; package.json by test). */
export const DIALECTS = ["OpenAI Chat Completions", "OpenAI Responses", "Anthropic Messages"] as const;
export const SUMMARY = `${DIALECTS.slice(0, -1).join(", ")} and ${DIALECTS.at(-1)} endpoints for a ChatGPT subscription, through the Codex backend`;
