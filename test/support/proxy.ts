/**
 * Starts the real proxy (createApp + the node:http adapter) on 127.0.0.1:0 in front of a FakeCodex,
 * with a temporary auth.json. Everything it starts, it stops; the temp dir is removed.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp, type AppDeps, type AppHandle } from "../../lambda/app.js";
import { StaticClientKeys, type ClientKey } from "../../lambda/auth/client-keys.js";
import type { Login } from "../../lambda/auth/logins.js";
import { FileTokenSource, type FileTokenOptions } from "../../lambda/auth/file-store.js";
import { createUpstream, type Upstream } from "../../lambda/codex/http.js";
import { readCoreConfig, type CoreConfig } from "../../lambda/config.js";
import { createLogger, type Logger } from "../../lambda/log.js";
import { createNodeHandler } from "../../lambda/node-adapter.js";
import { FakeCodex } from "./fake-codex.js";
import { accessToken } from "./fixtures.js";

export const ACCOUNT_ID = "acc-test-1234";

export interface ProxyOptions {
  env?: Record<string, string>;
  /** keys, or keys bound to logins */
  keys?: (string | ClientKey)[];
  authJson?: unknown;
  /** several logins, each a named auth.json (the first is the primary; `authJson` is then unused) */
  logins?: { name: string; authJson: unknown }[];
  /** keep the logins' files in this folder (to restart a proxy on the same logins); a temp dir otherwise */
  dir?: string;
  clock?: () => number;
  limits?: AppDeps["limits"];
  logLines?: string[];
  /** more options for the auth.json token source (write, lock, waits) */
  tokenOptions?: Partial<FileTokenOptions>;
  onRequestEnd?: AppDeps["onRequestEnd"];
}

export interface RunningProxy {
  url: string;
  baseURL: string;
  codex: FakeCodex;
  authPath: string;
  dir: string;
  log: Logger;
  /** the app itself, for calling it without the node:http adapter */
  app: AppHandle;
  stop(): Promise<void>;
}

export function authJson(token = accessToken(ACCOUNT_ID)): unknown {
  return {
    auth_mode: "chatgpt",
    OPENAI_API_KEY: null,
    tokens: { id_token: token, access_token: token, refresh_token: "rt.1.test-refresh", account_id: ACCOUNT_ID },
    last_refresh: "2026-11-20T10:00:00.000Z",
  };
}

export async function startProxy(options: ProxyOptions = {}): Promise<RunningProxy> {
  const codex = await new FakeCodex().start();
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "codex-proxy-test-"));
  const authPath = join(dir, "auth.json");
  if (!options.logins || !existsSync(authPath)) writeFileSync(authPath, JSON.stringify(options.logins?.[0]?.authJson ?? options.authJson ?? authJson()), { mode: 0o600 });
  const loginFiles = (options.logins ?? []).map((l, i) => ({ name: l.name, path: i === 0 ? authPath : join(dir, `${l.name}.json`), doc: l.authJson }));
  for (const file of loginFiles.slice(1)) if (!existsSync(file.path)) writeFileSync(file.path, JSON.stringify(file.doc), { mode: 0o600 });
  const log = createLogger("debug", (line) => options.logLines?.push(line));
  // Nothing may leave loopback: without a fake OAuth endpoint, refreshes go to a closed local port.
  let config: CoreConfig;
  let upstream: Upstream;
  let tokens: FileTokenSource;
  const logins: Login[] = [];
  try {
    config = readCoreConfig({ CODEX_BASE_URL: codex.url, CODEX_REFRESH_URL: "http://127.0.0.1:9/no-oauth-in-tests", LOG_LEVEL: "debug", ...options.env });
    upstream = createUpstream(config.upstreamProxyUrl);
    tokens = FileTokenSource.load(authPath, {
      refresh: { url: config.refreshUrl, fetch: upstream.fetch, backoffMs: [20, 40] },
      log,
      ...(options.clock ? { now: options.clock } : {}),
      ...options.tokenOptions,
    });
    for (const [i, file] of loginFiles.entries()) {
      const source =
        i === 0
          ? tokens
          : FileTokenSource.load(file.path, {
              refresh: { url: config.refreshUrl, fetch: upstream.fetch, backoffMs: [20, 40] },
              log,
              ...(options.clock ? { now: options.clock } : {}),
              ...options.tokenOptions,
            });
      logins.push({ name: file.name, source });
    }
  } catch (err) {
    // A test of a login or setting the proxy refuses at start still leaves no server or temp dir behind.
    await codex.stop();
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const deps: AppDeps = { tokens, clientKeys: new StaticClientKeys(options.keys ?? []), upstream, config, log, ...(logins.length > 0 ? { logins } : {}) };
  if (options.clock) deps.clock = options.clock;
  if (options.limits) deps.limits = options.limits;
  if (options.onRequestEnd) deps.onRequestEnd = options.onRequestEnd;
  const app = createApp(deps);
  const server: Server = createServer(createNodeHandler(app.handle, log, app.errorReply));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseURL: `${url}/v1`,
    codex,
    authPath,
    dir,
    log,
    app,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await codex.stop();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Reads an SSE response body into its `data:` payloads (parsed JSON, or the raw "[DONE]"). */
export async function readSse(response: Response): Promise<unknown[]> {
  return sseFrames(await response.text());
}

/** The same, as a slow client would: a pause after each of the first `slowReads` reads. */
export async function readSseSlowly(response: Response, slowReads: number, pauseMs: number): Promise<unknown[]> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (let i = 0; ; i++) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (i < slowReads) await new Promise((r) => setTimeout(r, pauseMs));
  }
  return sseFrames(text);
}

function sseFrames(text: string): unknown[] {
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("data: "))
    .map((block) => {
      const data = block.slice(6);
      return data === "[DONE]" ? data : (JSON.parse(data) as unknown);
    });
}

/** The concatenated `delta.content` of streamed chunks. */
export function streamedContent(frames: unknown[]): string {
  return frames.map((f) => (f as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ?? "").join("");
}

export function chatBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: "gpt-5.5", messages: [{ role: "user", content: "Hello" }], ...extra };
}
