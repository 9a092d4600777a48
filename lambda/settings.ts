/**
 * Every setting of the proxy, once: its variable, its flag, the CDK context key that sets it for the
 * deployed function, its default and its line of help. `npm start -- --help`, the settings
 * `npm run dev:lambda` hands the function, and the function's environment in the stack are all
 * derived from this table, and a test holds the README's Configuration table to it. How each value
 * is parsed and checked is config.ts's.
 */
import { DEFAULT_ANTHROPIC_MODEL_MAP, DEFAULTS } from "./config.js";

export interface Setting {
  env: string;
  /** `npm start`'s flag for it */
  flag?: string;
  /** the `cdk deploy -c <key>=…` that sets it for the deployed function */
  context?: string;
  /** as the help shows it */
  default?: string;
  help: string;
  /** "local": `npm start` only (the function takes its login and keys from Secrets Manager) */
  where: "local" | "both";
}

export const SETTINGS: readonly Setting[] = [
  { env: "PORT", flag: "--port", default: String(DEFAULTS.port), help: "port to listen on (0 picks a free one)", where: "local" },
  { env: "HOST", flag: "--host", default: DEFAULTS.host, help: "address to listen on; anything but loopback requires PROXY_API_KEYS", where: "local" },
  {
    env: "CODEX_AUTH_PATH",
    flag: "--auth-path",
    default: "~/.codex/auth.json",
    help: "the Codex CLI login; repeat the flag (or list them, or name a folder of them) for several logins",
    where: "local",
  },
  { env: "PROXY_API_KEYS", help: "comma-separated keys clients must send as 'Authorization: Bearer <key>'; key@alice+bob binds a key to logins", where: "local" },
  { env: "OPENAI_API_KEY", help: "an OpenAI API key, used when there is no ChatGPT login at the auth path", where: "local" },
  { env: "ALLOWED_MODELS", context: "allowedModels", default: "the account's live catalog", help: "comma-separated model allowlist", where: "both" },
  { env: "CODEX_BASE_URL", default: DEFAULTS.codexBaseUrl, help: "the Codex backend", where: "both" },
  { env: "CODEX_CLIENT_VERSION", context: "codexClientVersion", default: DEFAULTS.clientVersion, help: "the Codex CLI version sent upstream", where: "both" },
  { env: "CODEX_REFRESH_URL", default: DEFAULTS.refreshUrl, help: "the OAuth endpoint that refreshes the login", where: "both" },
  { env: "OPENAI_BASE_URL", default: DEFAULTS.openaiBaseUrl, help: "where API-key requests go", where: "both" },
  { env: "UPSTREAM_PROXY_URL", context: "upstreamProxyUrl", help: "HTTP(S) proxy for upstream calls", where: "both" },
  { env: "UPSTREAM_MAX_CONNECTIONS", context: "upstreamMaxConnections", default: "none", help: "cap on concurrent upstream streams", where: "both" },
  { env: "CORS_ORIGINS", context: "corsOrigins", help: "comma-separated web origins allowed to call from a browser", where: "both" },
  { env: "ANTHROPIC_MODEL_MAP", context: "anthropicModelMap", default: DEFAULT_ANTHROPIC_MODEL_MAP, help: "/v1/messages model names -> models", where: "both" },
  {
    env: "LOGIN_POLICY",
    context: "loginPolicy",
    default: "spread",
    help: "with several logins: spread new conversations over them, or fill the first with room first",
    where: "both",
  },
  { env: "LOG_LEVEL", context: "logLevel", default: DEFAULTS.logLevel, help: "debug | info | warn | error | silent", where: "both" },
];

/** `npm start -- --help`'s lists, from the table. */
export function settingsHelp(): { options: string; environment: string } {
  const withDefault = (s: Setting) => (s.default ? ` (default ${s.default})` : "");
  const flagged = SETTINGS.filter((s) => s.flag);
  const width = Math.max(...flagged.map((s) => `${s.flag} <value>`.length)) + 2;
  const options = flagged.map((s) => `  ${`${s.flag} <value>`.padEnd(width)}${s.help} (env ${s.env}${s.default ? `, default ${s.default}` : ""})`);
  const plain = SETTINGS.filter((s) => !s.flag);
  const envWidth = Math.max(...plain.map((s) => s.env.length)) + 2;
  const environment = plain.map((s) => `  ${s.env.padEnd(envWidth)}${s.help}${withDefault(s)}`);
  return { options: [...options, "  --help, --version"].join("\n"), environment: environment.join("\n") };
}

/** The settings the deployed function takes, as `[variable, context key]`. */
export function functionSettings(): [string, string][] {
  return SETTINGS.flatMap((s) => (s.where === "both" && s.context ? [[s.env, s.context] as [string, string]] : []));
}
