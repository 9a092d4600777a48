/** Reads JWT claims without verifying them: the proxy only needs the account id and expiry. */

export interface CodexClaims {
  exp?: number;
  "https://api.openai.com/auth"?: { chatgpt_account_id?: string; chatgpt_plan_type?: string };
}

export function decodeJwtClaims(token: string): CodexClaims | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    return typeof claims === "object" && claims !== null ? (claims as CodexClaims) : undefined;
  } catch {
    return undefined;
  }
}

export function accountIdFromJwt(token: string | undefined): string | undefined {
  if (!token) return undefined;
  const id = decodeJwtClaims(token)?.["https://api.openai.com/auth"]?.chatgpt_account_id;
  return typeof id === "string" && id !== "" ? id : undefined;
}
