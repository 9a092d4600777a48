/**
 * Runs a Lambda bundle under the real runtime interface client (aws-lambda-ric) behind a local
 * emulated Function URL, so the deployable artifact can be tried and tested without AWS.
 *
 * Two loopback servers: the Lambda Runtime API the RIC polls, and the "Function URL" clients call.
 * A client request becomes a payload-2.0 event; the function's streamed `/response` is split at the
 * 8 NUL bytes into the prelude (status, headers, cookies) and the body, whose chunks are forwarded as
 * they arrive, with backpressure. Error trailers end the client response abruptly, as a broken
 * stream; a function past its timeout is killed and restarted, as Lambda does.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";

export interface EmulatorOptions {
  /** folder holding the bundle (index.mjs) */
  bundleDir: string;
  handler?: string;
  /** the function's environment variables */
  env: Record<string, string>;
  /** function timeout; the deadline each invocation sees */
  timeoutMs?: number;
  /** RIC processes, i.e. concurrent executions */
  concurrency?: number;
  port?: number;
  host?: string;
  onLog?: (line: string) => void;
  /** the Node binary the runtime client runs on; default: this process's */
  nodePath?: string;
}

interface Invocation {
  id: string;
  event: unknown;
  deadline: number;
  client: ServerResponse;
  timer?: ReturnType<typeof setTimeout>;
  worker?: Worker;
}

/** One RIC process with its own Runtime API server, so every poll is known to come from it. */
interface Worker {
  server: Server;
  child?: ChildProcess;
  busy?: Invocation;
}

const NUL8 = Buffer.alloc(8);
const HOP_BY_HOP = new Set(["connection", "upgrade", "keep-alive", "proxy-connection", "te", "trailer"]);

export class LambdaEmulator {
  private readonly front: Server;
  private readonly queue: Invocation[] = [];
  private readonly waiting: { res: ServerResponse; worker: Worker }[] = [];
  private readonly inflight = new Map<string, Invocation>();
  private readonly workers = new Set<Worker>();
  private stopping = false;
  /** invocations that ended with error trailers, an /error post, or a timeout */
  readonly failures: { id: string; kind: string; detail: string }[] = [];
  invocations = 0;
  url = "";
  private polled!: () => void;
  /** resolves when a runtime client first asks for an event: its init phase is over */
  readonly initDone = new Promise<void>((resolve) => (this.polled = resolve));

