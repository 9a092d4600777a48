/**
 * Several logins behind one endpoint (auth/logins.ts), on the local server against the fake backend,
 * which tells the logins apart by their account ids: keys bound to logins on all three dialects
 * (never another login, on failover and retry paths too), conversations that stay on their login
 * across turns and restarts, failover at the usage limit with one clean answer (streamed and not),
 * the earliest reset when all rest, a moved conversation without the reasoning the new login cannot
 * read, a dead login skipped, and one refresh per login under load.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CODEX_VERSION, codexCli, FINAL_ANSWER, runCodex, scriptedAgent } from "./support/codex-cli.js";
import { message, reasoning, turnOf } from "./support/codex-turns.js";
import type { RecordedRequest, Responder } from "./support/fake-codex.js";
import { FakeOAuth, loginDoc } from "./support/fake-oauth.js";
import { accessToken, fixtureJson } from "./support/fixtures.js";
import { startProxy, type RunningProxy } from "./support/proxy.js";
import { LoginPool } from "../lambda/auth/logins.js";
import type { TokenSource } from "../lambda/auth/tokens.js";
import type { ProxyError } from "../lambda/errors.js";

const ACCOUNTS = { alice: "acc-alice-000001", bob: "acc-bob-0000002", carol: "acc-carol-000003" } as const;
type Name = keyof typeof ACCOUNTS;
const nameOf = (account: string | undefined) => (Object.entries(ACCOUNTS).find(([, a]) => a === account)?.[0] ?? "?") as Name | "?";
const KEYS = { alice: "sk-bound-to-alice-000001", bob: "sk-bound-to-bob-0000002", team: "sk-team-unbound-0000003" };
const keys = [{ key: KEYS.alice, logins: ["alice"] }, { key: KEYS.bob, logins: ["bob"] }, KEYS.team];
const login = (name: Name) => ({ name, authJson: loginDoc(ACCOUNTS[name], { access: accessToken(ACCOUNTS[name]), refresh: `rt.${name}.1` }) });
const USAGE_LIMIT = fixtureJson<{ error: Record<string, unknown> }>("error.429-usage-limit-reached.body.json").error;

/** Answers naming the login it was asked on; the named logins answer with the usage limit instead. */
function backend(limited: Set<Name>, resetInS = 3600): Responder {
  return (request: RecordedRequest) => {
    const who = nameOf(request.headers["chatgpt-account-id"]);
    if (who !== "?" && limited.has(who)) {
      return { kind: "json", status: 429, body: { error: { ...USAGE_LIMIT, resets_in_seconds: resetInS, resets_at: Math.floor(Date.now() / 1000) + resetInS } } };
    }
    return { kind: "sse", events: turnOf([reasoning(request.headers["chatgpt-account-id"] ?? ""), message(`served by ${who}`)]) };
  };
}
const servedBy = (proxy: RunningProxy) => proxy.codex.responsesCalls.map((r) => nameOf(r.headers["chatgpt-account-id"]));

