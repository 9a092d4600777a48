/**
 * Parses the Codex CLI's auth.json (docs/backend.md §6): the current nested form
 * (`tokens.{access_token,account_id,id_token,refresh_token}`, `last_refresh`), the older flat form
 * (`access_token`, `account_id`) and an API-key-only file (`OPENAI_API_KEY` / `api_key`).
 */
import { accountIdFromJwt } from "./jwt.js";
import type { Credentials } from "./tokens.js";

export class AuthFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuthFileError";
  }
}

export interface ParsedAuth {
  credentials: Credentials;
  /** the whole document, so a refresh can keep every field it does not change */
  doc: Record<string, unknown>;
  refreshToken?: string;
  idToken?: string;
  lastRefresh?: string;
}

type Json = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** `where` names the file or secret in every message, so the user knows which login to fix. */
export function parseAuthJson(text: string, where: string): ParsedAuth {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new AuthFileError(`${where} is not valid JSON. Recreate it with \`codex login\`.`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new AuthFileError(`${where} must hold a JSON object. Recreate it with \`codex login\`.`);
  }
  const root = doc as Json;
  const nested = typeof root.tokens === "object" && root.tokens !== null ? (root.tokens as Json) : undefined;
  const tokens = nested ?? root;
  const accessToken = str(tokens.access_token);
  const apiKey = str(root.OPENAI_API_KEY) ?? str(root.api_key);

  if (accessToken && root.auth_mode !== "apikey") {
    const idToken = str(tokens.id_token);
    const accountId = str(tokens.account_id) ?? accountIdFromJwt(accessToken) ?? accountIdFromJwt(idToken);
    if (!accountId) {
      throw new AuthFileError(
        `${where} has an access token but no ChatGPT account id (tokens.account_id, or the chatgpt_account_id claim of the token). Log in again with \`codex login\`.`,
      );
    }
    const parsed: ParsedAuth = { credentials: { kind: "chatgpt", accessToken, accountId }, doc: root };
    const refreshToken = str(tokens.refresh_token);
    const lastRefresh = str(root.last_refresh);
    if (refreshToken) parsed.refreshToken = refreshToken;
    if (idToken) parsed.idToken = idToken;
    if (lastRefresh) parsed.lastRefresh = lastRefresh;
    return parsed;
  }
  if (apiKey) return { credentials: { kind: "apikey", apiKey }, doc: root };
  throw new AuthFileError(`${where} holds neither ChatGPT tokens (tokens.access_token) nor an API key (OPENAI_API_KEY). Log in with \`codex login\` to create it.`);
}
