/**
 * POST /v1/chat/completions. The HTTP status is committed only once the upstream has accepted the
 * request (its first non-handshake event): until then any failure — a 401, a usage limit, a
 * validation error, even one that arrives inside a 200 stream — is still a real error status. After
 * that, failures travel in-band and the stream ends without [DONE].
 */
import { randomBytes } from "node:crypto";
import type { ModelCatalog } from "../models/catalog.js";
import type { CodexClient } from "../codex/client.js";
import { mapUpstreamHttpError } from "../codex/errors.js";
import type { CodexEvent } from "../codex/types.js";
import { CompletionBuilder } from "../convert/complete.js";
import { convertChatRequest } from "../convert/request.js";
import { ChatStreamConverter, type StreamFrame } from "../convert/stream.js";
import { toProxyError } from "../errors.js";
import type { TokenSource } from "../auth/tokens.js";
import { readJsonBody } from "../http/body.js";
import { SSE_HEADERS, sseBody } from "../http/sse.js";
import type { ResponsesRequest, ResponseUsage } from "../codex/types.js";
import type { Notes } from "../app.js";
import { ProxyError } from "../errors.js";
import type { LogFields } from "../log.js";

export interface ChatContext extends Notes {
  tokens: TokenSource;
  codex: CodexClient;
  models: ModelCatalog;
  now: () => number;
  maxBodyBytes: number;
  keepAliveMs: number;
  maxAnswerBytes: number;
}

export async function handleChat(request: Request, ctx: ChatContext): Promise<Response> {
  const raw = await readJsonBody(request, ctx.maxBodyBytes);
  const requested = (raw as { model?: unknown } | null)?.model;
  const resolved = await ctx.models.resolve(requested);
  const converted = convertChatRequest(raw, { model: resolved.model, ...(resolved.effort ? { aliasEffort: resolved.effort } : {}) });
  const started = ctx.now();
  ctx.annotate({ dialect: "chat", model: resolved.model, stream: converted.stream, tools: converted.body.tools?.length ?? 0 });

  // Our own controller: the client's disconnect aborts it, and so does a cancelled response body.
  const upstreamAbort = new AbortController();
  const onClientGone = () => upstreamAbort.abort();
  request.signal.addEventListener("abort", onClientGone, { once: true });

  try {
    const events = await openUpstream(converted.body, ctx, upstreamAbort.signal);
    const converter = new ChatStreamConverter({
      id: `chatcmpl-${randomBytes(12).toString("hex")}`,
      created: Math.floor(ctx.now() / 1000),
      model: requested as string,
      includeUsage: converted.stream ? converted.includeUsage : true,
      toolNames: converted.toolNames,
      now: ctx.now,
    });
    const usage: { value?: ResponseUsage } = {};
    const frames = framesOf(events, converter, usage, ctx);
    const first = await frames.next();
    if (first.done) throw toProxyError(new Error("stream produced no frames"));
    if (first.value.kind === "error") {
      await frames.return(undefined);
      throw first.value.error;
    }
    ctx.annotate({ ttfb_ms: ctx.now() - started });

    if (!converted.stream) {
      const response = await collect(first.value, frames, ctx.maxAnswerBytes);
      request.signal.removeEventListener("abort", onClientGone);
      ctx.annotate(usageFields(usage.value));
      return response;
    }

    return new Response(
      sseBody([first.value], frames, {
        keepAliveMs: ctx.keepAliveMs,
        onEnd: (outcome, error) => {
          if (outcome === "cancelled") upstreamAbort.abort();
          request.signal.removeEventListener("abort", onClientGone);
          ctx.ended({ outcome, ...(error ? { error_code: error.code ?? error.type, error_status: error.status } : {}), ...usageFields(usage.value) });
        },
      }),
      { status: 200, headers: SSE_HEADERS },
    );
  } catch (err) {
    request.signal.removeEventListener("abort", onClientGone);
    upstreamAbort.abort();
    throw err;
  }
}

async function openUpstream(body: ResponsesRequest, ctx: ChatContext, signal: AbortSignal): Promise<AsyncGenerator<CodexEvent>> {
  let credentials = await ctx.tokens.get();
  let result = await ctx.codex.open(body, credentials, signal);
  if (!result.ok && result.status === 401) {
    // Nothing has been sent to the client yet, so a rejected login can be renewed and retried once.
    const fresh = await ctx.tokens.recover(credentials);
    if (fresh) {
      credentials = fresh;
      result = await ctx.codex.open(body, credentials, signal);
    }
  }
  ctx.upstreamHeaders(result.headers);
  if (!result.ok) throw mapUpstreamHttpError(result, ctx.now(), ctx.tokens.loginHint);
  return result.events;
}

async function* framesOf(
  events: AsyncGenerator<CodexEvent>,
  converter: ChatStreamConverter,
  usage: { value?: ResponseUsage },
  ctx: Pick<ChatContext, "unexpected">,
): AsyncGenerator<StreamFrame> {
  try {
    for await (const event of events) {
      if ((event.type === "response.completed" || event.type === "response.incomplete") && event.response?.usage) usage.value = event.response.usage;
      yield* converter.push(event);
      if (converter.isFinished) return;
    }
    yield* converter.end();
  } catch (err) {
    if (!(err instanceof ProxyError)) ctx.unexpected(err);
    yield { kind: "error", error: toProxyError(err) };
  }
}

function usageFields(usage: ResponseUsage | undefined): LogFields {
  if (!usage) return {};
  return {
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
    cached_tokens: usage.input_tokens_details?.cached_tokens ?? undefined,
    reasoning_tokens: usage.output_tokens_details?.reasoning_tokens ?? undefined,
  };
}

async function collect(first: StreamFrame, frames: AsyncGenerator<StreamFrame>, maxAnswerBytes: number): Promise<Response> {
  const builder = new CompletionBuilder(maxAnswerBytes);
  for (let frame: StreamFrame | undefined = first; frame; ) {
    if (frame.kind === "error") throw frame.error;
    if (frame.kind === "done") {
      return new Response(JSON.stringify(builder.build()), { status: 200, headers: { "content-type": "application/json" } });
    }
    if (!builder.add(frame.chunk)) {
      await frames.return(undefined);
      throw new ProxyError(502, `The answer grew past ${Math.round(maxAnswerBytes / 1024 / 1024)} MiB, more than a non-streamed response may hold; it was abandoned. Ask with "stream": true for long answers.`, {
        code: "answer_too_large",
      });
    }
    const next = await frames.next();
    frame = next.done ? undefined : next.value;
  }
  throw toProxyError(new Error("stream ended without a terminal frame"));
}