/** One turn in each dialect, as its own SDK sends it; `topic` makes the conversation. */
async function turn(dialect: "chat" | "responses" | "messages", proxy: RunningProxy, key: string, topic: string, stream = false): Promise<string> {
  if (dialect === "messages") {
    const client = new Anthropic({ baseURL: proxy.url, apiKey: key, maxRetries: 0 });
    if (stream) return (await client.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user", content: topic }] }).finalText()).trim();
    const answer = await client.messages.create({ model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user", content: topic }] });
    return answer.content.map((b) => (b.type === "text" ? b.text : "")).join("");
  }
  const client = new OpenAI({ baseURL: proxy.baseURL, apiKey: key, maxRetries: 0 });
  if (dialect === "responses") {
    if (stream) return (await client.responses.stream({ model: "gpt-5.5", input: topic }).finalResponse()).output_text;
    return (await client.responses.create({ model: "gpt-5.5", input: topic })).output_text;
  }
  if (stream) {
    let text = "";
    for await (const chunk of await client.chat.completions.create({ model: "gpt-5.5", stream: true, messages: [{ role: "user", content: topic }] }))
      text += chunk.choices[0]?.delta.content ?? "";
    return text;
  }
  return (await client.chat.completions.create({ model: "gpt-5.5", messages: [{ role: "user", content: topic }] })).choices[0]?.message.content ?? "";
}

const DIALECTS = ["chat", "responses", "messages"] as const;

describe("several logins on the local server", () => {
  let proxy: RunningProxy;
  const limited = new Set<Name>();
  beforeAll(async () => {
    proxy = await startProxy({ keys, logins: [login("alice"), login("bob")], env: { ALLOWED_MODELS: "gpt-5.5,gpt-5.4-mini" } });
    proxy.codex.always(backend(limited));
  });
  afterAll(async () => proxy?.stop());
  afterEach(() => limited.clear());

  for (const dialect of DIALECTS) {
    it(`${dialect}: a key bound to a login only ever reaches that login, also when it rests (429, never the other)`, async () => {
      const before = proxy.codex.responsesCalls.length;
      for (let i = 0; i < 8; i++) expect(await turn(dialect, proxy, KEYS.alice, `${dialect} topic ${i}`)).toBe("served by alice");
      for (let i = 0; i < 8; i++) expect(await turn(dialect, proxy, KEYS.bob, `${dialect} topic ${i}`)).toBe("served by bob");
      expect(servedBy(proxy).slice(before)).toEqual([...Array(8).fill("alice"), ...Array(8).fill("bob")]);
      limited.add("alice");
      const refused = await turn(dialect, proxy, KEYS.alice, `${dialect} limited`).catch((err: { status?: number }) => err);
      expect((refused as { status?: number }).status).toBe(429);
      expect(servedBy(proxy).slice(before + 16)).toEqual(["alice"]); // asked alice once, never bob
      // alice rests now: the bound key gets the 429 at once, without calling anyone
      const again = await turn(dialect, proxy, KEYS.alice, `${dialect} limited again`).catch((err: { status?: number; headers?: Headers }) => err);
      expect((again as { status?: number }).status).toBe(429);
      expect(servedBy(proxy).slice(before + 17)).toEqual([]);
      // the unbound key goes on, on bob
      expect(await turn(dialect, proxy, KEYS.team, `${dialect} team while alice rests`)).toBe("served by bob");
      await proxy.stop();
      proxy = await startProxy({ keys, logins: [login("alice"), login("bob")], env: { ALLOWED_MODELS: "gpt-5.5,gpt-5.4-mini" } });
      proxy.codex.always(backend(limited));
    });
  }

  it("an unbound key's conversations spread over the logins, and each stays on its login across turns", async () => {
    const first = new Map<string, string>();
    for (let i = 0; i < 30; i++) first.set(`spread ${i}`, await turn("chat", proxy, KEYS.team, `spread ${i}`));
    const counts: Record<string, number> = {};
    for (const answer of first.values()) counts[answer] = (counts[answer] ?? 0) + 1;
    expect(counts["served by alice"]).toBeGreaterThanOrEqual(7);
    expect(counts["served by bob"]).toBeGreaterThanOrEqual(7);
    for (const [topic, answer] of first) expect(await turn("chat", proxy, KEYS.team, topic)).toBe(answer);
  });

  for (const stream of [false, true]) {
    it(`failover at the usage limit: one clean answer from the next login (${stream ? "streamed" : "not streamed"}), and all resting is a 429 at the earliest reset`, async () => {
      // a conversation that lives on alice
      let topic = "";
      for (let i = 0; !topic; i++) if ((await turn("responses", proxy, KEYS.team, `failover ${stream} ${i}`)) === "served by alice") topic = `failover ${stream} ${i}`;
      limited.add("alice");
      const before = proxy.codex.responsesCalls.length;
      expect(await turn("responses", proxy, KEYS.team, topic, stream)).toBe("served by bob");
      expect(servedBy(proxy).slice(before)).toEqual(["alice", "bob"]);
      limited.add("bob");
      const res = await fetch(`${proxy.baseURL}/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEYS.team}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-5.5", input: "new while all rest", stream }),
      });
      expect(res.status).toBe(429);
      const retry = Number(res.headers.get("retry-after"));
      expect(retry).toBeGreaterThan(3500);
      expect(retry).toBeLessThanOrEqual(3600);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("usage_limit_reached");
      expect(body.error.message).toMatch(/All 2 logins this key may use have reached the plan's usage limit/);
      const status = (await (await fetch(`${proxy.baseURL}/status`, { headers: { authorization: `Bearer ${KEYS.team}` } })).json()) as {
        logins: { name: string; state: string }[];
      };
      expect(status.logins.map((l) => [l.name, l.state])).toEqual([
        ["alice", "resting"],
        ["bob", "resting"],
      ]);
      await proxy.stop();
      proxy = await startProxy({ keys, logins: [login("alice"), login("bob")], env: { ALLOWED_MODELS: "gpt-5.5,gpt-5.4-mini" } });
      proxy.codex.always(backend(limited));
    });
  }

  it("a conversation that moves drops the encrypted reasoning the new login cannot read, and goes on", async () => {
    const client = new OpenAI({ baseURL: proxy.baseURL, apiKey: KEYS.team, maxRetries: 0 });
    let topic = "";
    let first: OpenAI.Responses.Response | undefined;
    for (let i = 0; !topic; i++) {
      first = await client.responses.create({ model: "gpt-5.5", input: [{ role: "user", content: `moving ${i}` }], store: false, include: ["reasoning.encrypted_content"] });
      if (first.output_text === "served by alice") topic = `moving ${i}`;
    }
    const history = [{ role: "user" as const, content: topic }, ...(first?.output ?? [])] as OpenAI.Responses.ResponseInput;
    expect(history.some((item) => (item as { type?: string }).type === "reasoning")).toBe(true);
    limited.add("alice");
    const before = proxy.codex.responsesCalls.length;
    const second = await client.responses.create({ model: "gpt-5.5", input: [...history, { role: "user", content: "and then?" }], store: false });
    expect(second.output_text).toBe("served by bob");
    const calls = proxy.codex.responsesCalls.slice(before);
    expect(calls.map((c) => nameOf(c.headers["chatgpt-account-id"]))).toEqual(["alice", "bob"]);
    const sent = (c: RecordedRequest) => ((c.body as { input: { type?: string }[] }).input ?? []).filter((i) => i.type === "reasoning").length;
    expect(sent(calls[0] as RecordedRequest)).toBe(1); // alice could read her own
    expect(sent(calls[1] as RecordedRequest)).toBe(0); // bob gets none of it
  });

  it("after a restart, a conversation whose reasoning another login minted: the backend's refusal costs one retry without it", async () => {
    const client = new OpenAI({ baseURL: proxy.baseURL, apiKey: KEYS.team, maxRetries: 0 });
    // reasoning minted by carol, a login this proxy does not have
    const input = [
      { role: "user" as const, content: "old thread" },
      reasoning(ACCOUNTS.carol),
      { role: "user" as const, content: "go on" },
    ] as unknown as OpenAI.Responses.ResponseInput;
    const before = proxy.codex.responsesCalls.length;
    const answer = await client.responses.create({ model: "gpt-5.5", input, store: false });
    expect(answer.output_text).toMatch(/^served by (alice|bob)$/);
    const calls = proxy.codex.responsesCalls.slice(before);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.headers["chatgpt-account-id"]).toBe(calls[1]?.headers["chatgpt-account-id"]);
  });
});

describe("several logins, their lives", () => {
  let oauth: FakeOAuth;
  let dir: string;
  beforeAll(async () => {
    oauth = await new FakeOAuth(ACCOUNTS.alice).start();
  });
  afterAll(async () => oauth?.stop());
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** alice and bob with these logins, refreshed by the fake OAuth endpoint, answered by the backend. */
  async function refreshingProxy(alice: { access: string; refresh: string }, bob: { access: string; refresh: string }): Promise<RunningProxy> {
    const proxy = await startProxy({
      dir,
      keys,
      env: { CODEX_REFRESH_URL: oauth.url },
      logins: [
        { name: "alice", authJson: loginDoc(ACCOUNTS.alice, alice) },
        { name: "bob", authJson: loginDoc(ACCOUNTS.bob, bob) },
      ],
    });
    proxy.codex.always(backend(new Set()));
    return proxy;
  }

  it("the same conversation lands on the same login after a restart of the local server", async () => {
    dir = mkdtempSync(join(tmpdir(), "logins-restart-"));
    const answers: string[][] = [];
    for (let run = 0; run < 2; run++) {
      const proxy = await startProxy({ dir, keys, logins: [login("alice"), login("bob"), login("carol")] });
      proxy.codex.always(backend(new Set()));
      const got: string[] = [];
      for (let i = 0; i < 12; i++) got.push(await turn("chat", proxy, KEYS.team, `restart ${i}`));
      answers.push(got);
      await proxy.stop();
    }
    expect(answers[1]).toEqual(answers[0]);
    expect(new Set(answers[0]).size).toBeGreaterThan(1);
  });

  it("LOGIN_POLICY=fill: new conversations fill the first login with room, the next takes over when it rests", async () => {
    dir = mkdtempSync(join(tmpdir(), "logins-fill-"));
    const limited = new Set<Name>();
    const proxy = await startProxy({ dir, keys, env: { LOGIN_POLICY: "fill" }, logins: [login("alice"), login("bob")] });
    try {
      proxy.codex.always(backend(limited));
      for (let i = 0; i < 8; i++) expect(await turn("chat", proxy, KEYS.team, `fill ${i}`)).toBe("served by alice");
      limited.add("alice");
      for (let i = 0; i < 4; i++) expect(await turn("chat", proxy, KEYS.team, `fill more ${i}`)).toBe("served by bob");
    } finally {
      await proxy.stop();
    }
  });

  it("a dead login is skipped, its bound key told to log in again naming it, the others go on", async () => {
    dir = mkdtempSync(join(tmpdir(), "logins-dead-"));
    const alice = oauth.issue({ expiredAccess: true, accountId: ACCOUNTS.alice });
    oauth.spoil(alice.refresh, "refresh_token_invalidated");
    const bob = oauth.issue({ accountId: ACCOUNTS.bob });
    const proxy = await refreshingProxy(alice, bob);
    try {
      for (let i = 0; i < 6; i++) expect(await turn("chat", proxy, KEYS.team, `dead ${i}`)).toBe("served by bob");
      const res = await fetch(`${proxy.baseURL}/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEYS.alice}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-5.5", messages: [{ role: "user", content: "hi" }] }),
      });
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("login_expired");
      expect(body.error.message).toMatch(/^Login 'alice': /);
      expect(servedBy(proxy).every((n) => n === "bob")).toBe(true);
      const status = (await (await fetch(`${proxy.baseURL}/status`, { headers: { authorization: `Bearer ${KEYS.team}` } })).json()) as {
        logins: { name: string; state: string }[];
      };
      expect(status.logins.map((l) => [l.name, l.state])).toEqual([
        ["alice", "dead"],
        ["bob", "ok"],
      ]);
    } finally {
      await proxy.stop();
    }
  });

  it("two logins that come due under load: one refresh each", async () => {
    dir = mkdtempSync(join(tmpdir(), "logins-refresh-"));
    const alice = oauth.issue({ expiredAccess: true, accountId: ACCOUNTS.alice });
    const bob = oauth.issue({ expiredAccess: true, accountId: ACCOUNTS.bob });
    const calls = oauth.calls.length;
    const proxy = await refreshingProxy(alice, bob);
    try {
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => turn("chat", proxy, KEYS.team, `load ${i}`)));
      expect(new Set(answers)).toEqual(new Set(["served by alice", "served by bob"]));
      expect(
        oauth.calls
          .slice(calls)
          .map((c) => c.refreshToken)
          .sort(),
      ).toEqual([alice.refresh, bob.refresh].sort());
    } finally {
      await proxy.stop();
    }
  });

  it("the logins' files: a repeated --auth-path (named or by file), a folder of them, and one alone is 'default'", async () => {
    dir = mkdtempSync(join(tmpdir(), "logins-paths-"));
    const { readLocalConfig } = await import("../lambda/config.js");
    const logins = (env: Record<string, string>, argv: string[]) => {
      const command = readLocalConfig(env, argv);
      return command.kind === "serve" ? command.config.logins.map((l) => [l.name, l.path]) : [];
    };
    expect(logins({}, ["--auth-path", `alice=${dir}/a.json`, `--auth-path=${dir}/.codex-bob/auth.json`])).toEqual([
      ["alice", `${dir}/a.json`],
      ["codex-bob", `${dir}/.codex-bob/auth.json`],
    ]);
    writeFileSync(join(dir, "carol.json"), "{}");
    writeFileSync(join(dir, "dave.json"), "{}");
    expect(logins({ CODEX_AUTH_PATH: dir }, [])).toEqual([
      ["carol", join(dir, "carol.json")],
      ["dave", join(dir, "dave.json")],
    ]);
    expect(logins({}, ["--auth-path", join(dir, "carol.json")])).toEqual([["default", join(dir, "carol.json")]]);
    expect(() => readLocalConfig({}, ["--auth-path", `${dir}/x/auth.json`, "--auth-path", `${dir}/y/x/auth.json`])).toThrow(/Two logins are named 'x'/);
    expect(() => readLocalConfig({}, ["--auth-path"])).toThrow(/--auth-path needs a value/);
  });

  it("a key bound to a login that does not exist stops the start with a clear error", async () => {
    dir = mkdtempSync(join(tmpdir(), "logins-bad-"));
    const { readLocalConfig } = await import("../lambda/config.js");
    expect(() => readLocalConfig({ PROXY_API_KEYS: "sk-abc@nobody", CODEX_AUTH_PATH: `alice=${dir}/a.json,bob=${dir}/b.json` }, [])).toThrow(
      /bound to 'nobody', which is no login of this proxy \(its logins: alice, bob\)/,
    );
  });
});

