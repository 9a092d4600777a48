/**
 * The runtime-agnostic proxy: a request in, its answer out. Both adapters (the Lambda streaming
 * handler and the local node:http server) call `handle` and nothing else; every protocol decision
 * lives below here. `handle` takes a fetch Request as it is and answers a plain Reply, which the
 * adapters write without building fetch classes; `fetch` is the same app as `(Request) => Response`.
 */
import { randomUUID } from "node:crypto";
import type { ClientKeyCheck, KeyGrant } from "./auth/client-keys.js";
import { LoginPool, type Login } from "./auth/logins.js";
import type { TokenSource } from "./auth/tokens.js";
import { CodexClient } from "./codex/client.js";
import type { Upstream } from "./codex/http.js";
import { usageHeaders, type RateLimits } from "./codex/rate-limits.js";
import { RecentActivity } from "./observe/recent.js";
import { handleStatus, loginStatus, type StatusSources } from "./routes/status.js";
import { statusPage } from "./routes/status-page.js";
import type { CoreConfig } from "./config.js";
import { ProxyError, toProxyError } from "./errors.js";
import { BodyBudget } from "./http/body.js";
import { beforeDeadline } from "./http/deadline.js";
import { BrowserPolicy } from "./http/browser-policy.js";
import { isStreamed, jsonReply, toResponse, type Reply } from "./http/reply.js";
import { silentLogger, type LogFields, type Logger } from "./log.js";
import { ModelCatalog } from "./models/catalog.js";
import { chatDialect } from "./dialects/chat/index.js";
import { countTokens } from "./dialects/messages/count-tokens.js";
import { anthropicErrorReply } from "./dialects/messages/errors.js";
import { anthropicClientKey, messagesDialect } from "./dialects/messages/index.js";
import { compactDialect } from "./dialects/responses/compact.js";
import { responsesDialect } from "./dialects/responses/index.js";
import type { Dialect, Frame } from "./pipeline/dialect.js";
import { runLocal } from "./pipeline/local-answer.js";
import { runTurn, TurnFailed, type Turn, type TurnFacts } from "./pipeline/run.js";
import { handleModels } from "./routes/models.js";
import { DIALECTS, VERSION } from "./version.js";
import type { AppRequest } from "./http/request.js";
import { asksForWebSocket, webSocketRefused } from "./http/websocket.js";

/** `budgetMs`: the runtime's time limit for this request (Lambda); the answer ends within it. */
export type App = (request: AppRequest, options?: { budgetMs?: number }) => Promise<Reply>;

export interface AppDeps {
  /** the login, when there is one; see `logins` */
  tokens: TokenSource;
  /** several named logins behind one endpoint (auth/logins.ts); the first is the primary. Unset: `tokens`, as "default" */
  logins?: readonly Login[];
  clientKeys: ClientKeyCheck;
  upstream: Upstream;
  config: CoreConfig;
  /** milliseconds since the epoch; injectable so tests can pin usage-limit reset times */
  clock?: () => number;
  log?: Logger;
  limits?: AppLimits;
  /** called once per request, when its answer is complete, with the facts of its log line */
  onRequestEnd?: (fields: LogFields) => void;
  /** where the app runs, for /status: locally, or on Lambda (and which instance) */
  runtime?: StatusSources["runtime"];
}

export interface AppLimits {
  maxBodyBytes?: number;
  /** what all requests' bodies may hold at once (http/body.ts) */
  bodyBudgetBytes?: number;
  keepAliveMs?: number;
  idleTimeoutMs?: number;
  /** the most event data one answer may bring, streamed or not, before it is refused (codex/sse.ts) */
  maxAnswerBytes?: number;
  /** the pause before the one retry of a failed upstream start */
  retryDelayMs?: number;
  connectionWaitMs?: number;
  maxEventBytes?: number;
}

