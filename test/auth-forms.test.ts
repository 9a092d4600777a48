/** The auth.json forms local mode accepts, and the model allowlist sources. */
import { describe, expect, it } from "vitest";
import { FakeCodex } from "./support/fake-codex.js";
import { accessToken, recorded } from "./support/fixtures.js";
import { chatBody, startProxy } from "./support/proxy.js";

const TEXT = recorded("recorded.openai-phase.1.jsonl");

async function oneChat(authJson: unknown, env: Record<string, string> = {}) {
  const proxy = await startProxy({ authJson, env: { ALLOWED_MODELS: "gpt-5.5", ...env } });
  try {
    proxy.codex.always(() => ({ kind: "sse", events: TEXT }));
    const res = await fetch(`${proxy.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chatBody()) });
    expect(res.status, await res.clone().text()).toBe(200);
    return proxy.codex.requests.at(-1);
  } finally {
    await proxy.stop();
  }
}

describe("auth.json forms", () => {
  it("older flat form", async () => {
    const token = accessToken("acc-flat");
    const req = await oneChat({ access_token: token, account_id: "acc-flat", refresh_token: "rt" });
    expect(req?.headers.authorization).toBe(`Bearer ${token}`);
    expect(req?.headers["chatgpt-account-id"]).toBe("acc-flat");
  });

  it("account id taken from the access token's claim when absent", async () => {
    const token = accessToken("acc-from-jwt");
    const req = await oneChat({ tokens: { access_token: token, refresh_token: "rt" } });
    expect(req?.headers["chatgpt-account-id"]).toBe("acc-from-jwt");
  });

  it("an API-key-only file forwards to OPENAI_BASE_URL with that key", async () => {
    const publicApi = await new FakeCodex().start();
    try {
      publicApi.always(() => ({ kind: "sse", events: TEXT }));
      const base = publicApi.url.replace("/backend-api/codex", "/v1");
      const proxy = await startProxy({ authJson: { OPENAI_API_KEY: "sk-test-api-key" }, env: { OPENAI_BASE_URL: base, ALLOWED_MODELS: "gpt-5.5" } });
      try {
        const res = await fetch(`${proxy.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chatBody()) });
        expect(res.status).toBe(200);
        const req = publicApi.requests.at(-1);
        expect(req?.path).toBe("/v1/responses");
        expect(req?.headers.authorization).toBe("Bearer sk-test-api-key");
        expect(req?.headers["chatgpt-account-id"]).toBeUndefined();
        expect(proxy.codex.requests).toEqual([]);
      } finally {
        await proxy.stop();
      }
    } finally {
      await publicApi.stop();
    }
  });

  it("a token without any account id is refused at start", async () => {
    await expect(startProxy({ authJson: { tokens: { access_token: "not-a-jwt" } } })).rejects.toThrow(/no ChatGPT account id.*codex login/);
  });
});

describe("model allowlist", () => {
  it("ALLOWED_MODELS wins over the live catalog, and effort aliases resolve", async () => {
    const proxy = await startProxy({ env: { ALLOWED_MODELS: "gpt-5.4, gpt-5.5" } });
    try {
      const list = (await (await fetch(`${proxy.baseURL}/models`)).json()) as { data: { id: string }[] };
      expect(list.data.map((m) => m.id)).toEqual(["gpt-5.4", "gpt-5.5"]);
      expect(proxy.codex.requests.filter((r) => r.path.includes("/models"))).toEqual([]);
      const bad = await fetch(`${proxy.baseURL}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(chatBody({ model: "gpt-5.6-sol" })),
      });
      expect(((await bad.json()) as { error: { message: string } }).error.message).toContain("Available models: gpt-5.4, gpt-5.5");
    } finally {
      await proxy.stop();
    }
  });

  it("falls back to the built-in list when the catalog cannot be read", async () => {
    const proxy = await startProxy();
    try {
      await proxy.codex.stop(); // catalog unreachable
      const list = (await (await fetch(`${proxy.baseURL}/models`)).json()) as { data: { id: string }[] };
      expect(list.data.map((m) => m.id)).toEqual(["gpt-5.6-sol", "gpt-5.6-terra", "gpt-5.6-luna", "gpt-5.5", "gpt-5.4", "gpt-5.4-mini"]);
    } finally {
      await proxy.stop().catch(() => {});
    }
  });
});
