/**
 * Local mode's token lifecycle against a fake OAuth endpoint with single-use refresh tokens and a fake
 * backend that rejects expired access tokens with the real 401 body.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { refreshWithRetry, RefreshError } from "../lambda/auth/oauth.js";
import { FakeCodex } from "./support/fake-codex.js";
import { loginDoc } from "./support/fake-oauth.js";
import { ask, loginHarness, stored } from "./support/login-harness.js";
import { ACCOUNT_ID, readSse } from "./support/proxy.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const h = loginHarness();
const { children } = h;

describe("refresh in one process", () => {
  it("50 concurrent requests with an expired token: one OAuth call, 50 answers, the new login stored first", async () => {
    const p = await h.start(h.oauth.issue({ expiredAccess: true }));
    const responses = await Promise.all(Array.from({ length: 50 }, () => ask(p.baseURL)));
    const bodies = await Promise.all(responses.map((r) => readSse(r)));
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(bodies.every((b) => b.at(-1) === "[DONE]")).toBe(true);
    expect(h.oauth.calls.length).toBe(1);

    const doc = stored(p.authPath);
    expect(h.oauth.accepts(`Bearer ${doc.tokens.access_token}`)).toBe(true);
    expect(doc.tokens.refresh_token).not.toBe(h.oauth.calls[0]?.refreshToken);
    expect(doc.tokens.account_id).toBe(ACCOUNT_ID);
    expect(doc.extra_field_we_do_not_know).toEqual({ kept: true });
    expect(Date.now() - Date.parse(doc.last_refresh)).toBeLessThan(60_000);
    expect(statSync(p.authPath).mode & 0o777).toBe(0o600);
    expect(existsSync(`${p.authPath}.lock`)).toBe(false);
    expect(h.oauth.calls[0]?.body).toEqual({ client_id: "app_EMoamEEZ73f0CkXaXp7hrann", grant_type: "refresh_token", refresh_token: h.oauth.calls[0]?.refreshToken });
  });

  it("refreshes proactively within 5 minutes of expiry, before the backend would refuse", async () => {
    h.oauth.accessTtlS = 120; // issued tokens expire in 2 minutes: inside the window
    const p = await h.start(h.oauth.issue());
    h.oauth.accessTtlS = 3600;
    expect((await ask(p.baseURL)).status).toBe(200);
    expect(h.oauth.calls.length).toBe(1);
    expect(p.codex.responsesCalls.every((r) => r.headers.authorization !== undefined)).toBe(true);
    expect(p.codex.responsesCalls.length).toBe(1); // no 401 round trip
  });

  it("an upstream 401 mid-conversation: refreshed, retried, and the client sees a normal answer", async () => {
    const login = h.oauth.issue();
    const p = await h.start(login);
    expect((await readSse(await ask(p.baseURL))).at(-1)).toBe("[DONE]");
    h.oauth.revoke(login.access);
    const frames = await readSse(await ask(p.baseURL));
    expect(frames.at(-1)).toBe("[DONE]");
    expect(h.oauth.calls.length).toBe(1);
    expect(p.codex.responsesCalls.map((r) => r.headers.authorization === `Bearer ${login.access}`)).toEqual([true, true, false]);
  });

  it.each(["refresh_token_reused", "refresh_token_expired", "refresh_token_invalidated"] as const)(
    "a permanent failure (%s): 401 saying how to renew, no retry loop, the file untouched",
    async (kind) => {
      const login = h.oauth.issue({ expiredAccess: true });
      if (kind === "refresh_token_reused") {
        await fetch(h.oauth.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ client_id: "app_EMoamEEZ73f0CkXaXp7hrann", grant_type: "refresh_token", refresh_token: login.refresh }),
        });
      } else h.oauth.spoil(login.refresh, kind);
      const p = await h.start(login);
      const before = readFileSync(p.authPath, "utf8");
      const callsBefore = h.oauth.calls.length;
      for (let i = 0; i < 5; i++) {
        const res = await ask(p.baseURL);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(res.status).toBe(401);
        expect(body.error.code).toBe("login_expired");
        expect(body.error.message).toContain(kind);
        expect(body.error.message).toContain("codex login");
      }
      expect(h.oauth.calls.length - callsBefore).toBe(1);
      expect(readFileSync(p.authPath, "utf8")).toBe(before);
      // the status page says the login is dead, and what to do
      const status = (await (await fetch(`${p.baseURL}/status`)).json()) as { logins: { state: string; advice?: string }[] };
      expect(status.logins[0]?.state).toBe("dead");
      expect(status.logins[0]?.advice).toContain("codex login");
    },
  );

  it("while the token endpoint is down, a still-valid token keeps serving without a refresh attempt per request", async () => {
    h.oauth.accessTtlS = 120;
    const p = await h.start(h.oauth.issue());
    h.oauth.accessTtlS = 3600;
    h.oauth.failNext = 1000;
    for (let i = 0; i < 5; i++) expect((await ask(p.baseURL)).status).toBe(200);
    expect(h.oauth.calls.length).toBe(3); // one attempt with its two retries, then a cool-down
  });

  it("transient failures back off and retry", async () => {
    const p = await h.start(h.oauth.issue({ expiredAccess: true }));
    h.oauth.failNext = 2;
    expect((await ask(p.baseURL)).status).toBe(200);
    expect(h.oauth.calls.length).toBe(3);
  });

  it("a stale lock left by a dead process is recovered", async () => {
    const p = await h.start(h.oauth.issue({ expiredAccess: true }));
    writeFileSync(`${p.authPath}.lock`, `999999 ${(await import("node:os")).hostname()} 0 dead`);
    expect((await ask(p.baseURL)).status).toBe(200);
    expect(h.oauth.calls.length).toBe(1);
    expect(existsSync(`${p.authPath}.lock`)).toBe(false);
  });

  it("a token without exp is refreshed when last_refresh is older than 8 days", async () => {
    const login = h.oauth.issue();
    const p = await h.start(login);
    const doc = stored(p.authPath);
    const noExp = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ "https://api.openai.com/auth": { chatgpt_account_id: ACCOUNT_ID } })).toString("base64url")}.sig`;
    doc.tokens.access_token = noExp;
    doc.last_refresh = new Date(Date.now() - 9 * 24 * 3600_000).toISOString();
    writeFileSync(p.authPath, JSON.stringify(doc));
    const restarted = await h.start(login, { authJson: doc });
    expect((await ask(restarted.baseURL)).status).toBe(200);
    expect(h.oauth.calls.length).toBe(1);
  });
});

describe("an idle proxy", () => {
  it("refreshes a login that comes due without any request", async () => {
    const { FileTokenSource } = await import("../lambda/auth/file-store.js");
    const { keepFresh } = await import("../lambda/auth/keep-fresh.js");
    const { createLogger } = await import("../lambda/log.js");
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "codex-proxy-idle-"));
    try {
      h.oauth.accessTtlS = 120; // due for refresh (inside the 5-minute window)
      const path = join(dir, "auth.json");
      writeFileSync(path, JSON.stringify(loginDoc(ACCOUNT_ID, h.oauth.issue())), { mode: 0o600 });
      h.oauth.accessTtlS = 3600;
      const tokens = FileTokenSource.load(path, { refresh: { url: h.oauth.url, fetch: globalThis.fetch } });
      const stop = keepFresh(tokens, 50, createLogger("silent"));
      await expect.poll(() => h.oauth.calls.length, { timeout: 3000 }).toBe(1);
      await new Promise((r) => setTimeout(r, 200));
      stop();
      expect(h.oauth.calls.length).toBe(1); // refreshed once, then not due any more
      expect(h.oauth.accepts(`Bearer ${stored(path).tokens.access_token}`)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("two processes sharing one auth.json", () => {
  it("make exactly one OAuth call and both keep working", async () => {
    const codex = await new FakeCodex().start();
    try {
      codex.always(h.backend());
      h.oauth.delayMs = 300; // the second process arrives while the first is refreshing
      const { mkdtempSync, rmSync } = await import("node:fs");
      const { tmpdir } = await import("node:os");
      const { join } = await import("node:path");
      const dir = mkdtempSync(join(tmpdir(), "codex-proxy-two-"));
      const authPath = join(dir, "auth.json");
      writeFileSync(authPath, JSON.stringify(loginDoc(ACCOUNT_ID, h.oauth.issue({ expiredAccess: true }))), { mode: 0o600 });
      const urls: string[] = [];
      for (let i = 0; i < 2; i++) {
        const child = spawn(process.execPath, ["--import", "tsx", "lambda/local.ts", "--port", "0", "--auth-path", authPath], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? "", HOME: dir, CODEX_BASE_URL: codex.url, CODEX_REFRESH_URL: h.oauth.url, ALLOWED_MODELS: "gpt-5.5" },
          stdio: ["ignore", "ignore", "pipe"],
        });
        children.push(child);
        let err = "";
        child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
        await expect.poll(() => err, { timeout: 15_000 }).toContain('"listening"');
        urls.push((JSON.parse(err.split("\n").find((l) => l.includes('"listening"')) ?? "{}") as { url: string }).url);
      }
      const first = await Promise.all(urls.flatMap((u) => [ask(u), ask(u), ask(u)]));
      expect(first.map((r) => r.status)).toEqual(Array(6).fill(200));
      await Promise.all(first.map((r) => r.text()));
      const again = await Promise.all(urls.map((u) => ask(u)));
      expect(again.map((r) => r.status)).toEqual([200, 200]);
      expect(h.oauth.calls.length).toBe(1);
      rmSync(dir, { recursive: true, force: true });
    } finally {
      await codex.stop();
    }
  });
});

describe("a slow or silent token endpoint never costs the login", () => {
  it("an endpoint that spends the token at once and answers late: waited for, never sent again; requests meanwhile get 503 login_refresh_pending, then the new login is stored and used", async () => {
    h.oauth.delayMs = 1_500;
    const p = await h.start(h.oauth.issue({ expiredAccess: true }), { tokenOptions: { refreshWaitMs: 300 } });
    const early = await ask(p.baseURL);
    expect(early.status).toBe(503);
    expect(await early.json()).toMatchObject({ error: { code: "login_refresh_pending" } });
    await expect.poll(() => stored(p.authPath).tokens.refresh_token, { timeout: 5_000 }).not.toBe(h.oauth.calls[0]?.refreshToken);
    const later = await ask(p.baseURL);
    expect(later.status).toBe(200);
    await later.text();
    expect(h.oauth.calls.length).toBe(1);
    expect(h.oauth.accepts(`Bearer ${stored(p.authPath).tokens.access_token}`)).toBe(true);
  });

  it("a refresh whose answer is cut off after it was sent (outcome unknown) is not sent again with the same token, and the login is not declared dead", async () => {
    const cutting = createServer((req, res) => {
      calls++;
      req.resume();
      req.on("end", () => res.socket?.destroy()); // read (and, for all we know, spent), never answered
    });
    let calls = 0;
    await new Promise<void>((resolve) => cutting.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(cutting.address() as AddressInfo).port}/oauth/token`;
      const err = await refreshWithRetry("rt.1.cut", { url, fetch: globalThis.fetch, backoffMs: [10, 20] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RefreshError);
      expect(err).toMatchObject({ outcomeUnknown: true, permanent: false });
      expect(calls).toBe(1);
      // and one that waits past answerWaitMs is the same: given up on, never resent
      const login = h.oauth.issue();
      h.oauth.delayMs = 1_000;
      const silent = await refreshWithRetry(login.refresh, { url: h.oauth.url, fetch: globalThis.fetch, backoffMs: [10], answerWaitMs: 200 }).catch((e: unknown) => e);
      expect(silent).toMatchObject({ outcomeUnknown: true });
      expect(h.oauth.calls.map((c) => c.refreshToken)).toEqual([login.refresh]);
    } finally {
      cutting.closeAllConnections();
      await new Promise<void>((resolve) => cutting.close(() => resolve()));
    }
  });

  it("a refresh that never left (connection refused) is tried again", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    let slept = 0;
    const err = await refreshWithRetry("rt.1.x", {
      url: `http://127.0.0.1:${port}/oauth/token`,
      fetch: globalThis.fetch,
      backoffMs: [5, 5],
      sleep: async () => void slept++,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ outcomeUnknown: false, permanent: false });
    expect(slept).toBe(2);
  });
});

describe("the first request after start, on a slow token endpoint", () => {
  it("waits for the login once (the catalog and the turn share that wait): a 503 login_refresh_pending after one bound, not two", async () => {
    h.oauth.delayMs = 5_000;
    const p = await h.start(h.oauth.issue({ expiredAccess: true }), { env: { ALLOWED_MODELS: "" }, tokenOptions: { refreshWaitMs: 1_000 } });
    const started = Date.now();
    const res = await ask(p.baseURL);
    const waited = Date.now() - started;
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: "login_refresh_pending" } });
    expect(waited).toBeGreaterThanOrEqual(1_000);
    expect(waited).toBeLessThan(1_900); // two bounds in a row were 2 s
    expect(h.oauth.calls.length).toBe(1);
  });
});
