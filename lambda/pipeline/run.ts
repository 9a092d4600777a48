/**
 * One model turn for any dialect: read the body (limits), let the dialect convert it, resolve the
 * model, open the upstream (tokens, one renewal on a 401), and turn its events into the dialect's
 * frames — streamed as SSE with keep-alives and backpressure, or folded into one JSON answer.
 *
 * The HTTP status is committed only at the answer's first frame, which comes only once the upstream
 * has really accepted the request (stream-life.ts): until then any failure — a 401, a usage limit, a
 * validation error arriving inside a 200 stream — is still a real error status. After that,
 * failures travel in-band and the stream ends without its success terminator. A time budget, when
 * the runtime gives one (Lambda), ends the request the same way before the runtime would kill it.
 */
import type { Login, LoginPool } from "../auth/logins.js";
import type { Credentials } from "../auth/tokens.js";
import { withoutEncryptedReasoning } from "../codex/body.js";
import { readRateLimits, windowResetsAt, type RateLimits } from "../codex/rate-limits.js";
import type { CodexClient } from "../codex/client.js";
import { mapUpstreamHttpError } from "../codex/errors.js";
import type { CodexEvent } from "../codex/types.js";
import { ProxyError, toProxyError } from "../errors.js";
import { deadlineError } from "../http/deadline.js";
import { readJsonBody, type BodyBudget } from "../http/body.js";
import { jsonReply, type Reply } from "../http/reply.js";
import type { HeaderMap } from "../http/headers.js";
import { mapFeed, nextBatch, type Feed } from "../http/feed.js";
import { sseReply } from "../http/sse.js";
import type { LogFields } from "../log.js";
import type { ModelCatalog } from "../models/catalog.js";
import { isErrorFrame } from "../http/frame.js";
import type { Conversion, DataFrame, Dialect, ErrorFrame, Frame } from "./dialect.js";
import { malformedEvent, StreamLife, type AnswerUsage } from "./stream-life.js";
import type { AppRequest } from "../http/request.js";

/** What a turn learned, for the request's log line, its metrics and its usage headers. */
export interface TurnFacts {
  /** fields of the request's log line: dialect, model, time to first byte, tokens, … */
  fields: LogFields;
  /** the upstream answer's headers, once it answered, the usage windows read from them, and the login they are about */
  upstreamHeaders?: HeaderMap;
  limits?: RateLimits | undefined;
  upstreamLogin?: string;
}

/** A turn's answer and what it learned. */
export interface Turn {
  reply: Reply;
  facts: TurnFacts;
  /** a streamed answer: resolves, when its body has ended, with the fields learned meanwhile */
  ended?: Promise<LogFields>;
}

/** A turn that failed before its answer began: the error, and what the turn had learned by then. */
export class TurnFailed extends Error {
  constructor(
    readonly error: unknown,
    readonly facts: TurnFacts,
  ) {
    super("the turn failed");
  }
}

export interface PipelineContext {
  logins: LoginPool;
  /** the logins the request's key may use; all when unset */
  allowedLogins?: readonly string[];
  codex: CodexClient;
  models: ModelCatalog;
  now: () => number;
  maxBodyBytes: number;
  /** what the request bodies of all requests may hold at once */
  bodies: BodyBudget;
  keepAliveMs: number;
  /** the request must be over within this many ms (Lambda); none locally */
  budgetMs?: number;
  /** something failed that is not a ProxyError: a bug, logged with its stack */
  unexpected(err: unknown): void;
}

