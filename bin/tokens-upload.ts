/**
 * `npm run tokens:upload`: puts a Codex auth.json into the proxy's tokens secret, after checking it
 * is a usable login. Never prints a token.
 */
import { PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { AuthFileError, parseAuthJson } from "../lambda/auth/auth-json.js";
import { decodeJwtClaims } from "../lambda/auth/jwt.js";
import { LOGIN_NAME } from "../lambda/config.js";
import { fail, parseArgs } from "./cli-args.js";

const TOOL = "tokens:upload";
const HELP = `Usage: npm run tokens:upload -- [--auth-path <file>] [--login <name>] [--secret-id <id>] [--region <region>] [--outputs <file>]

Uploads a Codex login (auth.json) to the deployed proxy's tokens secret, or to one of its named logins.
  --auth-path  default: CODEX_AUTH_PATH, else ~/.codex-proxy/auth.json if it exists, else ~/.codex/auth.json
  --login      a login deployed with \`cdk deploy -c logins=<name>,…\`: its secret is <stack>-login-<name>
  --stack      the stack's name, for --login (default: the one in the outputs file, else CodexOpenAIProxy)
  --secret-id  default: CODEX_SECRET_ID, else TokensSecretName from the deploy's outputs file
  --region     default: AWS_REGION / AWS_DEFAULT_REGION, else the region of the deployed URL
  --outputs    the outputs file \`npx cdk deploy\` wrote (default: cdk-outputs.json)`;

interface StackOutputs {
  TokensSecretName?: string;
  BaseUrl?: string;
}

function deployedOutputs(file: string): (StackOutputs & { stack: string }) | undefined {
  if (!existsSync(file)) return undefined;
  const doc = JSON.parse(readFileSync(file, "utf8")) as Record<string, StackOutputs>;
  const found = Object.entries(doc).find(([, o]) => o.TokensSecretName);
  return found ? { ...found[1], stack: found[0] } : undefined;
}

function defaultAuthPath(): string {
  if (process.env.CODEX_AUTH_PATH) return process.env.CODEX_AUTH_PATH;
  const dedicated = join(homedir(), ".codex-proxy", "auth.json");
  return existsSync(dedicated) ? dedicated : join(homedir(), ".codex", "auth.json");
}

async function main(): Promise<void> {
  let args: Record<string, string | true>;
  try {
    args = parseArgs(process.argv.slice(2), {
      "auth-path": "string",
      "secret-id": "string",
      login: "string",
      stack: "string",
      region: "string",
      outputs: "string",
      help: "boolean",
    });
  } catch (err) {
    return fail(TOOL, (err as Error).message, 2);
  }
  if (args.help) return void console.log(HELP);
  const str = (name: string) => (typeof args[name] === "string" ? (args[name] as string) : undefined);

  const authPath = str("auth-path") ?? defaultAuthPath();
  const outputs = deployedOutputs(str("outputs") ?? "cdk-outputs.json");
  const login = str("login");
  if (login !== undefined && (!LOGIN_NAME.test(login) || login === "default")) fail(TOOL, `--login takes a login's name as deployed with -c logins=…; got '${login}'.`, 2);
  const stack = str("stack") ?? outputs?.stack ?? "CodexOpenAIProxy";
  const secretId = login ? `${stack}-login-${login}` : str("secret-id") || process.env.CODEX_SECRET_ID || outputs?.TokensSecretName;
  if (!secretId) fail(TOOL, "Which secret? Deploy first (`npx cdk deploy` writes cdk-outputs.json), or pass --secret-id (the stack output TokensSecretName).", 2);
  const region = str("region") || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || /lambda-url\.([a-z0-9-]+)\.on\.aws/.exec(outputs?.BaseUrl ?? "")?.[1];
  if (!region) fail(TOOL, "Which AWS region? Pass --region or set AWS_REGION.", 2);

  if (!existsSync(authPath)) {
    fail(TOOL, `No Codex login at ${authPath}. Create one for the proxy with \`CODEX_HOME=~/.codex-proxy codex login\`, or pass --auth-path.`);
  }
  const text = readFileSync(authPath, "utf8");
  let summary: string;
  try {
    const parsed = parseAuthJson(text, authPath);
    if (parsed.credentials.kind === "chatgpt") {
      const exp = decodeJwtClaims(parsed.credentials.accessToken)?.exp;
      const expired = typeof exp === "number" && exp * 1000 <= Date.now();
      if (expired && !parsed.refreshToken) {
        fail(TOOL, `The login in ${authPath} has expired (${new Date(exp * 1000).toISOString()}) and has no refresh token. Log in again with \`codex login\` and upload again.`);
      }
      const validity =
        typeof exp === "number" ? `access token ${expired ? "expired, will be refreshed" : `valid until ${new Date(exp * 1000).toISOString()}`}` : "no expiry in the access token";
      summary = `ChatGPT account ${parsed.credentials.accountId}, ${validity}`;
    } else {
      summary = "an OpenAI API key";
    }
  } catch (err) {
    if (err instanceof AuthFileError) fail(TOOL, err.message);
    throw err;
  }

  const client = new SecretsManagerClient({ region });
  try {
    const out = await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: text }));
    console.log(`Uploaded ${authPath} (${summary}) to ${secretId} in ${region} as version ${out.VersionId}.`);
  } catch (err) {
    const name = (err as { name?: string }).name ?? "";
    if (name === "CredentialsProviderError" || /credential/i.test((err as Error).message)) {
      fail(TOOL, "No AWS credentials found. Configure them (`aws configure`, AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and run again.");
    }
    if (name === "ResourceNotFoundException") fail(TOOL, `The secret ${secretId} does not exist in ${region}. Deploy the stack first, or check --secret-id and --region.`);
    if (name === "AccessDeniedException") fail(TOOL, `Your AWS identity may not write ${secretId} (secretsmanager:PutSecretValue). Use credentials that can.`);
    fail(TOOL, `Secrets Manager refused the upload: ${name} ${(err as Error).message}`);
  }
}

await main();
