/**
 * Environment variables and flags -> one typed config, read and validated once at start. A bad
 * value stops the start with a message that names the variable.
 */
import { readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { parseArgs } from "node:util";
import { basename, dirname, join } from "node:path";
import { LOG_LEVELS, type LogLevel } from "./log.js";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export type Env = Record<string, string | undefined>;

/** What both runtimes need. */
export interface CoreConfig {
  codexBaseUrl: string;
  /** the OAuth token endpoint used to refresh logins */
  refreshUrl: string;
  openaiBaseUrl: string;
  clientVersion: string;
  allowedModels: string[];
  logLevel: LogLevel;
  upstreamProxyUrl?: string;
  /** CORS_ORIGINS: web origins allowed to call the proxy from a browser */
  corsOrigins: string[];
  /** UPSTREAM_MAX_CONNECTIONS: concurrent upstream streams; no cap when undefined */
  maxUpstreamConnections?: number;
  /** ANTHROPIC_MODEL_MAP: model names the catalog does not know (claude-…) -> upstream models */
  anthropicModelMap: [string, string][];
  /** LOGIN_POLICY: new conversations spread over the logins, or fill the first one with room first */
  loginPolicy: "spread" | "fill";
}

export interface LocalConfig extends CoreConfig {
  port: number;
  host: string;
  /** the first login's file */
  authPath: string;
  /** every login: one ("default") unless several auth paths, or a folder of them, are given */
  logins: { name: string; path: string }[];
  proxyApiKeys: ClientKey[];
  openaiApiKey?: string;
}

/** A login's name: what keys, logs, metrics and /status call it (auth/logins.ts). */
export const LOGIN_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** A client key, and the logins it is bound to (all when unset). */
export interface ClientKey {
  key: string;
  logins?: readonly string[];
}

/**
 * Keys' bindings, checked against the logins there are: a key bound to a login that does not exist
 * would be refused on every request, so it is a configuration error, said at start.
 */
export function checkBindings(keys: readonly ClientKey[], logins: readonly string[], where: string): void {
  for (const { key, logins: bound } of keys) {
    const unknown = (bound ?? []).filter((name) => !logins.includes(name));
    if (unknown.length > 0) {
      throw new ConfigError(
        `${where}: a key ending in '${key.slice(-4)}' is bound to ${unknown.map((n) => `'${n}'`).join(", ")}, which is no login of this proxy (its logins: ${logins.join(", ")}).`,
      );
    }
  }
}

export const DEFAULTS = {
  port: 8080,
  host: "127.0.0.1",
  codexBaseUrl: "https://chatgpt.com/backend-api/codex",
  refreshUrl: "https://auth.openai.com/oauth/token",
  openaiBaseUrl: "https://api.openai.com/v1",
  clientVersion: "0.171.0",
  logLevel: "info" as LogLevel,
};

export function readCoreConfig(env: Env): CoreConfig {
  const config: CoreConfig = {
    codexBaseUrl: url(env, "CODEX_BASE_URL", DEFAULTS.codexBaseUrl),
    refreshUrl: url(env, "CODEX_REFRESH_URL", DEFAULTS.refreshUrl),
    openaiBaseUrl: url(env, "OPENAI_BASE_URL", DEFAULTS.openaiBaseUrl),
    clientVersion: clientVersion(env),
    allowedModels: list(env, "ALLOWED_MODELS"),
    logLevel: logLevel(env),
    corsOrigins: origins(env, "CORS_ORIGINS"),
    anthropicModelMap: modelMap(env, "ANTHROPIC_MODEL_MAP"),
    loginPolicy: loginPolicy(env),
  };
  const proxy = set(env, "UPSTREAM_PROXY_URL");
  if (proxy !== undefined) config.upstreamProxyUrl = url(env, "UPSTREAM_PROXY_URL", proxy);
  const maxConnections = set(env, "UPSTREAM_MAX_CONNECTIONS");
  if (maxConnections !== undefined) config.maxUpstreamConnections = positiveInt(maxConnections, "UPSTREAM_MAX_CONNECTIONS");
  return config;
}

export type LocalCommand = { kind: "serve"; config: LocalConfig } | { kind: "help" } | { kind: "version" };

export function readLocalConfig(env: Env, argv: readonly string[]): LocalCommand {
  const flags = parseFlags(argv);
  if (flags.help) return { kind: "help" };
  if (flags.version) return { kind: "version" };
  const portText = flags.port ?? set(env, "PORT");
  const config: LocalConfig = {
    ...readCoreConfig(env),
    port: portText === undefined ? DEFAULTS.port : port(portText, flags.port !== undefined ? "--port" : "PORT"),
    host: flags.host ?? set(env, "HOST") ?? DEFAULTS.host,
    authPath: "",
    logins: [],
    proxyApiKeys: apiKeys(env),
  };
  config.logins = loginPaths(flags.authPaths ?? (set(env, "CODEX_AUTH_PATH") ? list(env, "CODEX_AUTH_PATH") : [join(homedir(), ".codex", "auth.json")]));
  config.authPath = (config.logins[0] as { path: string }).path;
  const names = config.logins.map((l) => l.name);
  try {
    checkBindings(config.proxyApiKeys, names, "PROXY_API_KEYS");
  } catch (err) {
    throw new ConfigError(`${(err as Error).message} Bind a key with key@login (or key@login+login).`);
  }
  const apiKey = set(env, "OPENAI_API_KEY");
  if (apiKey !== undefined) config.openaiApiKey = apiKey;
  if (config.proxyApiKeys.length === 0 && !isLoopback(config.host)) {
    throw new ConfigError(
      `HOST=${config.host} would expose your ChatGPT subscription to the network without a key. Set PROXY_API_KEYS (comma-separated keys clients must send as 'Authorization: Bearer <key>'), or keep HOST=127.0.0.1.`,
    );
  }
  return { kind: "serve", config };
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);
}

