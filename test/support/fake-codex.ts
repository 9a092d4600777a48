/**
 * A fake Codex backend on 127.0.0.1: replays recorded SSE, records every request it receives, and
 * can answer with an error body, a challenge page, or a stream cut at any event or byte. Before any
 * queued reply it refuses what the real backend refuses (backend-rules.ts), and it answers 404 on
 * `/responses/compact`, as the real one has since 2026-08-12.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { CodexEvent } from "../../lambda/codex/types.js";
import { CompactionLedger } from "./backend-rules.js";
import { fixtureJson, toSse } from "./fixtures.js";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  remotePort: number;
}

export type Reply =
  | {
      kind: "sse";
      events: readonly CodexEvent[];
      /** stop after this many events, without a terminal event */
      cutAfterEvents?: number;
      /** stop after this many bytes of the SSE text */
      cutAtByte?: number;
      /** write the bytes in pieces of at most this size (random when "random") */
      chunkSize?: number | "random";
      /** pause between writes */
      delayMs?: number;
      /** pause before the first byte */
      firstByteDelayMs?: number;
      /** hold the connection open after the last byte instead of closing */
      hang?: boolean;
      seed?: number;
      headers?: Record<string, string>;
    }
  | { kind: "json"; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: "text"; status: number; body: string; headers?: Record<string, string> }
  /** a 200 event stream of these raw pieces, `delayMs` apart; held open after them when `hang` */
  | { kind: "raw"; pieces: readonly string[]; delayMs?: number; hang?: boolean; repeatLast?: boolean; headers?: Record<string, string> }
  /** the connection is dropped without an answer */
  | { kind: "reset" }
  /** the request is read and never answered: no headers, no bytes */
  | { kind: "silent" };

export type Responder = (request: RecordedRequest) => Reply;

export class FakeCodex {
  readonly requests: RecordedRequest[] = [];
  private readonly replies: (Reply | Responder)[] = [];
  private fallback: Responder | undefined;
  private readonly server: Server;
  private readonly open = new Set<ServerResponse>();
  /** set when a client aborted a response this server was still writing */
  abortedResponses = 0;
  /** the compaction items this backend minted, and its rules for what a body may carry */
  readonly compactions = new CompactionLedger();

  url = "";

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/backend-api/codex`;
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Replies for the next /responses calls, in order; then `always` (if set) answers the rest. */
  enqueue(...replies: (Reply | Responder)[]): this {
    this.replies.push(...replies);
    return this;
  }

  always(responder: Responder): this {
    this.fallback = responder;
    return this;
  }

  get responsesCalls(): RecordedRequest[] {
    return this.requests.filter((r) => r.path.endsWith("/responses"));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
    const recorded: RecordedRequest = {
      method: req.method ?? "",
      path: req.url ?? "",
      headers,
      body: text ? (JSON.parse(text) as unknown) : undefined,
      remotePort: req.socket.remotePort ?? 0,
    };
    this.requests.push(recorded);

    if (recorded.path.startsWith("/backend-api/codex/models")) {
      return this.reply(res, { kind: "json", status: 200, body: fixtureJson("codex-models-catalog.trimmed.json") });
    }
    if (recorded.path.startsWith("/backend-api/codex/responses/compact")) return this.reply(res, { kind: "json", status: 404, body: { detail: "Not Found" } });
    const refusal = this.compactions.refusal(recorded.body, headers["chatgpt-account-id"] ?? "");
    if (refusal) return this.reply(res, refusal);
    const next = this.replies.shift() ?? this.fallback;
    if (!next) return this.reply(res, { kind: "json", status: 500, body: { detail: "fake backend: no reply queued" } });
    await this.reply(res, typeof next === "function" ? next(recorded) : next);
  }

  private async reply(res: ServerResponse, reply: Reply): Promise<void> {
    if (reply.kind === "reset") return void res.socket?.destroy();
    if (reply.kind === "silent") {
      this.open.add(res);
      res.on("close", () => this.open.delete(res));
      return;
    }
    if (reply.kind === "raw") {
      this.open.add(res);
      res.on("close", () => this.open.delete(res));
      res.writeHead(200, { "content-type": "text/event-stream", ...reply.headers });
      res.flushHeaders();
      for (let i = 0; !res.destroyed; i = reply.repeatLast ? Math.min(i + 1, reply.pieces.length - 1) : i + 1) {
        if (!reply.repeatLast && i >= reply.pieces.length) break;
        res.write(reply.pieces[i] ?? "");
        if (reply.delayMs) await sleep(reply.delayMs);
      }
      if (!reply.hang && !res.destroyed) res.end();
      return;
    }
    if (reply.kind === "json" || reply.kind === "text") {
      res.writeHead(reply.status, { "content-type": reply.kind === "json" ? "application/json" : "text/html", ...reply.headers });
      res.end(reply.kind === "json" ? JSON.stringify(reply.body) : reply.body);
      return;
    }
    this.open.add(res);
    res.on("close", () => {
      this.open.delete(res);
      if (!res.writableFinished) this.abortedResponses++;
    });
    res.writeHead(200, { "content-type": "text/event-stream", "x-request-id": "req_fake", ...reply.headers });
    res.flushHeaders(); // as a real SSE server does, before its first event
    const events = reply.cutAfterEvents === undefined ? reply.events : reply.events.slice(0, reply.cutAfterEvents);
    let bytes = Buffer.from(toSse(events));
    if (reply.cutAtByte !== undefined) bytes = bytes.subarray(0, reply.cutAtByte);
    if (reply.firstByteDelayMs) await sleep(reply.firstByteDelayMs);
    let random = reply.seed ?? 1;
    const nextSize = (): number => {
      if (reply.chunkSize === "random") {
        random = (random * 1103515245 + 12345) % 2147483648;
        return 1 + (random % 64);
      }
      return reply.chunkSize ?? bytes.length;
    };
    for (let offset = 0; offset < bytes.length && !res.destroyed; ) {
      const size = nextSize();
      const ok = res.write(bytes.subarray(offset, offset + size));
      offset += size;
      if (!ok) await new Promise((resolve) => res.once("drain", resolve));
      if (reply.delayMs) await sleep(reply.delayMs);
    }
    if (!reply.hang) res.end();
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