export interface AppHandle {
  handle: App;
  /** the same app, fetch-style */
  fetch: (request: Request, options?: { budgetMs?: number }) => Promise<Response>;
  models: ModelCatalog;
  /** an error in the shape of the route at this path, for the adapters' own backstops */
  errorReply: (path: string, error: ProxyError) => Reply;
}

interface Route {
  methods: string[];
  auth: boolean;
  /** the answer; a model turn's comes with what it learned (throws a TurnFailed, carrying it) */
  run: (request: AppRequest, context: RouteContext) => Promise<Reply | Turn>;
  /** how this route's clients expect an error; the OpenAI shape when unset */
  errorReply?: (error: ProxyError) => Reply;
  /** where this route's clients put the proxy key, as an Authorization value */
  credential?: (request: AppRequest) => string | null;
  /** how this route's clients send the key, for the advice of a 401 */
  keyHint?: string;
}

interface RouteContext {
  /** the request's time budget left, in ms (Lambda) */
  budgetMs?: number;
  /** the logins the request's key may use; all when unset */
  allowedLogins?: readonly string[];
  /** logs a bug (not a ProxyError) with the request's fields and its stack */
  unexpected(err: unknown): void;
}

export function createApp(deps: AppDeps): AppHandle {
  const now = deps.clock ?? Date.now;
  const log = deps.log ?? silentLogger;
  const limits = { maxBodyBytes: 32 * 1024 * 1024, keepAliveMs: 15_000, idleTimeoutMs: 300_000, maxAnswerBytes: 64 * 1024 * 1024, ...deps.limits };
  const codex = new CodexClient({
    codexBaseUrl: deps.config.codexBaseUrl,
    openaiBaseUrl: deps.config.openaiBaseUrl,
    clientVersion: deps.config.clientVersion,
    idleTimeoutMs: limits.idleTimeoutMs,
    maxAnswerBytes: limits.maxAnswerBytes,
    upstream: deps.upstream,
    ...(deps.config.maxUpstreamConnections === undefined ? {} : { maxConnections: deps.config.maxUpstreamConnections }),
    ...(limits.connectionWaitMs === undefined ? {} : { connectionWaitMs: limits.connectionWaitMs }),
    ...(limits.retryDelayMs === undefined ? {} : { retryDelayMs: limits.retryDelayMs }),
    ...(limits.maxEventBytes === undefined ? {} : { maxEventBytes: limits.maxEventBytes }),
  });
  const bodies = new BodyBudget(limits.bodyBudgetBytes);
  const browsers = new BrowserPolicy(deps.clientKeys.enforced, deps.config.corsOrigins);
  const startedAt = now();
  const recent = new RecentActivity(now);
  const pool = new LoginPool(deps.logins && deps.logins.length > 0 ? deps.logins : [{ name: "default", source: deps.tokens }], now, deps.config.loginPolicy);
  const models = new ModelCatalog({
    allowed: deps.config.allowedModels,
    now,
    onError: (err) => log.warn("model catalog unavailable, using the previous or built-in list", { error: String(err) }),
    // The catalog is the same for every login: the first that can be read serves it.
    fetchCatalog: async () => {
      let failure: unknown;
      for (const login of pool.logins) {
        try {
          const credentials = await login.source.get();
          if (credentials.kind !== "chatgpt") throw new Error("API-key logins have no Codex model catalog");
          return await codex.models(credentials, AbortSignal.timeout(10_000));
        } catch (err) {
          failure = err;
        }
      }
      throw failure;
    },
  });
  const upstreamHost = new URL(deps.config.codexBaseUrl).host;

  const turn = <F extends Frame>(dialect: Dialect<F>): Route => ({
    methods: ["POST"],
    auth: true,
    errorReply: (error) => dialect.errorReply(error),
    ...(dialect.clientKey ? { credential: dialect.clientKey.read, keyHint: dialect.clientKey.hint } : {}),
    run: (request, { budgetMs, unexpected, allowedLogins }) =>
      runTurn(dialect, request, {
        logins: pool,
        ...(allowedLogins ? { allowedLogins } : {}),
        codex,
        models,
        now,
        maxBodyBytes: limits.maxBodyBytes,
        bodies,
        keepAliveMs: limits.keepAliveMs,
        ...(budgetMs === undefined ? {} : { budgetMs }),
        unexpected,
      }),
  });
  const chat = turn(chatDialect);
  const responses = turn(responsesDialect);
  const compact = turn(compactDialect);
  const anthropic = messagesDialect(deps.config.anthropicModelMap);
  const messages = turn(anthropic);
  const tokenCount: Route = {
    methods: ["POST"],
    auth: true,
    credential: anthropicClientKey.read,
    keyHint: anthropicClientKey.hint,
    errorReply: anthropicErrorReply,
    run: (request) => runLocal(countTokens, request, { maxBodyBytes: limits.maxBodyBytes, bodies }),
  };
  const list: Route = { methods: ["GET"], auth: true, run: () => handleModels(models, now) };
  const status: StatusSources = {
    version: VERSION,
    startedAt,
    now,
    runtime: deps.runtime ?? { kind: "local" },
    upstream: upstreamHost,
    clientKeys: deps.clientKeys.enforced ? "required" : "not configured",
    logins: () => pool.describe(),
    models,
    recent,
  };
  const routes: Record<string, Route> = {
    "/v1/chat/completions": chat,
    "/chat/completions": chat,
    "/v1/responses": responses,
    "/responses": responses,
    "/v1/responses/compact": compact,
    "/responses/compact": compact,
    "/v1/messages": messages,
    "/v1/messages/count_tokens": tokenCount,
    "/v1/models": list,
    "/models": list,
    "/health": {
      methods: ["GET", "HEAD"],
      auth: false,
      run: async () =>
        jsonReply(200, {
          status: "ok",
          version: VERSION,
          serves: DIALECTS,
          node: process.versions.node,
          upstream: upstreamHost,
          token_source: deps.tokens.kind,
          models: models.source,
          client_keys: deps.clientKeys.enforced ? "required" : "not configured",
          usage_limits: recent.windowsOf(pool.primary.name) ?? null,
          // several logins: each one's state and windows (a single login's are above, as before)
          ...(pool.size > 1 ? { logins: await loginsHealth() } : {}),
        }),
    },
    // The page holds no facts (it reads them from /v1/status, with a key when keys are set).
    "/status": { methods: ["GET", "HEAD"], auth: false, run: async () => statusPage() },
    "/v1/status": { methods: ["GET"], auth: true, run: () => handleStatus(status) },
  };
  /** Each login's state as /status derives it, and its latest windows as the backend reported them. */
  async function loginsHealth() {
    return (await pool.describe()).map((l) => {
      const { name, state, resting_until } = loginStatus(l, status, now());
      return { name, state, ...(resting_until ? { resting_until } : {}), usage_limits: recent.windowsOf(l.login) ?? null };
    });
  }
  /** routes whose requests stay out of /status's history: the page polls them */
  const unlisted = new Set(["/status", "/v1/status", "/health"]);

  const handle: App = async (request, options = {}) => {
    const started = now();
    const url = new URL(request.url);
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const requestId = randomUUID();
    const fields: LogFields = { request_id: requestId, method: request.method, path };
    let clientHeaders: Record<string, string> = {};
    const record = (extra: LogFields, msg = "request") => {
      const line = { ...fields, ms: now() - started, ...extra };
      log.info(msg, line);
      deps.onRequestEnd?.(line);
      if (!unlisted.has(path)) recent.add(line);
    };
    // Every Reply here is the app's own, fresh for this request, so its headers are completed in place.
    const finish = (reply: Reply, extra: LogFields = {}): Reply => {
      Object.assign(reply.headers, browsers.corsHeaders(request), clientHeaders, { "x-request-id": requestId });
      Object.assign(fields, { status: reply.status }, extra);
      // A streamed answer is logged (and counted) when it ends; everything else now.
      if (!isStreamed(reply)) record({});
      return reply;
    };
    let grant: KeyGrant = {};
    const unexpected = (err: unknown) => log.error("unexpected failure", { ...fields, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    /** What a turn learned goes into the request's line; its usage windows into /health and the answer's headers. */
    const learned = (facts: TurnFacts) => {
      Object.assign(fields, facts.fields);
      if (!facts.upstreamHeaders) return;
      clientHeaders = usageHeaders(facts.upstreamHeaders);
      const windows = facts.limits;
      if (!windows) return;
      recent.observe(facts.upstreamLogin ?? pool.primary.name, windows);
      Object.assign(fields, limitFields(windows));
    };

    try {
      const refusal = browsers.refusal(request, url);
      if (refusal) throw refusal;
      const route = routes[path];
      if (request.method === "OPTIONS") return finish(browsers.preflight(request, route?.methods));
      if (route === responses && request.method === "GET" && asksForWebSocket(request.headers)) throw webSocketRefused(path);
      if (!route) {
        throw new ProxyError(
          404,
          `No route ${request.method} ${url.pathname}. This proxy serves POST /v1/chat/completions, POST /v1/responses, POST /v1/responses/compact, POST /v1/messages, GET /v1/models, GET /health, GET /status (a page) and GET /v1/status.`,
          {
            code: "unknown_url",
          },
        );
      }
      if (!route.methods.includes(request.method)) {
        throw new ProxyError(405, `${request.method} is not allowed on ${path}; use ${route.methods.join(" or ")}.`, {
          code: "method_not_allowed",
          headers: { allow: [...route.methods, "OPTIONS"].join(", ") },
        });
      }
      // The time budget covers the whole request, the key check (a Secrets Manager read) included, so
      // a slow one still ends in this route's error shape.
      const deadline = options.budgetMs === undefined ? undefined : now() + options.budgetMs;
      if (route.auth) {
        const verified = deps.clientKeys.verify(route.credential ? route.credential(request) : request.headers.get("authorization"), route.keyHint);
        grant = await (options.budgetMs === undefined ? verified : beforeDeadline(verified, options.budgetMs));
      }
      const answer = await route.run(request, {
        unexpected,
        ...(deadline === undefined ? {} : { budgetMs: Math.max(1, deadline - now()) }),
        ...(grant.logins ? { allowedLogins: grant.logins } : {}),
      });
      if (!("reply" in answer)) return finish(answer);
      learned(answer.facts);
      answer.ended?.then((extra) => record(extra, "stream ended"));
      return finish(answer.reply);
    } catch (thrown) {
      let err = thrown;
      if (thrown instanceof TurnFailed) {
        learned(thrown.facts);
        err = thrown.error;
      }
      if (request.signal.aborted) {
        // The client left while we waited upstream; nobody will read this answer.
        return finish(errorReply(path, new ProxyError(499, "The client closed the request.", { code: "client_closed_request" })), { error_code: "client_closed_request" });
      }
      const error = toProxyError(err);
      if (!(err instanceof ProxyError)) unexpected(err);
      return finish(errorReply(path, error), { error_code: error.code ?? error.type });
    }
  };

  /** An error as the clients of the route at `path` expect it: Anthropic's shape on /v1/messages, OpenAI's elsewhere. */
  const errorReply = (path: string, error: ProxyError): Reply => {
    const route = routes[path.replace(/\/+$/, "") || "/"];
    return route?.errorReply ? route.errorReply(error) : error.toReply();
  };

  return { handle, fetch: async (request, options) => toResponse(await handle(request, options)), models, errorReply };
}

function limitFields(limits: RateLimits): LogFields {
  return {
    primary_used_percent: limits.primary?.used_percent,
    secondary_used_percent: limits.secondary?.used_percent,
  };
}
