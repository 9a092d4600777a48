/**
 * Without PROXY_API_KEYS, a web page the user visits must not be able to use the subscription: not
 * with a "simple" cross-origin POST, not through DNS rebinding. With keys, CORS stays open.
 * Raw HTTP (node:http) is used where fetch would not let a test set Host or Origin.
 */
import { request as httpRequest } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { recorded } from "./support/fixtures.js";
import { chatBody, startProxy, type ProxyOptions, type RunningProxy } from "./support/proxy.js";

const TEXT = recorded("recorded.openai-phase.1.jsonl");
let proxy: RunningProxy | undefined;
afterEach(async () => {
  await proxy?.stop();
  proxy = undefined;
});

async function start(options: ProxyOptions = {}): Promise<RunningProxy> {
  proxy = await startProxy({ ...options, env: { ALLOWED_MODELS: "gpt-5.5", ...options.env } });
  proxy.codex.always(() => ({ kind: "sse", events: TEXT }));
  return proxy;
}

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with exactly these headers (Host included), as a browser or an attacker would send it. */
function raw(p: RunningProxy, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Raw> {
  const { port } = new URL(p.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers, setHost: false }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const code = (r: Raw) => (JSON.parse(r.body) as { error: { code: string } }).error.code;
const host = (p: RunningProxy) => new URL(p.url).host;
const BODY = JSON.stringify(chatBody());

describe("key-less mode refuses what a web page could abuse", () => {
  it("a simple cross-origin text/plain POST is refused and gets no CORS headers", async () => {
    const p = await start();
    const r = await raw(p, "POST", "/v1/chat/completions", { host: host(p), origin: "https://evil.example", "content-type": "text/plain" }, BODY);
    expect(r.status).toBe(403);
    expect(code(r)).toBe("origin_not_allowed");
    expect(r.headers["access-control-allow-origin"]).toBeUndefined();
    expect(p.codex.responsesCalls.length).toBe(0);
  });

  it("a browser request with a JSON body from an unlisted origin is refused too", async () => {
    const p = await start();
    const r = await raw(p, "POST", "/v1/chat/completions", { host: host(p), origin: "http://localhost:3000", "content-type": "application/json" }, BODY);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).error.message).toMatch(/CORS_ORIGINS.*PROXY_API_KEYS/);
  });

  it("its preflight is refused", async () => {
    const p = await start();
    const r = await raw(p, "OPTIONS", "/v1/chat/completions", { host: host(p), origin: "https://evil.example", "access-control-request-method": "POST" });
    expect(r.status).toBe(403);
    expect(r.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("DNS rebinding: a Host that is not a loopback name is refused with 421", async () => {
    const p = await start();
    const r = await raw(p, "POST", "/v1/chat/completions", { host: `rebind.evil.example:${new URL(p.url).port}`, "content-type": "application/json" }, BODY);
    expect(r.status).toBe(421);
    expect(code(r)).toBe("host_not_allowed");
    expect(JSON.parse(r.body).error.message).toContain("rebind.evil.example");
    expect(p.codex.responsesCalls.length).toBe(0);
  });

  it.each(["localhost", "127.0.0.1", "[::1]", "127.1.2.3"])("Host %s is a loopback name and is served", async (name) => {
    const p = await start();
    const r = await raw(p, "POST", "/v1/chat/completions", { host: `${name}:${new URL(p.url).port}`, "content-type": "application/json" }, BODY);
    expect(r.status).toBe(200);
    expect(r.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("a POST without a JSON content type is 415", async () => {
    const p = await start();
    const r = await raw(p, "POST", "/v1/chat/completions", { host: host(p), "content-type": "text/plain" }, BODY);
    expect(r.status).toBe(415);
    expect(code(r)).toBe("unsupported_media_type");
  });

  it("application/json with a charset is JSON", async () => {
    const p = await start();
    const r = await raw(p, "POST", "/v1/chat/completions", { host: host(p), "content-type": "application/json; charset=utf-8" }, BODY);
    expect(r.status).toBe(200);
  });

  it("an origin listed in CORS_ORIGINS is served, with its own origin echoed", async () => {
    const p = await start({ env: { CORS_ORIGINS: "http://localhost:3000,https://app.example" } });
    const pre = await raw(p, "OPTIONS", "/v1/chat/completions", {
      host: host(p),
      origin: "http://localhost:3000",
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type",
    });
    expect(pre.status).toBe(204);
    expect(pre.headers["access-control-allow-origin"]).toBe("http://localhost:3000");
    const r = await raw(p, "POST", "/v1/chat/completions", { host: host(p), origin: "http://localhost:3000", "content-type": "application/json" }, BODY);
    expect(r.status).toBe(200);
    expect(r.headers["access-control-allow-origin"]).toBe("http://localhost:3000");
    expect(r.headers.vary).toContain("origin");
    const other = await raw(p, "POST", "/v1/chat/completions", { host: host(p), origin: "http://localhost:3001", "content-type": "application/json" }, BODY);
    expect(other.status).toBe(403);
  });
});

describe("with keys, browsers are no threat and CORS stays open", () => {
  it("any origin may call with a key; the key is still required", async () => {
    const p = await start({ keys: ["sk-browser-test-0001"] });
    const r = await raw(
      p,
      "POST",
      "/v1/chat/completions",
      { host: "proxy.example.com", origin: "https://app.example", "content-type": "text/plain", authorization: "Bearer sk-browser-test-0001" },
      BODY,
    );
    expect(r.status).toBe(200);
    expect(r.headers["access-control-allow-origin"]).toBe("*");
    const keyless = await raw(p, "POST", "/v1/chat/completions", { host: "proxy.example.com", origin: "https://app.example", "content-type": "application/json" }, BODY);
    expect(keyless.status).toBe(401);
    expect(keyless.headers["access-control-allow-origin"]).toBe("*");
  });
});

describe("requests fetch cannot represent are refused cleanly", () => {
  it("TRACE is 405 with Allow", async () => {
    const p = await start();
    const r = await raw(p, "TRACE", "/v1/chat/completions", { host: host(p) });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toContain("POST");
  });

  it.each(["exa mple.com", "a/b", "bad host:99999999"])("a malformed Host header (%s) is 400", async (bad) => {
    const p = await start();
    const r = await raw(p, "GET", "/v1/models", { host: bad });
    expect(r.status).toBe(400);
    expect(code(r)).toBe("invalid_host");
  });
});
