/** Reads JWT claims without verifying them: the proxy only needs the account id and expiry. */

export interface CodexClaims {
  exp?: number;
  "https://api.openai.com/auth"?: { chatgpt_account_id?: string; chatgpt_plan_type?: string };
}

/** The last tokens decoded, since every request asks whether its login's token is due for renewal. */
const decoded = new Map<string, Readonly<CodexClaims> | undefined>();
const REMEMBERED = 16;

export function decodeJwtClaims(token: string): Readonly<CodexClaims> | undefined {
  if (decoded.has(token)) return decoded.get(token);
  const claims = decode(token);
  if (decoded.size >= REMEMBERED) decoded.delete(decoded.keys().next().value as string);
  decoded.set(token, claims);
  return claims;
}

function decode(token: string): CodexClaims | undefined {
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
