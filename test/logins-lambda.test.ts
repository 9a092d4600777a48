/**
 * Several logins on the Lambda bundle under the real runtime client, behind the emulated Function
 * URL, with each login in a secret of its own (CODEX_LOGINS) and keys bound to logins in the keys
 * secret: the binding holds on all three dialects, a usage limit fails over before the first byte,
 * the logins' states show in /health and /status, and a key bound to a login that does not exist
 * makes the function refuse every request (it fails closed) and say why in its log.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { message, turnOf } from "./support/codex-turns.js";
import type { RecordedRequest, Responder } from "./support/fake-codex.js";
import { loginDoc } from "./support/fake-oauth.js";
import { accessToken, fixtureJson } from "./support/fixtures.js";
import { lambdaRuntimes, ricInstalled, startLambdaTarget, type LambdaTarget } from "./support/lambda.js";

const ACCOUNTS: Record<string, string> = { "acc-test-1234": "default", "acc-alice-000001": "alice", "acc-bob-0000002": "bob" };
const TEAM = "sk-lambda-team-key-0000000001";
const ALICE = "sk-lambda-alice-key-000000001";
const doc = (account: string) => JSON.stringify(loginDoc(account, { access: accessToken(account), refresh: `rt.${account}` }));
const USAGE_LIMIT = fixtureJson<{ error: Record<string, unknown> }>("error.429-usage-limit-reached.body.json").error;

function backend(limited: Set<string>): Responder {
  return (request: RecordedRequest) => {
    const who = ACCOUNTS[request.headers["chatgpt-account-id"] ?? ""] ?? "?";
    if (limited.has(who)) return { kind: "json", status: 429, body: { error: { ...USAGE_LIMIT, resets_in_seconds: 1800, resets_at: Math.floor(Date.now() / 1000) + 1800 } } };
    return { kind: "sse", events: turnOf([message(`served by ${who}`)]) };
  };
}

const BODIES = {
  "/v1/chat/completions": (topic: string) => ({ model: "gpt-5.5", messages: [{ role: "user", content: topic }] }),
  "/v1/responses": (topic: string) => ({ model: "gpt-5.5", input: topic }),
  "/v1/messages": (topic: string) => ({ model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user", content: topic }] }),
};

async function ask(url: string, path: keyof typeof BODIES, key: string, topic: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(BODIES[path](topic)),
  });
  return { status: res.status, text: await res.text() };
}

for (const runtime of lambdaRuntimes()) {
  describe.skipIf(!ricInstalled())(`several logins on the Lambda bundle, ${runtime.name}`, () => {
    let target: LambdaTarget;
    const limited = new Set<string>();
    beforeAll(async () => {
      target = await startLambdaTarget({
        nodePath: runtime.nodePath,
        key: TEAM,
        keysSecret: { keys: [TEAM, { key: ALICE, logins: ["alice"] }] },
        secrets: { "login-alice": doc("acc-alice-000001"), "login-bob": doc("acc-bob-0000002") },
        env: { CODEX_LOGINS: "alice=login-alice,bob=login-bob", ALLOWED_MODELS: "gpt-5.5,gpt-5.4-mini" },
      });
      target.codex.always(backend(limited));
    }, 120_000);
    afterAll(async () => target?.stop());

    it("a key bound to alice reaches alice only, on all three dialects; the team key spreads over all three logins", async () => {
      for (const path of Object.keys(BODIES) as (keyof typeof BODIES)[]) {
        for (let i = 0; i < 4; i++) {
          const answer = await ask(target.lambda.url, path, ALICE, `${path} ${i}`);
          expect(answer.status, answer.text).toBe(200);
          expect(answer.text).toContain("served by alice");
        }
      }
      const team = new Set<string>();
      for (let i = 0; i < 24; i++) team.add(/served by (\w+)/.exec((await ask(target.lambda.url, "/v1/chat/completions", TEAM, `team ${i}`)).text)?.[1] ?? "?");
      expect(team).toEqual(new Set(["default", "alice", "bob"]));
    }, 60_000);

    it("a usage limit fails over before the first byte; alice's own key gets the 429 and never another login", async () => {
      limited.add("alice");
      try {
        let moved = 0;
        for (let i = 0; i < 12; i++) {
          const answer = await ask(target.lambda.url, "/v1/responses", TEAM, `limit ${i}`);
          expect(answer.status, answer.text).toBe(200);
          expect(answer.text).not.toContain("served by alice");
          moved++;
        }
        expect(moved).toBe(12);
        const before = target.codex.responsesCalls.length;
        const refused = await ask(target.lambda.url, "/v1/messages", ALICE, "alice while limited");
        expect(refused.status).toBe(429);
        expect(JSON.parse(refused.text).type).toBe("error"); // the Messages dialect's own shape
        expect(target.codex.responsesCalls.slice(before).every((r) => ACCOUNTS[r.headers["chatgpt-account-id"] ?? ""] === "alice")).toBe(true);
        const health = (await (await fetch(`${target.lambda.url}/health`)).json()) as { logins: { name: string; state: string }[] };
        expect(health.logins.map((l) => [l.name, l.state])).toEqual([
          ["default", "ok"],
          ["alice", "resting"],
          ["bob", "ok"],
        ]);
        const status = (await (await fetch(`${target.lambda.url}/v1/status`, { headers: { authorization: `Bearer ${TEAM}` } })).json()) as {
          logins: { name: string; state: string }[];
        };
        expect(status.logins.find((l) => l.name === "alice")?.state).toBe("resting");
      } finally {
        limited.clear();
      }
    }, 60_000);
  });

  describe.skipIf(!ricInstalled())(`a key bound to a login there is not, on the Lambda bundle, ${runtime.name}`, () => {
    let target: LambdaTarget;
    beforeAll(async () => {
      target = await startLambdaTarget({
        nodePath: runtime.nodePath,
        key: TEAM,
        keysSecret: { keys: [TEAM, { key: ALICE, logins: ["nobody"] }] },
        env: { ALLOWED_MODELS: "gpt-5.5" },
      });
      target.codex.always(backend(new Set()));
    }, 120_000);
    afterAll(async () => target?.stop());

    it("fails closed: every request is refused with 503, and the log says which key and login", async () => {
      const answer = await ask(target.lambda.url, "/v1/chat/completions", TEAM, "hi");
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.text).error.code).toBe("api_keys_unavailable");
      expect(target.logs.join("\n")).toMatch(/bound to 'nobody', which is no login of this proxy \(its logins: default\)/);
      expect(target.codex.responsesCalls).toHaveLength(0);
    }, 60_000);
  });
}
