/**
 * The Lambda adapter: `awslambda.streamifyResponse` around the same app as the local server.
 * Function URL event (payload 2.0) -> AppRequest; Reply -> HttpResponseStream with the body written
 * under backpressure. It always writes once (the prelude only leaves with a write), always ends the
 * stream, never lets an exception escape (a throw becomes trailers no client sees), and bounds every
 * request by the function's remaining time, since a client disconnect is invisible here.
 */
import { randomUUID } from "node:crypto";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Context, LambdaFunctionURLEvent } from "aws-lambda";
import { createApp, type App } from "./app.js";
import { StaticClientKeys, type ClientKeyCheck } from "./auth/client-keys.js";
import { FileTokenSource } from "./auth/file-store.js";
import { SecretClientKeys } from "./auth/secret-keys.js";
import { SecretTokenSource } from "./auth/secret-store.js";
import type { Login } from "./auth/logins.js";
import type { TokenSource } from "./auth/tokens.js";
import { createUpstream } from "./codex/http.js";
import { readLambdaConfig } from "./config.js";
import { ProxyError, toProxyError } from "./errors.js";
import { budgetFrom, respondWithin } from "./http/deadline.js";
import { headerMap } from "./http/headers.js";
import type { Reply } from "./http/reply.js";
import { buildRequest, type AppRequest, type RequestParts } from "./http/request.js";
import { writeBody } from "./http/sink.js";
import { createLogger } from "./log.js";
import { requestMetrics } from "./observe/emf.js";

/** Only for a configuration error, before LOG_LEVEL has been validated. */
const bootLog = createLogger("info");
let log = bootLog;

/**
 * What a first request would otherwise wait for, fetched during init (bounded; a failure is redone
 * by the request, with its error), by name for the log line that says how init went.
 */
let warmUp: Record<string, Promise<unknown>> = {};
let warmUpStarted = 0;
const WARM_UP_MS = 5_000;

/**
 * Which execution environment this is, for /status: the id at the end of its log stream's name
 * (`2026/12/06/[$LATEST]0123abcd…`), which CloudWatch shows too; a random one when there is none.
 */
function instanceName(): string {
  const stream = process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? "";
  const id = /\]([0-9a-f]{8,})$/.exec(stream)?.[1];
  return id ? id.slice(0, 12) : randomUUID().slice(0, 8);
}

/** Built once per cold start; a configuration error is served as a clear 500 instead of a crash loop. */
let errorReply: (path: string, error: ProxyError) => Reply = (_, error) => error.toReply();
const app: App | ProxyError = (() => {
  try {
    const config = readLambdaConfig(process.env);
    log = createLogger(config.logLevel);
    const secrets = new SecretsManagerClient({});
    const upstream = createUpstream(config.upstreamProxyUrl);
    const tokens: TokenSource =
      config.tokens.kind === "secret"
        ? new SecretTokenSource(secrets, config.tokens.secretId, { log })
        : FileTokenSource.load(config.tokens.path, { refresh: { url: config.refreshUrl, fetch: upstream.fetch }, log });
    // The default login, then each of CODEX_LOGINS in a secret of its own.
    const logins: Login[] = [
      { name: "default", source: tokens },
      ...config.moreLogins.map(({ name, secretId }) => ({ name, source: new SecretTokenSource(secrets, secretId, { log }) })),
    ];
    const names = logins.map((l) => l.name);
    const clientKeys: ClientKeyCheck =
      config.keys.kind === "secret" ? new SecretClientKeys(secrets, config.keys.secretId, log, undefined, undefined, names) : new StaticClientKeys(config.keys.keys);
    const {
      handle,
      models,
      errorReply: routeError,
    } = createApp({
      tokens,
      logins,
      clientKeys,
      upstream,
      config,
      log,
      onRequestEnd: requestMetrics(),
      runtime: { kind: "lambda", instance: instanceName() },
    });
    errorReply = routeError;
    // The login and the model catalog (which also opens the upstream connection), and the client keys.
    warmUpStarted = Date.now();
    warmUp = { "login and model catalog": tokens.get().then(() => models.list()), ...(clientKeys.warm ? { "client keys": clientKeys.warm() } : {}) };
    return handle;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    bootLog.error("configuration error; every request will fail until it is fixed", { error: message });
    return new ProxyError(500, `The proxy is misconfigured: ${message}`, { code: "configuration_error" });
  }
})();

