/**
 * The set-up of the login-lifecycle tests: a fake OAuth endpoint with single-use refresh tokens, a
 * proxy on one login, and a backend that accepts only the access tokens that endpoint issued and has
 * not revoked (anything else gets the real 401 body). Each test gets fresh ones; whatever a test
 * started (the proxy, child processes, temp dirs) is stopped after it.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { afterEach, beforeEach } from "vitest";
import type { Reply } from "./fake-codex.js";
import { FakeOAuth, loginDoc } from "./fake-oauth.js";
import { fixtureJson, recorded } from "./fixtures.js";
import { ACCOUNT_ID, chatBody, startProxy, type ProxyOptions, type RunningProxy } from "./proxy.js";

const TEXT = recorded("recorded.openai-phase.1.jsonl");
export const EXPIRED_401 = fixtureJson<{ body: unknown }[]>("error.401-auth.samples.json")[1]?.body;

export interface LoginHarness {
  readonly oauth: FakeOAuth;
  /** processes and temp dirs a test started; stopped and removed after it */
  readonly children: ChildProcess[];
  readonly dirs: string[];
  backend(): (req: { headers: Record<string, string> }) => Reply;
  start(login: { access: string; refresh: string }, options?: ProxyOptions): Promise<RunningProxy>;
}

export function loginHarness(): LoginHarness {
  let oauth: FakeOAuth | undefined;
  let proxy: RunningProxy | undefined;
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  beforeEach(async () => {
    oauth = await new FakeOAuth(ACCOUNT_ID).start();
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.pid) process.kill(c.pid, "SIGTERM");
    await proxy?.stop();
    proxy = undefined;
    await oauth?.stop();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const harness: LoginHarness = {
    get oauth() {
      return oauth as FakeOAuth;
    },
    children,
    dirs,
    backend: () => (req) => (harness.oauth.accepts(req.headers.authorization) ? { kind: "sse", events: TEXT } : { kind: "json", status: 401, body: EXPIRED_401 }),
    /** A proxy on `login` (or `options.authJson`); one started before in this test is stopped first. */
    async start(login, options = {}) {
      await proxy?.stop();
      proxy = await startProxy({ authJson: loginDoc(ACCOUNT_ID, login), ...options, env: { CODEX_REFRESH_URL: harness.oauth.url, ALLOWED_MODELS: "gpt-5.5", ...options.env } });
      proxy.codex.always(harness.backend());
      return proxy;
    },
  };
  return harness;
}

/** One streamed chat request. */
export const ask = (base: string) =>
  fetch(`${base}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chatBody({ stream: true })) });

export const stored = (path: string) => JSON.parse(readFileSync(path, "utf8")) as { tokens: Record<string, string>; last_refresh: string; extra_field_we_do_not_know?: unknown };
