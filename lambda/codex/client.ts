/**
 * Upstream calls: the model turn (`POST {base}/responses`, SSE) and the account's model catalog
 * (`GET {base}/models`). Headers follow the Codex CLI's own set (shared/reference/codex-backend.md
 * §1.2): besides being what the backend expects, it is what lets server networks past Cloudflare.
 */
import { arch, release, type } from "node:os";
import { ProxyError } from "../errors.js";
import type { Credentials } from "../auth/tokens.js";
import { VERSION } from "../version.js";
import type { Fetch } from "./http.js";
import { describe, readEvents } from "./sse.js";
import type { CodexEvent, ResponsesRequest } from "./types.js";

export interface CodexClientConfig {
  codexBaseUrl: string;
  openaiBaseUrl: string;
  clientVersion: string;
  idleTimeoutMs: number;
  fetch: Fetch;
}

export type OpenResult =
  | { ok: true; events: AsyncGenerator<CodexEvent> }
  | { ok: false; status: number; headers: Headers; bodyText: string };

export interface CatalogModel {
  slug: string;
  visibility?: string;
  priority?: number;
  supported_reasoning_levels?: { effort: string }[];
}

export class CodexClient {
  private readonly userAgent: string;

  constructor(private readonly config: CodexClientConfig) {
    this.userAgent = `codex_cli_rs/${config.clientVersion} (${type()} ${release()}; ${arch()}) codex-openai-proxy/${VERSION}`;
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

  /** Starts a model turn. A non-2xx answer is returned, not thrown, so the caller may retry a 401. */
  async open(body: ResponsesRequest, credentials: Credentials, signal: AbortSignal): Promise<OpenResult> {
    const url = `${this.baseUrl(credentials)}/responses`;
    const res = await this.send(url, signal, {
      method: "POST",
      headers: {
        ...this.headers(credentials, body.prompt_cache_key),
        "content-type": "application/json",
        accept: "text/event-stream",
      },
      body: JSON.stringify(body),
    });
    if (res.status < 200 || res.status > 299 || !res.body) {
      const bodyText = await res.text().catch(() => "");
      return { ok: false, status: res.status, headers: res.headers, bodyText };
    }
    return { ok: true, events: readEvents(res.body, this.config.idleTimeoutMs) };
  }

  async models(credentials: Credentials, signal: AbortSignal): Promise<CatalogModel[]> {
    const url = `${this.config.codexBaseUrl}/models?client_version=${encodeURIComponent(this.config.clientVersion)}`;
    const res = await this.send(url, signal, { method: "GET", headers: { ...this.headers(credentials), accept: "application/json" } });
    if (res.status !== 200) throw new Error(`model catalog answered HTTP ${res.status}`);
    const doc = (await res.json()) as { models?: unknown };
    if (!Array.isArray(doc.models)) throw new Error("model catalog has no models array");
    return doc.models.filter((m): m is CatalogModel => typeof m === "object" && m !== null && typeof (m as CatalogModel).slug === "string");
  }

  private async send(url: string, signal: AbortSignal, init: RequestInit): Promise<Response> {
    try {
      return await this.config.fetch(url, { ...init, signal });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new ProxyError(502, `Cannot reach the Codex backend at ${new URL(url).host} (${describe(err)}). Check the network, or CODEX_BASE_URL.`, {
        code: "upstream_unreachable",
        cause: err,
      });
    }
  }
}