// Lambda's init phase runs this module to its end, top-level awaits included, before the first event.
await (async () => {
  if (app instanceof ProxyError) return;
  const failed: string[] = [];
  const settled = Promise.all(Object.entries(warmUp).map(([what, done]) => done.catch(() => void failed.push(what))));
  const outcome = await Promise.race([
    settled.then(() => (failed.length ? "incomplete" : "done")),
    new Promise<string>((resolve) => setTimeout(() => resolve("timed out"), WARM_UP_MS).unref()),
  ]);
  // Lambda's REPORT line gives the init's whole duration; this says how much of it was the fetches and how they went.
  log.info("ready", {
    warm_up: outcome,
    ...(failed.length ? { warm_up_failed: failed.join(", ") } : {}),
    warm_up_ms: Date.now() - warmUpStarted,
    process_ms: Math.round(process.uptime() * 1000),
  });
})();

export function toRequest(event: LambdaFunctionURLEvent, signal: AbortSignal): AppRequest | ProxyError {
  const http = (event as Partial<LambdaFunctionURLEvent> | null)?.requestContext?.http;
  if (typeof http?.method !== "string") {
    return new ProxyError(400, "This function serves HTTP requests through its Function URL; the event it was invoked with is not one.", { code: "invalid_event" });
  }
  const record: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) if (value !== undefined) record[name.toLowerCase()] = value;
  if (event.cookies?.length) record.cookie = event.cookies.join("; ");
  const headers = headerMap(record);
  const query = event.rawQueryString ? `?${event.rawQueryString}` : "";
  const parts: RequestParts = {
    method: http.method,
    scheme: "https",
    host: headers.get("host") ?? event.requestContext.domainName ?? "localhost",
    target: `${event.rawPath ?? "/"}${query}`,
    headers,
    signal,
  };
  if (typeof event.body === "string") parts.body = event.isBase64Encoded ? Buffer.from(event.body, "base64") : event.body;
  return buildRequest(parts);
}

async function respond(event: LambdaFunctionURLEvent, context: Context): Promise<Reply> {
  const path = event.rawPath ?? "/";
  if (app instanceof ProxyError) return errorReply(path, app);
  const abort = new AbortController();
  const remaining = context.getRemainingTimeInMillis();
  const budget = budgetFrom(remaining);
  log.debug("invocation", { request_id: context.awsRequestId, remaining_ms: remaining, budget_ms: budget });
  try {
    const request = toRequest(event, abort.signal);
    if (request instanceof ProxyError) return errorReply(path, request);
    // The app ends a request within the budget in its route's terms; this is the last guard.
    const render = (error: ProxyError) => errorReply(path, error);
    return await respondWithin(app(request, { budgetMs: budget }), budget + Math.min(500, Math.max(1, remaining - budget) / 2), abort, render);
  } catch (err) {
    log.error("unexpected failure in the handler", { request_id: context.awsRequestId, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    return errorReply(path, toProxyError(err));
  }
}

async function write(reply: Reply, responseStream: awslambda.HttpResponseStream): Promise<void> {
  const out = awslambda.HttpResponseStream.from(responseStream, { statusCode: reply.status, headers: reply.headers });
  out.write(""); // sends the prelude (status and headers) even for an empty body
  await writeBody(reply, out);
}

export const handler = awslambda.streamifyResponse(async (event: LambdaFunctionURLEvent, responseStream, context: Context) => {
  // Keep-alive sockets of the upstream pool must not hold the invocation open.
  context.callbackWaitsForEmptyEventLoop = false;
  try {
    await write(await respond(event, context), responseStream);
  } catch (err) {
    log.error("writing the response failed", { request_id: context.awsRequestId, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    if (!responseStream.writableEnded) responseStream.end();
  }
});
