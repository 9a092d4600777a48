/**
 * Upstream calls: the model turn (`POST {base}/responses`, SSE) and the account's model catalog
 * (`GET {base}/models`). Headers follow the Codex CLI's own set (docs/backend.md
 * §1.2): besides being what the backend expects, it is what lets server networks past Cloudflare.
 * Redirects are never followed: one would re-send the conversation and the account id to whatever
 * host it names.
 */
import { createHash } from "node:crypto";
import { arch, release, type } from "node:os";
import { ProxyError } from "../errors.js";
import type { Credentials } from "../auth/tokens.js";
import { VERSION } from "../version.js";
import { HeadersTimeout, type UpstreamReply, type SendInit, type Upstream } from "./http.js";
import type { HeaderMap } from "../http/headers.js";
import type { Feed } from "../http/feed.js";
import { isChallenge } from "./errors.js";
import { REMOTE_COMPACTION_FEATURE, usesRemoteCompaction } from "./compaction.js";
import { UpstreamSlots } from "./slots.js";
import { describe, idleTimeoutError, MAX_EVENT_BYTES, mib, readEvents } from "./sse.js";
import type { CodexEvent, UpstreamRequest } from "./types.js";

export interface CodexClientConfig {
  codexBaseUrl: string;
  openaiBaseUrl: string;
  clientVersion: string;
  idleTimeoutMs: number;
  upstream: Upstream;
  /** UPSTREAM_MAX_CONNECTIONS; no cap when undefined */
  maxConnections?: number;
  /** how long a request waits for a free upstream connection before a 503 */
  connectionWaitMs?: number;
  /** the pause before the one retry of a failed start; jittered up to twice this */
  retryDelayMs?: number;
  maxEventBytes?: number;
  /** the most event data one answer may bring (sse.ts) */
  maxAnswerBytes: number;
}

export type OpenResult = { ok: true; events: Feed<CodexEvent>; headers: HeaderMap } | { ok: false; status: number; headers: HeaderMap; bodyText: string };

export interface CatalogModel {
  slug: string;
  visibility?: string;
  priority?: number;
  supported_reasoning_levels?: { effort: string }[];
}

export const MAX_ERROR_BODY_BYTES = 1024 * 1024;
/** Backend answers worth one more try before anything reached the client. */
const RETRY_STATUSES = new Set([502, 503, 504]);

export class CodexClient {
  private readonly userAgent: string;
  private readonly slots: UpstreamSlots;

  constructor(private readonly config: CodexClientConfig) {
    this.userAgent = `codex_cli_rs/${config.clientVersion} (${type()} ${release()}; ${arch()}) codex-openai-proxy/${VERSION}`;
    this.slots = new UpstreamSlots(config.maxConnections, config.connectionWaitMs ?? 10_000);
  }

  baseUrl(credentials: Credentials): string {
    return credentials.kind === "chatgpt" ? this.config.codexBaseUrl : this.config.openaiBaseUrl;
  }

  headers(credentials: Credentials, sessionId?: string): Record<string, string> {
    if (credentials.kind === "apikey") {
      return { authorization: `Bearer ${credentials.apiKey}`, "user-agent": this.userAgent };
    }
    const headers: Record<string, string> = {
      authorization: `Bearer ${credentials.accessToken}`,
      "chatgpt-account-id": credentials.accountId,
      originator: "codex_cli_rs",
      version: this.config.clientVersion,
      "openai-beta": "responses=experimental",
      "user-agent": this.userAgent,
    };
    if (sessionId) headers.session_id = sessionId;
    return headers;
  }