  constructor(private readonly options: EmulatorOptions) {
    this.front = createServer((req, res) => void this.onClient(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.front.once("error", reject);
      this.front.listen(this.options.port ?? 0, this.options.host ?? "127.0.0.1", resolve);
    });
    const host = this.options.host ?? "127.0.0.1";
    this.url = `http://${host.includes(":") ? `[${host}]` : host}:${(this.front.address() as AddressInfo).port}`;
    for (let i = 0; i < (this.options.concurrency ?? 1); i++) await this.spawnWorker();
    return this;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.workers) if (w.child?.exitCode === null && w.child.pid) process.kill(w.child.pid, "SIGKILL");
    for (const server of [this.front, ...[...this.workers].map((w) => w.server)]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private async spawnWorker(): Promise<void> {
    const require = createRequire(import.meta.url);
    const ric = join(dirname(require.resolve("aws-lambda-ric/package.json")), "bin", "index.mjs");
    const worker: Worker = { server: createServer((req, res) => void this.onRuntime(worker, req, res)) };
    await new Promise<void>((resolve) => worker.server.listen(0, "127.0.0.1", resolve));
    this.workers.add(worker);
    const address = worker.server.address() as AddressInfo;
    const handler = this.options.handler ?? "index.handler";
    const child = spawn(this.options.nodePath ?? process.execPath, [ric, handler], {
      cwd: this.options.bundleDir,
      env: {
        PATH: process.env.PATH ?? "",
        AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${address.port}`,
        _HANDLER: handler,
        LAMBDA_TASK_ROOT: this.options.bundleDir,
        AWS_LAMBDA_FUNCTION_NAME: "codex-openai-proxy-local",
        AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "256",
        AWS_LAMBDA_LOG_GROUP_NAME: "/aws/lambda/codex-openai-proxy-local",
        AWS_LAMBDA_LOG_STREAM_NAME: "local",
        AWS_REGION: this.options.env.AWS_REGION ?? "us-east-1",
        ...this.options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    worker.child = child;
    const log = (data: Buffer) => {
      for (const line of data.toString().split("\n")) if (line.trim()) this.options.onLog?.(line);
    };
    child.stdout?.on("data", log);
    child.stderr?.on("data", log);
    child.on("exit", () => {
      if (this.stopping) return;
      this.workers.delete(worker);
      worker.server.closeAllConnections();
      worker.server.close();
      this.waiting.splice(0, this.waiting.length, ...this.waiting.filter((w) => w.worker !== worker));
      if (worker.busy) this.fail(worker.busy, "exit", "the function process exited mid-invocation");
      void this.spawnWorker();
    });
  }

  // ------------------------------------------------------------------ the Function URL side

  private async onClient(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? "/", "http://localhost");
    const headers: Record<string, string> = {};
    const cookies: string[] = [];
    for (const [name, value] of Object.entries(req.headers)) {
      // A Function URL does not hand the function the connection's own (hop-by-hop) headers.
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      if (name === "cookie") cookies.push(...String(value).split(/;\s*/));
      else headers[name] = Array.isArray(value) ? value.join(",") : value;
    }
    const now = Date.now();
    const id = randomUUID();
    const event = {
      version: "2.0",
      routeKey: "$default",
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      ...(cookies.length ? { cookies } : {}),
      headers,
      ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
      requestContext: {
        accountId: "anonymous",
        apiId: "local",
        domainName: headers.host ?? "localhost",
        domainPrefix: "local",
        http: { method: req.method ?? "GET", path: url.pathname, protocol: "HTTP/1.1", sourceIp: req.socket.remoteAddress ?? "", userAgent: headers["user-agent"] ?? "" },
        requestId: id,
        routeKey: "$default",
        stage: "$default",
        time: new Date(now).toISOString(),
        timeEpoch: now,
      },
      ...(body.length ? { body: body.toString("base64"), isBase64Encoded: true } : { isBase64Encoded: false }),
    };
    // A direct invocation (as `aws lambda invoke` would make): the body is the event itself.
    const direct = req.headers["x-emulator-direct-invoke"] !== undefined;
    const invocation: Invocation = { id, event: direct ? (JSON.parse(body.toString("utf8")) as unknown) : event, deadline: now + (this.options.timeoutMs ?? 900_000), client: res };
    this.inflight.set(id, invocation);
    this.invocations++;
    const waiter = this.waiting.shift();
    if (waiter) this.dispatch(invocation, waiter.res, waiter.worker);
    else this.queue.push(invocation);
  }

  // ------------------------------------------------------------------ the Runtime API side

  private async onRuntime(worker: Worker, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? "";
    if (req.method === "GET" && path === "/2018-06-01/runtime/invocation/next") {
      this.polled();
      const next = this.queue.shift();
      if (next) this.dispatch(next, res, worker);
      else this.waiting.push({ res, worker });
      return;
    }
    const match = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(path);
    const invocation = match ? this.inflight.get(decodeURIComponent(match[1] as string)) : undefined;
    if (match?.[2] === "response" && invocation) return this.onResponse(invocation, req, res);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (match?.[2] === "error" && invocation) this.fail(invocation, "error", Buffer.concat(chunks).toString());
    else if (path === "/2018-06-01/runtime/init/error") this.options.onLog?.(`init error: ${Buffer.concat(chunks).toString()}`);
    res.writeHead(202, { "content-type": "application/json" }).end('{"status":"OK"}');
  }

  private dispatch(invocation: Invocation, res: ServerResponse, worker: Worker): void {
    // As in Lambda, the timeout runs from the start of the invocation: a cold start before it
    // (the runtime still initialising when the request arrived) does not count.
    invocation.deadline = Date.now() + (this.options.timeoutMs ?? 900_000);
    invocation.worker = worker;
    worker.busy = invocation;
    invocation.timer = setTimeout(
      () => {
        this.fail(invocation, "timeout", "Task timed out");
        if (worker.child?.pid) process.kill(worker.child.pid, "SIGKILL");
      },
      Math.max(0, invocation.deadline - Date.now()),
    );
    res.writeHead(200, {
      "content-type": "application/json",
      "lambda-runtime-aws-request-id": invocation.id,
      "lambda-runtime-deadline-ms": String(invocation.deadline),
      "lambda-runtime-invoked-function-arn": "arn:aws:lambda:us-east-1:123456789012:function:codex-openai-proxy-local",
      "lambda-runtime-trace-id": `Root=1-${Date.now().toString(16)}-${invocation.id.replace(/-/g, "").slice(0, 24)}`,
    });
    res.end(JSON.stringify(invocation.event));
  }

  private onResponse(invocation: Invocation, req: IncomingMessage, res: ServerResponse): void {
    const client = invocation.client;
    const streaming = String(req.headers["content-type"] ?? "").startsWith("application/vnd.awslambda.http-integration-response");
    let prelude: Buffer | undefined = streaming ? Buffer.alloc(0) : undefined;
    if (!streaming && !client.headersSent) client.writeHead(200, { "content-type": String(req.headers["content-type"] ?? "application/octet-stream") });
    const forward = (chunk: Buffer) => {
      if (client.destroyed) return; // a vanished client is invisible to the function, as on Lambda
      if (!client.write(chunk)) {
        req.pause();
        client.once("drain", () => req.resume());
      }
    };
    req.on("data", (chunk: Buffer) => {
      if (prelude === undefined) return forward(chunk);
      prelude = Buffer.concat([prelude, chunk]);
      const at = prelude.indexOf(NUL8);
      if (at < 0) return;
      const meta = JSON.parse(prelude.subarray(0, at).toString("utf8")) as { statusCode?: number; headers?: Record<string, string>; cookies?: string[] };
      const rest = prelude.subarray(at + 8);
      prelude = undefined;
      const headers: Record<string, string | string[]> = { ...meta.headers };
      if (meta.cookies?.length) headers["set-cookie"] = meta.cookies;
      if (!client.headersSent) {
        client.writeHead(meta.statusCode ?? 200, headers);
        client.flushHeaders();
      }
      if (rest.length) forward(rest);
    });
    req.on("end", () => {
      const errorType = req.trailers["lambda-runtime-function-error-type"];
      res.writeHead(202, { "content-type": "application/json" }).end('{"status":"OK"}');
      if (errorType) this.fail(invocation, "trailer", `${errorType}: ${Buffer.from(req.trailers["lambda-runtime-function-error-body"] ?? "", "base64").toString()}`);
      else this.finish(invocation, () => client.end());
    });
  }

  private finish(invocation: Invocation, end: () => void): void {
    if (!this.inflight.delete(invocation.id)) return;
    clearTimeout(invocation.timer);
    if (invocation.worker?.busy === invocation) delete invocation.worker.busy;
    end();
  }

  private fail(invocation: Invocation, kind: string, detail: string): void {
    if (!this.inflight.has(invocation.id)) return;
    this.failures.push({ id: invocation.id, kind, detail });
    this.options.onLog?.(`invocation ${invocation.id} failed (${kind}): ${detail}`);
    this.finish(invocation, () => {
      const client = invocation.client;
      if (!client.headersSent) {
        client.writeHead(502, { "content-type": "application/json" }).end('{"Message":"Internal Server Error"}');
      } else {
        client.destroy(); // a stream broken mid-way reaches the client as an abrupt end
      }
    });
  }
}