/** The turn's answer; a failure before the answer began is thrown as a TurnFailed. */
export async function runTurn<D extends DataFrame, E extends ErrorFrame>(dialect: Dialect<D, E>, request: AppRequest, ctx: PipelineContext): Promise<Turn> {
  const started = ctx.now();
  const facts: TurnFacts = { fields: {} };
  // Our own controller: the client's disconnect aborts it, and so do a cancelled body and the budget.
  const upstreamAbort = new AbortController();
  const onClientGone = () => upstreamAbort.abort();
  request.signal.addEventListener("abort", onClientGone, { once: true });
  const budget = ctx.budgetMs === undefined ? undefined : new Budget(ctx.budgetMs, upstreamAbort);
  const within = <T>(pending: Promise<T>): Promise<T> => (budget ? budget.race(pending) : pending);
  const release = () => {
    request.signal.removeEventListener("abort", onClientGone);
    budget?.cancel();
  };

  // Until the frames are handed to the SSE writer they are this function's to close: whatever way it
  // leaves (an error frame, a non-streamed answer complete, a failure), the upstream reader is left
  // paused, and closing it gives back its connection slot, idle timer and body.
  let frames: Feed<Frame<D, E>> | undefined;
  // The body's share of the process-wide budget, given back when this function is done with it.
  const hold = ctx.bodies.hold();
  try {
    const raw = await readJsonBody(request, ctx.maxBodyBytes, hold);
    // With one login, it first, waited for once: the model catalog needs it too, and a refresh in
    // progress must cost a request one bounded wait, not one for the catalog and another for the turn.
    if (ctx.logins.size === 1) await within(ctx.logins.primary.source.get());
    const requested = (raw as { model?: unknown } | null)?.model;
    const resolved = await within(ctx.models.resolve(requested, (name) => dialect.modelFallback?.(name)));
    const converted = dialect.convert(raw, resolved);
    Object.assign(facts.fields, { dialect: dialect.name, model: resolved.model, stream: converted.stream, ...converted.fields });

    // The conversation's login, or the next one when it rests or is dead, before the first byte.
    const route = ctx.logins.route(ctx.allowedLogins, converted.body.prompt_cache_key);
    let life: StreamLife<D, E>;
    let head: Frame<D, E>[] = [];
    let failovers = 0;
    for (;;) {
      const { login, credentials } = await within(route.next());
      const body = route.moves(login) ? withoutEncryptedReasoning(converted.body) : converted.body;
      const open = (sent: typeof body) => within(openAnswer(sent, credentials, login, converted, String(requested), ctx, upstreamAbort.signal, facts, (f) => (frames = f)));
      try {
        let opened: { life: StreamLife<D, E>; head: Frame<D, E>[] };
        try {
          opened = await open(body);
        } catch (err) {
          // With several logins, reasoning minted under another one (a restart forgot the move) is
          // dropped, once. A single login keeps the rule of old: the client hears it, never a retry.
          const stripped = withoutEncryptedReasoning(body);
          if (ctx.logins.size === 1 || !(err instanceof ProxyError) || err.code !== "invalid_encrypted_content" || stripped === body) throw err;
          opened = await open(stripped);
        }
        life = opened.life;
        head = opened.head;
        route.served(login);
        restIfExhausted(ctx.logins, login, facts.limits, ctx.now());
        if (ctx.logins.size > 1) Object.assign(facts.fields, { login: login.name, ...(failovers > 0 ? { failovers } : {}) });
        break;
      } catch (err) {
        frames?.close();
        frames = undefined;
        const retryAfter = err instanceof ProxyError ? Number(err.headers["retry-after"]) : Number.NaN;
        if (!route.failOver(login, err, Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined)) throw err;
        failovers++;
      }
    }
    const usage = life.usage;
    const answer = frames as unknown as Feed<Frame<D, E>>; // set by the login that served
    facts.fields.ttfb_ms = ctx.now() - started;

    if (!converted.stream) {
      const collector = converted.collector();
      await within(collect(head, answer, collector));
      release();
      Object.assign(facts.fields, usageFields(usage));
      return { reply: jsonReply(200, collector.result()), facts };
    }

    frames = undefined; // the writer's now: it ends them when the stream ends
    let ended: (fields: LogFields) => void = () => {};
    const reply = sseReply(head, answer, {
      encode: (frame) => dialect.encode(frame),
      keepAliveMs: ctx.keepAliveMs,
      ...(dialect.keepAlive ? { keepAlive: dialect.keepAlive } : {}),
      ...(budget ? { expired: budget.expired, onExpired: () => life.fail(deadlineError(budget.ms)) } : {}),
      onEnd: (outcome, error) => {
        if (outcome === "cancelled") upstreamAbort.abort();
        release();
        ended({ outcome, ...(error ? { error_code: error.code ?? error.type, error_status: error.status } : {}), ...usageFields(usage) });
      },
      onCancel: () => upstreamAbort.abort(),
    });
    return { reply, facts, ended: new Promise((resolve) => (ended = resolve)) };
  } catch (err) {
    release();
    upstreamAbort.abort();
    throw new TurnFailed(err, facts);
  } finally {
    hold.release();
    frames?.close();
  }
}

/** Every data frame of a non-streamed answer into `collector`, up to its end; its error frame is thrown. */
function collect<D extends DataFrame, E extends ErrorFrame>(head: Frame<D, E>[], answer: Feed<Frame<D, E>>, collector: { add(frame: D): void }): Promise<void> {
  return new Promise((resolve, reject) => {
    /** true at the answer's last frame */
    const add = (batch: Frame<D, E>[]): boolean => {
      for (const frame of batch) {
        if (isErrorFrame(frame)) {
          reject(frame.error);
          return true;
        }
        if (frame.kind === "done") {
          resolve();
          return true;
        }
        collector.add(frame as D);
      }
      return false;
    };
    if (add(head)) return;
    answer.listen({
      batch: add,
      end: (error) => reject(toProxyError(error ?? new Error("stream ended without a terminal frame"))),
    });
  });
}

/**
 * The answer on one login, up to its first frames: the upstream opened (one renewal on a 401), and
 * read until the backend has accepted the request. A failure before that is thrown, still a real
 * status (or a reason to try the next login). `hand` receives the frames' feed at once, so the
 * caller can close it whatever happens.
 */