interface Flags {
  help?: boolean;
  version?: boolean;
  port?: string;
  host?: string;
  authPaths?: string[];
}

/** node:util parseArgs' errors in the project's words (for `npm start` and the bin/ tools): which option, and what is wrong. */
export function commandLineError(err: unknown): string {
  const code = (err as { code?: string }).code;
  const option = /'(-[^' ]+)/.exec((err as Error).message)?.[1] ?? "";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `Unknown option ${option}.`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") return `${option} needs a value.`;
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") return `Unexpected argument '${/'([^']*)'/.exec((err as Error).message)?.[1] ?? ""}': options start with --.`;
  return (err as Error).message;
}

/** `npm start`'s command line, read by node:util's parseArgs. */
function parseFlags(argv: readonly string[]): Flags {
  let values: { help?: boolean; version?: boolean; port?: string; host?: string; "auth-path"?: string[] };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
        port: { type: "string" },
        host: { type: "string" },
        "auth-path": { type: "string", multiple: true },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ConfigError(`${commandLineError(err)} Run with --help to see the options.`);
  }
  for (const [name, value] of Object.entries(values)) {
    if (value === "" || (Array.isArray(value) && value.includes(""))) throw new ConfigError(`--${name} needs a value.`);
  }
  const flags: Flags = {};
  if (values.help) flags.help = true;
  if (values.version) flags.version = true;
  if (values.port !== undefined) flags.port = values.port;
  if (values.host !== undefined) flags.host = values.host;
  if (values["auth-path"]) flags.authPaths = values["auth-path"];
  return flags;
}

