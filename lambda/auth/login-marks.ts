/**
 * A login whose refresh was refused for good is marked on the tokens secret with a tag holding a
 * fingerprint of its refresh token (never the token). The rotation function then never calls the
 * token endpoint again for it, and the proxy answers at once with "renew the login" instead of
 * waiting for a rotation that cannot succeed. A new upload has another fingerprint, so it clears
 * the mark by itself.
 */
import { createHash } from "node:crypto";
import { DescribeSecretCommand, TagResourceCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

export const DEAD_LOGIN_TAG = "codex-proxy:dead-login";

export function fingerprint(refreshToken: string): string {
  return createHash("sha256").update(refreshToken).digest("hex").slice(0, 32);
}

export async function isMarkedDead(client: SecretsManagerClient, secretId: string, refreshToken: string | undefined): Promise<boolean> {
  if (!refreshToken) return false;
  const out = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  return carriesDeadMark(out.Tags, refreshToken);
}

/** Whether a secret's tags (as DescribeSecret gives them) mark this refresh token dead. */
export function carriesDeadMark(tags: readonly { Key?: string | undefined; Value?: string | undefined }[] | undefined, refreshToken: string | undefined): boolean {
  return refreshToken !== undefined && (tags ?? []).some((t) => t.Key === DEAD_LOGIN_TAG && t.Value === fingerprint(refreshToken));
}

export async function markDead(client: SecretsManagerClient, secretId: string, refreshToken: string): Promise<void> {
  await client.send(new TagResourceCommand({ SecretId: secretId, Tags: [{ Key: DEAD_LOGIN_TAG, Value: fingerprint(refreshToken) }] }));
}
