/**
 * The runtime-agnostic proxy: a fetch-style `(Request) => Promise<Response>`. Both adapters (the
 * Lambda streaming handler and the local node:http server) call this and nothing else; every
 * protocol decision lives below here.
 */
import { randomUUID } from "node:crypto";
import type { ClientKeyCheck } from "./auth/client-keys.js";
import type { TokenSource } from "./auth/tokens.js";
import { CodexClient } from "./codex/client.js";
import type { Fetch } from "./codex/http.js";
import type { CoreConfig } from "./config.js";
import { ProxyError, toProxyError } from "./errors.js";
import { silentLogger, type LogFields, type Logger } from "./log.js";
import { ModelCatalog } from "./models/catalog.js";
import { handleChat } from "./routes/chat.js";
import { handleModels } from "./routes/models.js";
import { VERSION } from "./version.js";

export type App = (request: Request) => Promise<Response>;

export interface AppDeps {
  tokens: TokenSource;
  clientKeys: ClientKeyCheck;
  fetch: Fetch;
  config: CoreConfig;
  /** milliseconds since the epoch; injectable so tests can pin usage-limit reset times */
  clock?: () => number;
  log?: Logger;
  limits?: { maxBodyBytes?: number; keepAliveMs?: number; idleTimeoutMs?: number };
}

export interface AppHandle {
  handle: App;
  models: ModelCatalog;
}

const CORS_HEADERS = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "retry-after, x-request-id",
};

type Route = { methods: string[]; auth: boolean; run: (request: Request, note: Notes) => Promise<Response> };

interface Notes {
  annotate(fields: LogFields): void;
  ended(fields: LogFields): void;
}

export function createApp(deps: AppDeps): AppHandle {
  const now = deps.clock ?? Date.now;
  const log = deps.log ?? silentLogger;
  const limits = { maxBodyBytes: 32 * 1024 * 1024, keepAliveMs: 15_000, idleTimeoutMs: 300_000, ...deps.limits };
  const codex = new CodexClient({
    codexBaseUrl: deps.config.codexBaseUrl,
    openaiBaseUrl: deps.config.openaiBaseUrl,
    clientVersion: deps.config.clientVersion,
    idleTimeoutMs: limits.idleTimeoutMs,
    fetch: deps.fetch,
  });
  const models = new ModelCatalog({
    allowed: deps.config.allowedModels,
    now,
    onError: (err) => log.warn("model catalog unavailable, using the previous or built-in list", { error: String(err) }),
    fetchCatalog: async () => {
      const credentials = await deps.tokens.get();
      if (credentials.kind !== "chatgpt") throw new Error("API-key logins have no Codex model catalog");
      return codex.models(credentials, AbortSignal.timeout(10_000));
    },
  });
  const upstreamHost = new URL(deps.config.codexBaseUrl).host;

  const chat: Route = {
    methods: ["POST"],
    auth: true,
    run: (request, notes) =>
      handleChat(request, { tokens: deps.tokens, codex, models, now, maxBodyBytes: limits.maxBodyBytes, keepAliveMs: limits.keepAliveMs, ...notes }),
  };
  const list: Route = { methods: ["GET"], auth: true, run: () => handleModels(models, now) };
  const routes: Record<string, Route> = {
    "/v1/chat/completions": chat,
    "/chat/completions": chat,
    "/v1/models": list,
    "/models": list,
    "/health": {
      methods: ["GET", "HEAD"],
      auth: false,
      run: async () =>
        Response.json({
          status: "ok",
          version: VERSION,
          upstream: upstreamHost,
          token_source: deps.tokens.kind,
          models: models.source,
          client_keys: deps.clientKeys.enforced ? "required" : "not configured",
        }),
    },
  };

  const handle: App = async (request) => {
    const started = now();
    const url = new URL(request.url);
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const requestId = randomUUID();
    const fields: LogFields = { request_id: requestId, method: request.method, path };
    const finish = (response: Response, extra: LogFields = {}): Response => {
      const headers = new Headers(response.headers);
      for (const [k, v] of Object.entries(CORS_HEADERS)) headers.set(k, v);
      headers.set("x-request-id", requestId);
      log.info("request", { ...fields, status: response.status, ms: now() - started, ...extra });
      return new Response(response.body, { status: response.status, headers });
    };

    try {
      const route = routes[path];
      if (request.method === "OPTIONS") return finish(preflight(request, route));
      if (!route) {
        throw new ProxyError(404, `No route ${request.method} ${url.pathname}. This proxy serves POST /v1/chat/completions, GET /v1/models and GET /health.`, {
          code: "unknown_url",
        });
      }
      if (!route.methods.includes(request.method)) {
        throw new ProxyError(405, `${request.method} is not allowed on ${path}; use ${route.methods.join(" or ")}.`, {
          code: "method_not_allowed",
          headers: { allow: [...route.methods, "OPTIONS"].join(", ") },
        });
      }
      if (route.auth) await deps.clientKeys.verify(request.headers.get("authorization"));
      const response = await route.run(request, {
        annotate: (extra) => Object.assign(fields, extra),
        ended: (extra) => log.info("stream ended", { ...fields, ms: now() - started, ...extra }),
      });
      return finish(response);
    } catch (err) {
      if (request.signal.aborted) {
        // The client left while we waited upstream; nobody will read this answer.
        return finish(new ProxyError(499, "The client closed the request.", { code: "client_closed_request" }).toResponse(), { error_code: "client_closed_request" });
      }
      const error = toProxyError(err);
      if (error.status >= 500 && !(err instanceof ProxyError)) {
        log.error("unexpected failure", { ...fields, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      }
      return finish(error.toResponse(), { error_code: error.code ?? error.type });
    }
  };

  return { handle, models };
}

function preflight(request: Request, route: Route | undefined): Response {
  return new Response(null, {
    status: 204,
    headers: {
      "access-control-allow-methods": [...(route?.methods ?? ["GET", "POST"]), "OPTIONS"].join(", "),
      "access-control-allow-headers": request.headers.get("access-control-request-headers") ?? "authorization, content-type",
      "access-control-max-age": "86400",
    },
  });
}