  /**
   * Starts a model turn. A non-2xx answer is returned, not thrown, so the caller may retry a 401.
   * A connection error or a 502/503/504 is retried once here, since nothing has reached the client.
   * `rawEvents`: each event keeps its data as the backend sent it (codex/events.ts RAW_DATA).
   */
  async open(request: UpstreamRequest, credentials: Credentials, signal: AbortSignal, { rawEvents = false } = {}): Promise<OpenResult> {
    const body = withHeaderSafeCacheKey(request);
    const url = `${this.baseUrl(credentials)}/responses`;
    const init: SendInit = {
      method: "POST",
      headers: {
        ...this.headers(credentials, body.prompt_cache_key),
        ...(usesRemoteCompaction(body.input) ? { "x-codex-beta-features": REMOTE_COMPACTION_FEATURE } : {}),
        "content-type": "application/json",
        accept: "text/event-stream",
      },
      body: JSON.stringify(body),
      signal,
    };
    const release = await this.slots.acquire(signal);
    let handedOver = false;
    try {
      for (let attempt = 0; ; attempt++) {
        const retry = attempt === 0;
        let res: UpstreamReply;
        try {
          res = await this.send(url, init);
        } catch (err) {
          if (retry && err instanceof ProxyError && err.code === "upstream_unreachable") {
            await this.pause(signal);
            continue;
          }
          throw err;
        }
        if (res.status >= 200 && res.status <= 299) {
          handedOver = true;
          const events = readEvents(res.body, {
            idleTimeoutMs: this.config.idleTimeoutMs,
            maxEventBytes: this.config.maxEventBytes ?? MAX_EVENT_BYTES,
            maxAnswerBytes: this.config.maxAnswerBytes,
            keepRaw: rawEvents,
            onClose: release,
          });
          return { ok: true, events, headers: res.headers };
        }
        const bodyText = await readCapped(res, MAX_ERROR_BODY_BYTES);
        if (retry && RETRY_STATUSES.has(res.status) && !isChallenge(res.status, res.headers)) {
          await this.pause(signal);
          continue;
        }
        return { ok: false, status: res.status, headers: res.headers, bodyText };
      }
    } finally {
      if (!handedOver) release();
    }
  }

  async models(credentials: Credentials, signal: AbortSignal): Promise<CatalogModel[]> {
    const url = `${this.config.codexBaseUrl}/models?client_version=${encodeURIComponent(this.config.clientVersion)}`;
    const res = await this.send(url, { method: "GET", headers: { ...this.headers(credentials), accept: "application/json" }, signal });
    if (res.status !== 200) {
      res.body.destroy();
      throw new Error(`model catalog answered HTTP ${res.status}`);
    }
    const doc = JSON.parse(await readCapped(res, 8 * MAX_ERROR_BODY_BYTES)) as { models?: unknown };
    if (!Array.isArray(doc.models)) throw new Error("model catalog has no models array");
    return doc.models.filter((m): m is CatalogModel => typeof m === "object" && m !== null && typeof (m as CatalogModel).slug === "string");
  }

  /** The backend must send its headers within the idle timeout; a silent server is a 504, not a hang. */
  private async send(url: string, init: SendInit): Promise<UpstreamReply> {
    try {
      return await this.config.upstream.send(url, { ...init, headersTimeoutMs: this.config.idleTimeoutMs });
    } catch (err) {
      if (init.signal.aborted) throw err;
      if (err instanceof HeadersTimeout) throw idleTimeoutError(this.config.idleTimeoutMs, "no response headers");
      throw new ProxyError(502, `Cannot reach the Codex backend at ${new URL(url).host} (${describe(err)}). Check the network, or CODEX_BASE_URL.`, {
        code: "upstream_unreachable",
        cause: err,
      });
    }
  }

  private pause(signal: AbortSignal): Promise<void> {
    const base = this.config.retryDelayMs ?? 250;
    const ms = base + Math.random() * base;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** Reads a body as text, refusing to hold more than `limit` bytes of it. */
export async function readCapped(res: UpstreamReply, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size > limit) {
        res.body.destroy();
        throw new ProxyError(502, `The Codex backend answered HTTP ${res.status} with a body larger than ${mib(limit)}; it was not read. Retry in a moment.`, {
          code: "upstream_response_too_large",
        });
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof ProxyError) throw err;
    return Buffer.concat(chunks).toString("utf8"); // a body cut short still says what it said
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The cache key also goes out as the `session_id` header, so a client key that cannot be a header
 * value (non-ASCII, control characters, very long) is replaced by its digest in both places.
 */
function withHeaderSafeCacheKey(body: UpstreamRequest): UpstreamRequest {
  const key = body.prompt_cache_key;
  if (key === undefined || /^[\x21-\x7e]{1,200}$/.test(key)) return body;
  return { ...body, prompt_cache_key: createHash("sha256").update(key, "utf8").digest("hex") };
}