function set(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

function url(env: Env, name: string, fallback: string): string {
  const text = set(env, name) ?? fallback;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL; got '${text}'.`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new ConfigError(`${name} must be an http(s) URL; got '${text}'.`);
  return text.replace(/\/+$/, "");
}

export const DEFAULT_ANTHROPIC_MODEL_MAP = "opus=gpt-5.5,sonnet=gpt-5.5,haiku=gpt-5.4-mini,*=gpt-5.5";

function modelMap(env: Env, name: string): [string, string][] {
  const text = set(env, name) ?? DEFAULT_ANTHROPIC_MODEL_MAP;
  const pairs = text.split(",").map((entry) =>
    entry
      .trim()
      .split("=")
      .map((s) => s.trim()),
  );
  if (pairs.some((pair) => pair.length !== 2 || pair[0] === "" || pair[1] === "")) {
    throw new ConfigError(`${name} is a comma-separated list of name=model pairs, such as ${DEFAULT_ANTHROPIC_MODEL_MAP}; got '${text}'.`);
  }
  return pairs as [string, string][];
}

function positiveInt(text: string, name: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 100_000) throw new ConfigError(`${name} must be a whole number from 1 to 100000; got '${text}'.`);
  return n;
}

function origins(env: Env, name: string): string[] {
  return list(env, name).map((entry) => {
    let origin: string | undefined;
    try {
      origin = new URL(entry).origin;
    } catch {
      // reported below
    }
    if (origin !== entry || origin === "null") {
      throw new ConfigError(`${name} lists web origins such as http://localhost:3000 (scheme, host and port, no path or '*'); got '${entry}'.`);
    }
    return entry;
  });
}

function port(text: string, name: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new ConfigError(`${name} must be a port number from 0 to 65535; got '${text}'.`);
  return n;
}

function clientVersion(env: Env): string {
  const text = set(env, "CODEX_CLIENT_VERSION") ?? DEFAULTS.clientVersion;
  if (!/^\d+\.\d+\.\d+([-.+][\w.]+)?$/.test(text)) {
    throw new ConfigError(`CODEX_CLIENT_VERSION must be a Codex CLI version such as ${DEFAULTS.clientVersion}; got '${text}'.`);
  }
  return text;
}

function list(env: Env, name: string): string[] {
  const text = set(env, name);
  if (text === undefined) return [];
  const items = text.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) throw new ConfigError(`${name} is a comma-separated list with an empty entry; remove the extra comma.`);
  return items;
}

/**
 * Keys travel in an HTTP header, which carries printable ASCII only. `key@alice+bob` binds a key to
 * the logins alice and bob (auth/logins.ts); a key without `@login` may use every login.
 */
function apiKeys(env: Env): ClientKey[] {
  const keys = list(env, "PROXY_API_KEYS");
  if (keys.some((key) => !/^[\x21-\x7e]+$/.test(key))) {
    throw new ConfigError("PROXY_API_KEYS holds a key with a space, a control or a non-ASCII character; an HTTP header cannot carry it. Use letters, digits and punctuation only.");
  }
  return keys.map((entry) => {
    const at = entry.lastIndexOf("@");
    const logins = at > 0 ? entry.slice(at + 1).split("+") : [];
    if (at <= 0 || !logins.every((name) => LOGIN_NAME.test(name))) return { key: entry };
    return { key: entry.slice(0, at), logins };
  });
}

/**
 * The logins' files: each entry a file (named by it: `alice.json` is alice, `~/.codex-bob/auth.json`
 * is codex-bob), `name=path`, or a folder whose `*.json` files are the logins. One login alone is
 * named "default", as a deployment that names none has.
 */
function loginPaths(entries: readonly string[]): { name: string; path: string }[] {
  const logins: { name: string; path: string }[] = [];
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    const named = eq > 0 && LOGIN_NAME.test(entry.slice(0, eq)) ? { name: entry.slice(0, eq), path: expandHome(entry.slice(eq + 1)) } : undefined;
    const path = named?.path ?? expandHome(entry);
    let folder = false;
    try {
      folder = !named && statSync(path).isDirectory();
    } catch {
      // a missing file is the token source's to report, with the fix
    }
    if (folder) {
      const files = readdirSync(path)
        .filter((f) => f.endsWith(".json") && !f.startsWith("."))
        .sort();
      if (files.length === 0) throw new ConfigError(`The folder ${path} holds no login (*.json). Put each login's auth.json in it as <name>.json.`);
      for (const file of files) logins.push({ name: loginName(file.slice(0, -5), join(path, file)), path: join(path, file) });
    } else logins.push(named ?? { name: loginName(basename(path).replace(/\.json$/, ""), path), path });
  }
  if (logins.length === 1) return [{ name: "default", path: (logins[0] as { path: string }).path }];
  const seen = new Set<string>();
  for (const { name } of logins) {
    if (seen.has(name)) throw new ConfigError(`Two logins are named '${name}'. Name them with --auth-path name=path.`);
    seen.add(name);
  }
  return logins;
}