async function openAnswer<D extends DataFrame, E extends ErrorFrame>(
  body: Parameters<CodexClient["open"]>[0],
  start: Credentials,
  login: Login,
  converted: Conversion<D, E>,
  requestedModel: string,
  ctx: PipelineContext,
  signal: AbortSignal,
  facts: TurnFacts,
  hand: (frames: Feed<Frame<D, E>>) => void,
): Promise<{ life: StreamLife<D, E>; head: Frame<D, E>[] }> {
  let credentials = start;
  const reading = { rawEvents: converted.rawEvents === true };
  let result = await ctx.codex.open(body, credentials, signal, reading);
  if (!result.ok && result.status === 401) {
    // Nothing has been sent to the client yet, so a rejected login can be renewed and retried once.
    const fresh = await login.source.recover(credentials);
    if (fresh) {
      credentials = fresh;
      result = await ctx.codex.open(body, credentials, signal, reading);
    }
  }
  facts.upstreamHeaders = result.headers;
  facts.limits = readRateLimits(result.headers, ctx.now());
  facts.upstreamLogin = login.name;
  if (!result.ok) throw mapUpstreamHttpError(result, ctx.now(), loginHint(login, ctx.logins));
  const life = new StreamLife(converted.mapper({ requestedModel, now: ctx.now }), ctx.now);
  const frames = framesOf(result.events, life, ctx);
  hand(frames);
  const head = await nextBatch(frames);
  if (head === undefined) throw toProxyError(new Error("stream produced no frames"));
  const first = head[0] as Frame<D, E>;
  if (isErrorFrame(first)) throw first.error;
  return { life, head };
}

/** How to renew a login, naming it when there are several. */
function loginHint(login: Login, logins: LoginPool): string {
  return logins.size > 1 ? `login '${login.name}': ${login.source.loginHint}` : login.source.loginHint;
}

/** A window the backend reports as used up: the login rests until it resets, so new requests go elsewhere. */
function restIfExhausted(logins: LoginPool, login: Login, limits: RateLimits | undefined, now: number): void {
  if (logins.size === 1) return;
  for (const window of [limits?.primary, limits?.secondary]) {
    if (window?.used_percent === undefined || window.used_percent < 100) continue;
    logins.rest(login.name, windowResetsAt(window, now));
  }
}

/**
 * The answer's frames, a batch per batch of upstream events; a failure is the batch's last frame.
 * At the answer's end the upstream read is closed: nothing follows it.
 */
function framesOf<D extends DataFrame, E extends ErrorFrame>(events: Feed<CodexEvent>, life: StreamLife<D, E>, ctx: Pick<PipelineContext, "unexpected">): Feed<Frame<D, E>> {
  const framesOfEvent = (event: CodexEvent): Frame<D, E>[] => {
    try {
      return life.push(event);
    } catch (err) {
      // A shape the mapper could not read (or a bug) ends the stream; what the batch made before it still goes out first.
      if (!(err instanceof ProxyError)) ctx.unexpected(err);
      return [life.fail(err instanceof ProxyError ? err : malformedEvent(event.type))];
    }
  };
  return mapFeed<CodexEvent, Frame<D, E>>(
    events,
    (batch) => {
      let frames: Frame<D, E>[];
      // One event per read is the common case (an answer streamed as it is written): its frames go on as they are.
      if (batch.length === 1) frames = framesOfEvent(batch[0] as CodexEvent);
      else {
        frames = [];
        for (const event of batch) {
          for (const frame of framesOfEvent(event)) frames.push(frame);
          if (life.isFinished) break;
        }
      }
      if (life.isFinished) events.close();
      return frames;
    },
    (error) => {
      if (error === undefined) return life.end();
      if (!(error instanceof ProxyError)) ctx.unexpected(error);
      return life.isFinished ? [] : [life.fail(toProxyError(error))];
    },
  );
}

function usageFields({ tokens: usage, searches }: AnswerUsage): LogFields {
  const counted = searches > 0 ? { web_searches: searches } : {};
  if (!usage) return counted;
  return {
    ...counted,
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
    cached_tokens: usage.input_tokens_details?.cached_tokens ?? undefined,
    reasoning_tokens: usage.output_tokens_details?.reasoning_tokens ?? undefined,
  };
}

/** The request's time budget: once it runs out the upstream is aborted and waiting gives up. */
class Budget {
  readonly expired: Promise<"expired">;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly ms: number,
    abort: AbortController,
  ) {
    this.expired = new Promise((resolve) => {
      this.timer = setTimeout(() => {
        // The reason reaches the upstream reader, so a stream it ends says why: the budget, not a lost connection.
        abort.abort(deadlineError(ms));
        resolve("expired");
      }, ms);
    });
  }

  /** `pending`, or a 504 once the budget is spent. */
  async race<T>(pending: Promise<T>): Promise<T> {
    const result = await Promise.race([pending, this.expired]);
    if (result === "expired") {
      pending.catch(() => {}); // it fails with the abort; nobody waits for it any more
      throw deadlineError(this.ms);
    }
    return result as T;
  }

  cancel(): void {
    clearTimeout(this.timer);
  }
}
