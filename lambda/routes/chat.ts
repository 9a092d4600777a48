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
import type { ResponsesRequest } from "../codex/types.js";
import type { LogFields } from "../log.js";

export interface ChatContext {
  tokens: TokenSource;
  codex: CodexClient;
  models: ModelCatalog;
  now: () => number;
  maxBodyBytes: number;
  keepAliveMs: number;
  /** adds fields to the request's log line; `ended` is called when a streamed body finishes */
  annotate: (fields: LogFields) => void;
  ended: (fields: LogFields) => void;
}

export async function handleChat(request: Request, ctx: ChatContext): Promise<Response> {
  const raw = await readJsonBody(request, ctx.maxBodyBytes);
  const requested = (raw as { model?: unknown } | null)?.model;
  const resolved = await ctx.models.resolve(requested);
  const converted = convertChatRequest(raw, { model: resolved.model, ...(resolved.effort ? { aliasEffort: resolved.effort } : {}) });
  ctx.annotate({ model: resolved.model, stream: converted.stream, tools: converted.body.tools?.length ?? 0 });

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
    const frames = framesOf(events, converter);
    const first = await frames.next();
    if (first.done) throw toProxyError(new Error("stream produced no frames"));
    if (first.value.kind === "error") {
      await frames.return(undefined);
      throw first.value.error;
    }

    if (!converted.stream) {
      const response = await collect(first.value, frames);
      request.signal.removeEventListener("abort", onClientGone);
      return response;
    }

    return new Response(
      sseBody([first.value], frames, {
        keepAliveMs: ctx.keepAliveMs,
        onEnd: (outcome) => {
          if (outcome === "cancelled") upstreamAbort.abort();
          request.signal.removeEventListener("abort", onClientGone);
          ctx.ended({ outcome });
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
  if (!result.ok) throw mapUpstreamHttpError(result, ctx.now(), ctx.tokens.loginHint);
  return result.events;
}

async function* framesOf(events: AsyncGenerator<CodexEvent>, converter: ChatStreamConverter): AsyncGenerator<StreamFrame> {
  try {
    for await (const event of events) {
      yield* converter.push(event);
      if (converter.isFinished) return;
    }
    yield* converter.end();
  } catch (err) {
    yield { kind: "error", error: toProxyError(err) };
  }
}

async function collect(first: StreamFrame, frames: AsyncGenerator<StreamFrame>): Promise<Response> {
  const builder = new CompletionBuilder();
  for (let frame: StreamFrame | undefined = first; frame; ) {
    if (frame.kind === "error") throw frame.error;
    if (frame.kind === "done") {
      return new Response(JSON.stringify(builder.build()), { status: 200, headers: { "content-type": "application/json" } });
    }
    builder.add(frame.chunk);
    const next = await frames.next();
    frame = next.done ? undefined : next.value;
  }
  throw toProxyError(new Error("stream ended without a terminal frame"));
}