/** A login's name from its file: the file's name, or for an auth.json its folder's (without leading dots). */
function loginName(stem: string, path: string): string {
  const raw = stem === "auth" ? basename(dirname(path)).replace(/^\.+/, "") : stem;
  const name = raw
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "-")
    .slice(0, 32);
  if (!LOGIN_NAME.test(name)) throw new ConfigError(`Cannot name the login at ${path}. Name it with --auth-path name=path (letters, digits, - and _).`);
  return name;
}

function loginPolicy(env: Env): "spread" | "fill" {
  const text = set(env, "LOGIN_POLICY") ?? "spread";
  if (text !== "spread" && text !== "fill") throw new ConfigError(`LOGIN_POLICY must be spread or fill; got '${text}'.`);
  return text;
}

function logLevel(env: Env): LogLevel {
  const text = set(env, "LOG_LEVEL") ?? DEFAULTS.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(text)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}; got '${text}'.`);
  return text as LogLevel;
}

function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}

/** Lambda mode: tokens and keys from Secrets Manager, or (for `npm run dev:lambda`) a file and env keys. */
export interface LambdaConfig extends CoreConfig {
  tokens: { kind: "secret"; secretId: string } | { kind: "file"; path: string };
  /** CODEX_LOGINS: more logins, each in a secret of its own, beside the default one */
  moreLogins: { name: string; secretId: string }[];
  keys: { kind: "secret"; secretId: string } | { kind: "static"; keys: ClientKey[] };
}

export function readLambdaConfig(env: Env): LambdaConfig {
  const core = readCoreConfig(env);
  const codexSecret = set(env, "CODEX_SECRET_ID");
  const authPath = set(env, "CODEX_AUTH_PATH");
  const keysSecret = set(env, "API_KEYS_SECRET_ID");
  const staticKeys = apiKeys(env);
  if (!codexSecret && !authPath) throw new ConfigError("CODEX_SECRET_ID is not set: the function does not know which secret holds the Codex login.");
  if (!keysSecret && staticKeys.length === 0) {
    throw new ConfigError("API_KEYS_SECRET_ID is not set (nor PROXY_API_KEYS): a public Function URL is never served without client keys.");
  }
  const moreLogins = list(env, "CODEX_LOGINS").map((entry) => {
    const eq = entry.indexOf("=");
    const name = entry.slice(0, eq);
    if (eq <= 0 || !LOGIN_NAME.test(name) || name === "default" || entry.length === eq + 1) {
      throw new ConfigError(`CODEX_LOGINS is a comma-separated list of name=secret-id pairs (names of letters, digits, - and _, not 'default'); got '${entry}'.`);
    }
    return { name, secretId: entry.slice(eq + 1) };
  });
  if (new Set(moreLogins.map((l) => l.name)).size !== moreLogins.length) throw new ConfigError("CODEX_LOGINS names a login twice.");
  checkBindings(staticKeys, ["default", ...moreLogins.map((l) => l.name)], "PROXY_API_KEYS");
  return {
    ...core,
    tokens: codexSecret ? { kind: "secret", secretId: codexSecret } : { kind: "file", path: expandHome(authPath as string) },
    moreLogins,
    keys: keysSecret ? { kind: "secret", secretId: keysSecret } : { kind: "static", keys: staticKeys },
  };
}
