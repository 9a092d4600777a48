/**
 * `npm start`: serves the proxy on localhost from the Codex CLI's auth.json.
 * Options and variables: README.md "Configuration", or `npm start -- --help`.
 */
import { createServer } from "node:http";
import { createApp } from "./app.js";
import { AuthFileError } from "./auth/auth-json.js";
import { StaticClientKeys } from "./auth/client-keys.js";
import { FileTokenSource } from "./auth/file-store.js";
import type { Login } from "./auth/logins.js";
import { keepFresh } from "./auth/keep-fresh.js";
import type { Credentials, TokenSource } from "./auth/tokens.js";
import { createUpstream, type Fetch } from "./codex/http.js";
import { ConfigError, DEFAULTS, readLocalConfig, type LocalConfig } from "./config.js";
import { settingsHelp } from "./settings.js";
import { batchedStderr, createLogger, type Logger } from "./log.js";
import { createNodeHandler } from "./node-adapter.js";
import { SUMMARY, VERSION } from "./version.js";

const listed = settingsHelp();
const HELP = `codex-openai-proxy ${VERSION}: ${SUMMARY}.

Usage: npm start -- [options]

Options:
${listed.options}

Environment:
${listed.environment}

Clients: base URL http://127.0.0.1:${DEFAULTS.port}/v1, any model from GET /v1/models.`;

/** A login's file as a token source, refreshed at the configured endpoint. */
function fileLogin(path: string, config: LocalConfig, fetch: Fetch, log: Logger): FileTokenSource {
  return FileTokenSource.load(path, { refresh: { url: config.refreshUrl, fetch }, log });
}

/** The first login's source: its file, or OPENAI_API_KEY when there is no file and no other login. */
function tokenSource(config: LocalConfig, fetch: Fetch, log: Logger): TokenSource {
  try {
    return fileLogin(config.authPath, config, fetch, log);
  } catch (err) {
    if (config.logins.length > 1) throw err;
    const apiKey = config.openaiApiKey;
    if (!(err instanceof AuthFileError) || !apiKey || !err.message.startsWith("No Codex login")) throw err;
    const credentials: Credentials = { kind: "apikey", apiKey };
    return {
      kind: "OPENAI_API_KEY",
      loginHint: "check OPENAI_API_KEY.",
      get: async () => credentials,
      recover: async () => undefined,
      describe: async () => ({ name: "OPENAI_API_KEY", state: "ok", plan: "API key" }),
    };
  }
}

function main(): void {
  let command: ReturnType<typeof readLocalConfig>;
  try {
    command = readLocalConfig(process.env, process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, 2);
    throw err;
  }
  if (command.kind === "help") return void console.log(HELP);
  if (command.kind === "version") return void console.log(VERSION);
  const { config } = command;
  const lines = batchedStderr();
  flushLog = lines.flush;
  const log = createLogger(config.logLevel, lines.write);
  const upstream = createUpstream(config.upstreamProxyUrl);

  let tokens: TokenSource;
  const logins: Login[] = [];
  try {
    tokens = tokenSource(config, upstream.fetch, log);
    logins.push({ name: (config.logins[0] as { name: string }).name, source: tokens });
    for (const { name, path } of config.logins.slice(1)) {
      logins.push({ name, source: fileLogin(path, config, upstream.fetch, log) });
    }
  } catch (err) {
    if (err instanceof AuthFileError) fail(err.message, 1);
    throw err;
  }

  const clientKeys = new StaticClientKeys(config.proxyApiKeys);
  if (!clientKeys.enforced) {
    log.warn("PROXY_API_KEYS is not set: any program on this machine can use your subscription through the proxy (it listens on loopback only).");
  }
  const { handle, models, errorReply } = createApp({ tokens, logins, clientKeys, upstream, config, log });
  const server = createServer(createNodeHandler(handle, log, errorReply));
  server.on("error", (err: NodeJS.ErrnoException) => {
    fail(err.code === "EADDRINUSE" ? `Port ${config.port} on ${config.host} is already in use. Choose another with --port or PORT.` : `Cannot listen: ${err.message}`, 1);
  });
  server.listen(config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    const paths = logins.length > 1 ? { logins: config.logins.map((l) => `${l.name}=${l.path}`).join(", ") } : { auth_path: config.authPath };
    log.info("listening", { url: `http://${host}:${port}/v1`, token_source: tokens.kind, ...paths, port });
    void models.list();
    for (const login of logins) keepFresh(login.source, 3_600_000, log);
  });
  const stop = () => {
    server.close();
    server.closeAllConnections();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

/** writes the log lines still waiting, so a fatal message comes after them */
let flushLog = () => {};

function fail(message: string, code: number): never {
  flushLog();
  process.stderr.write(`codex-openai-proxy: ${message}\n`);
  process.exit(code);
}

main();
