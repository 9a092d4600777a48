/**
 * Reading a secret's text with the AWS SDK, and turning SDK failures into errors that say what to
 * do. The SDK retries throttling and 5xx itself; what reaches here is final for this request.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ProxyError } from "../errors.js";

/** The text of the secret's AWSCURRENT version. */
export async function readSecret(client: SecretsManagerClient, secretId: string): Promise<string> {
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    return out.SecretString ?? (out.SecretBinary ? Buffer.from(out.SecretBinary).toString("utf8") : "");
  } catch (err) {
    throw secretError(err, secretId);
  }
}

export function secretError(err: unknown, secretId: string): ProxyError {
  const name = (err as { name?: string }).name ?? "Error";
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (name === "ResourceNotFoundException") {
    return new ProxyError(500, `The secret ${secretId} does not exist. Check CODEX_SECRET_ID / API_KEYS_SECRET_ID, or redeploy the stack.`, {
      code: "secret_not_found",
      cause: err,
    });
  }
  if (name === "AccessDeniedException") {
    return new ProxyError(500, `The proxy is not allowed to read the secret ${secretId}. Redeploy the stack to restore its permissions.`, {
      code: "secret_access_denied",
      cause: err,
    });
  }
  return new ProxyError(503, `Secrets Manager could not be read (${name}${status ? `, HTTP ${status}` : ""}). Retry in a moment.`, {
    code: "secrets_unavailable",
    headers: { "retry-after": "2" },
    cause: err,
  });
}