describe("the login pool on its own", () => {
  const source = (account: string): TokenSource => ({
    kind: "test",
    loginHint: "log in",
    get: async () => ({ kind: "chatgpt", accessToken: "t", accountId: account }),
    recover: async () => undefined,
    describe: async () => ({ name: account, state: "ok" }),
  });

  it("a resting login is tried again once a minute when no other can serve, and a success ends its rest", async () => {
    let now = 1_000_000;
    const pool = new LoginPool(
      [
        { name: "alice", source: source("a") },
        { name: "bob", source: source("b") },
      ],
      () => now,
    );
    pool.noteLimit("alice", now + 3_600_000);
    pool.noteLimit("bob", now + 7_200_000);
    const limited = await pool
      .route(undefined, "c1")
      .next()
      .catch((err: ProxyError) => err);
    expect((limited as ProxyError).headers["retry-after"]).toBe("3600");
    now += 61_000;
    const route = pool.route(undefined, "c1");
    const probe = await route.next(); // the one resting shortest, tried anyway
    expect(probe.login.name).toBe("alice");
    route.served(probe.login);
    expect(pool.restingUntil("alice")).toBeUndefined();
    expect((await pool.route(undefined, "c2").next()).login.name).toBe("alice");
    // bob, still resting, gets his probe too, and not another within the minute
    now += 10_000;
    expect((await pool.route(["bob"], "c3").next()).login.name).toBe("bob");
    expect(
      await pool
        .route(["bob"], "c4")
        .next()
        .catch((err: ProxyError) => err.code),
    ).toBe("usage_limit_reached");
  });
});

describe.skipIf(codexCli() === undefined)(`the real Codex CLI ${CODEX_VERSION} on several logins`, () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a whole task, remote compaction included, stays on one login: the compaction item goes back to the login that minted it", async () => {
    dir = mkdtempSync(join(tmpdir(), "logins-codex-"));
    const proxy = await startProxy({ dir, keys: [KEYS.team], logins: [login("alice"), login("bob"), login("carol")], env: { ALLOWED_MODELS: "gpt-5.5,gpt-5.4-mini" } });
    try {
      proxy.codex.always(scriptedAgent(proxy.codex));
      const run = await runCodex({ setup: "builtin", baseURL: proxy.baseURL, key: KEYS.team, prompt: "Run the command that prints the tool marker, then say what it printed." });
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toContain(FINAL_ANSWER);
      const calls = proxy.codex.responsesCalls;
      // the task compacted remotely, and the minted item was sent back
      expect(calls.some((c) => JSON.stringify(c.body).includes('"type":"compaction"'))).toBe(true);
      expect(new Set(servedBy(proxy)).size).toBe(1);
    } finally {
      await proxy.stop();
    }
  }, 90_000);
});
