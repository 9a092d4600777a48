/**
 * Web search in every dialect, on the backend's own `web_search` tool: Anthropic's dated server tool
 * (what Claude Code's WebSearch sends) with `@anthropic-ai/sdk`, `web_search_options` with the
 * `openai` SDK, and the Responses pass-through. The fake backend searches only when the request
 * carries its own `web_search` tool, sends sources only when `include` asks for them, and refuses
 * Anthropic's dated tool types, as the real one does.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { message, offersSearch, searchTurn, turnOf, type Page } from "./support/codex-turns.js";
import type { FakeCodex, RecordedRequest } from "./support/fake-codex.js";
import { lambdaRuntimes, ricInstalled, startLambdaTarget, type LambdaTarget } from "./support/lambda.js";
import { startProxy, type RunningProxy } from "./support/proxy.js";

const KEY = "sk-web-search-test-key-000000001";
const NODE: Page = { url: "https://nodejs.org/en/blog/release/v24.0.0", title: "Node.js 24 released" };
const LTS: Page = { url: "https://github.com/nodejs/Release#release-schedule", title: "Node.js release schedule" };
const SPAM: Page = { url: "https://spam.example.com/node", title: "Spam" };
const TEXT = "Node.js 24 became LTS in October 2025, and it is supported until April 2028.";

/** The model's side: it searches when it can, and says so when it cannot. */
function searcher(searches: { query: string; pages: Page[] }[] = [{ query: "node 24 lts date", pages: [NODE, LTS, SPAM] }]) {
  return (request: RecordedRequest) => {
    const offered = offersSearch(request.body);
    if (!offered) return { kind: "sse" as const, events: turnOf([message("I cannot search the web here.")]) };
    const cites = [
      { ...NODE, phrase: "Node.js 24 became LTS in October 2025" },
      { ...LTS, phrase: "supported until April 2028" },
    ];
    return { kind: "sse" as const, events: searchTurn({ searches, text: TEXT, cites, withSources: offered.withSources }) };
  };
}

interface Target {
  base: string;
  codex: FakeCodex;
}

const lastBody = (t: Target) =>
  t.codex.responsesCalls.at(-1)?.body as { tools?: Record<string, unknown>[]; include?: string[]; tool_choice?: unknown; input: Record<string, unknown>[] };

function messagesSearch(target: () => Target): void {
  const anthropic = () => new Anthropic({ baseURL: target().base, apiKey: KEY, maxRetries: 0 });
  const ask = (tool: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    anthropic().messages.create({ model: "gpt-5.5", max_tokens: 4000, messages: [{ role: "user", content: "When did Node 24 become LTS?" }], tools: [tool as never], ...extra });

  it.each(["web_search_20250305", "web_search_20260209", "web_search_20260318"])(
    "%s: server_tool_use, web_search_tool_result, cited text and the search count, from the backend's own web_search",
    async (type) => {
      const t = target();
      t.codex.always(searcher());
      const answer = await ask({ type, name: "web_search", max_uses: 8 });

      const sent = lastBody(t);
      expect(sent.tools).toEqual([{ type: "web_search" }]);
      expect(sent.include).toContain("web_search_call.action.sources");
      const [use, result, ...text] = answer.content as unknown as Record<string, unknown>[];
      expect(use).toMatchObject({ type: "server_tool_use", name: "web_search", input: { query: "node 24 lts date" } });
      expect(use?.id).toMatch(/^srvtoolu_/);
      expect(result).toMatchObject({ type: "web_search_tool_result", tool_use_id: use?.id });
      const results = result?.content as { type: string; url: string; title: string; encrypted_content: string }[];
      expect(results.map((r) => r.url)).toEqual([NODE.url, LTS.url, SPAM.url]);
      // folded, the cited pages take the titles their citations give; an uncited one keeps its URL
      expect(results.map((r) => r.title)).toEqual([NODE.title, LTS.title, SPAM.url]);
      expect(results.every((r) => r.type === "web_search_result" && r.encrypted_content !== "")).toBe(true);
      expect(text.map((b) => b.text).join("")).toBe(TEXT);
      const citations = text.flatMap((b) => (b.citations as Record<string, unknown>[] | undefined) ?? []);
      expect(citations).toEqual([
        expect.objectContaining({ type: "web_search_result_location", url: NODE.url, title: NODE.title, cited_text: "Node.js 24 became LTS in October 2025" }),
        expect.objectContaining({ type: "web_search_result_location", url: LTS.url, title: LTS.title, cited_text: "supported until April 2028" }),
      ]);
      expect(answer.usage.server_tool_use?.web_search_requests).toBe(1);
      expect(answer.stop_reason).toBe("end_turn");
    },
  );

  it("streamed: the same blocks as events (the query as an input_json_delta, citations as citations_delta), and finalMessage() folds them", async () => {
    const t = target();
    t.codex.always(searcher());
    const stream = anthropic().messages.stream({
      model: "gpt-5.5",
      max_tokens: 4000,
      messages: [{ role: "user", content: "Node 24 LTS?" }],
      tools: [{ type: "web_search_20250305", name: "web_search", max_uses: 8 }],
    });
    const deltas: string[] = [];
    stream.on("streamEvent", (event) => {
      if (event.type === "content_block_delta") deltas.push(event.delta.type);
    });
    const final = await stream.finalMessage();
    expect(deltas).toContain("input_json_delta");
    expect(deltas.filter((d) => d === "citations_delta")).toHaveLength(2);
    expect(final.content.map((b) => b.type)).toEqual(["server_tool_use", "web_search_tool_result", "text"]);
    expect((final.content[0] as { input: unknown }).input).toEqual({ query: "node 24 lts date" });
    expect(final.usage.server_tool_use?.web_search_requests).toBe(1);
  });

  it("two searches in one answer: two server_tool_use blocks, each with its results, counted twice", async () => {
    const t = target();
    t.codex.always(
      searcher([
        { query: "node 24 release", pages: [NODE] },
        { query: "node release schedule", pages: [LTS] },
      ]),
    );
    const answer = await ask({ type: "web_search_20250305", name: "web_search" });
    const types = answer.content.map((b) => b.type);
    expect(types.slice(0, 4)).toEqual(["server_tool_use", "web_search_tool_result", "server_tool_use", "web_search_tool_result"]);
    expect(answer.usage.server_tool_use?.web_search_requests).toBe(2);
  });

  it("allowed_domains and user_location reach the backend; blocked_domains are taken out of the results and citations", async () => {
    const t = target();
    t.codex.always(searcher());
    const answer = await ask({
      type: "web_search_20250305",
      name: "web_search",
      allowed_domains: ["nodejs.org", "github.com"],
      blocked_domains: ["example.com"],
      user_location: { type: "approximate", city: "Berlin", country: "DE", timezone: "Europe/Berlin" },
    });
    expect(lastBody(t).tools).toEqual([
      {
        type: "web_search",
        filters: { allowed_domains: ["nodejs.org", "github.com"] },
        user_location: { type: "approximate", city: "Berlin", country: "DE", timezone: "Europe/Berlin" },
      },
    ]);
    const result = answer.content.find((b) => b.type === "web_search_tool_result") as unknown as { content: { url: string }[] };
    expect(result.content.map((r) => r.url)).toEqual([NODE.url, LTS.url]);
  });

  it("tool_choice naming the search tool makes the backend search", async () => {
    const t = target();
    t.codex.always(searcher());
    await ask({ type: "web_search_20250305", name: "web_search" }, { tool_choice: { type: "tool", name: "web_search" } });
    expect(lastBody(t).tool_choice).toEqual({ type: "web_search" });
  });

  it("a follow-up turn carrying the search blocks goes on: the results reach the model as text, nothing refused, no stored ids", async () => {
    const t = target();
    t.codex.always(searcher());
    const first = await ask({ type: "web_search_20250305", name: "web_search" });
    t.codex.always(() => ({ kind: "sse", events: turnOf([message("April 2028, as found.")]) }));
    const next = await anthropic().messages.create({
      model: "gpt-5.5",
      max_tokens: 4000,
      tools: [{ type: "web_search_20250305", name: "web_search" }],
      messages: [
        { role: "user", content: "When did Node 24 become LTS?" },
        { role: "assistant", content: first.content as never },
        { role: "user", content: "And until when?" },
      ],
    });
    expect((next.content[0] as { text: string }).text).toBe("April 2028, as found.");
    const input = lastBody(t).input;
    const replay = JSON.stringify(input);
    expect(replay).toContain("node 24 lts date");
    for (const page of [NODE, LTS]) expect(replay).toContain(page.url);
    expect(replay).toContain(TEXT);
    expect(input.every((item) => !("id" in item))).toBe(true);
  });

  it.each(["web_fetch_20250910", "code_execution_20250825", "bash_20250124", "text_editor_20250728", "computer_20250124"])(
    "%s keeps its clear 400, nothing upstream",
    async (type) => {
      const t = target();
      const before = t.codex.responsesCalls.length;
      const error = await ask({ type, name: "x" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Anthropic.BadRequestError);
      expect(String((error as Error).message)).toContain("Only web search");
      expect(t.codex.responsesCalls.length).toBe(before);
    },
  );
}

describe("the local server", () => {
  let proxy: RunningProxy;
  const logLines: string[] = [];
  beforeAll(async () => {
    proxy = await startProxy({ keys: [KEY], logLines, env: { ALLOWED_MODELS: "gpt-5.5" } });
  });
  afterAll(async () => proxy?.stop());
  beforeEach(() => proxy.codex.always(() => ({ kind: "json", status: 500, body: { detail: "no reply set" } })));
  const target = () => ({ base: proxy.url, codex: proxy.codex });

  describe("Messages (Claude Code's WebSearch sub-request)", () => messagesSearch(target));

  describe("Chat Completions with web_search_options", () => {
    const openai = () => new OpenAI({ baseURL: proxy.baseURL, apiKey: KEY, maxRetries: 0 });

    it("not streamed: the backend's web_search with the options, message.annotations as OpenAI's search models give them", async () => {
      proxy.codex.always(searcher());
      const completion = await openai().chat.completions.create({
        model: "gpt-5.5",
        messages: [{ role: "user", content: "When did Node 24 become LTS?" }],
        web_search_options: { search_context_size: "high", user_location: { type: "approximate", approximate: { city: "Paris", country: "FR" } } },
      });
      expect(lastBody(target()).tools).toEqual([{ type: "web_search", search_context_size: "high", user_location: { type: "approximate", city: "Paris", country: "FR" } }]);
      const { content, annotations } = completion.choices[0]?.message ?? {};
      expect(content).toBe(TEXT);
      const until = TEXT.indexOf("supported until April 2028");
      expect(annotations).toEqual([
        { type: "url_citation", url_citation: { url: NODE.url, title: NODE.title, start_index: 0, end_index: 37 } },
        { type: "url_citation", url_citation: { url: LTS.url, title: LTS.title, start_index: until, end_index: until + 26 } },
      ]);
      const cited = (annotations ?? []).map((a) => content?.slice(a.url_citation.start_index, a.url_citation.end_index));
      expect(cited).toEqual(["Node.js 24 became LTS in October 2025", "supported until April 2028"]);
    });

    it("streamed: a delta.annotations chunk, its indexes in the whole content (after a preamble message too)", async () => {
      proxy.codex.always((request) => {
        const offered = offersSearch(request.body);
        const events = searchTurn({
          searches: [{ query: "q", pages: [NODE] }],
          text: TEXT,
          cites: [{ ...NODE, phrase: "October 2025" }],
          withSources: Boolean(offered?.withSources),
        });
        // a commentary message first: the answer's text then starts after it and a paragraph break
        const preamble = turnOf([message("Let me look that up.")]).filter((e) => !["response.created", "response.in_progress", "response.completed"].includes(e.type));
        const shifted = events.map((e) =>
          (e as { output_index?: number }).output_index === undefined ? e : ({ ...e, output_index: (e as { output_index: number }).output_index + 1 } as typeof e),
        );
        return { kind: "sse", events: [...shifted.slice(0, 2), ...preamble, ...shifted.slice(2)] };
      });
      const stream = await openai().chat.completions.create({ model: "gpt-5.5", messages: [{ role: "user", content: "q" }], web_search_options: {}, stream: true });
      let content = "";
      const annotations: { url_citation: { start_index: number; end_index: number; url: string } }[] = [];
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta as { content?: string; annotations?: typeof annotations } | undefined;
        content += delta?.content ?? "";
        annotations.push(...(delta?.annotations ?? []));
      }
      expect(content).toBe(`Let me look that up.\n\n${TEXT}`);
      expect(annotations).toHaveLength(1);
      const cite = annotations[0]?.url_citation;
      expect(content.slice(cite?.start_index, cite?.end_index)).toBe("October 2025");
      expect(cite?.url).toBe(NODE.url);
    });

    it("without web_search_options the backend gets no search tool", async () => {
      proxy.codex.always(searcher());
      const completion = await openai().chat.completions.create({ model: "gpt-5.5", messages: [{ role: "user", content: "q" }] });
      expect(lastBody(target()).tools).toBeUndefined();
      expect(completion.choices[0]?.message.content).toBe("I cannot search the web here.");
    });
  });

  describe("the Responses pass-through", () => {
    it("the web_search tool and its events pass through, include keeps the client's sources", async () => {
      proxy.codex.always(searcher());
      const client = new OpenAI({ baseURL: proxy.baseURL, apiKey: KEY, maxRetries: 0 });
      const types: string[] = [];
      const stream = client.responses.stream({ model: "gpt-5.5", input: "Node 24 LTS?", tools: [{ type: "web_search" }], include: ["web_search_call.action.sources"] });
      stream.on("event", (e) => types.push(e.type));
      const final = await stream.finalResponse();
      expect(lastBody(target()).include).toEqual(expect.arrayContaining(["web_search_call.action.sources", "reasoning.encrypted_content"]));
      expect(types).toEqual(expect.arrayContaining(["response.web_search_call.searching", "response.output_text.annotation.added"]));
      const call = final.output.find((o) => o.type === "web_search_call") as { action: { sources: { url: string }[] } };
      expect(call.action.sources.map((s) => s.url)).toEqual([NODE.url, LTS.url, SPAM.url]);
    });
  });

  it("every search is counted in the request's log line", async () => {
    proxy.codex.always(
      searcher([
        { query: "a", pages: [NODE] },
        { query: "b", pages: [LTS] },
      ]),
    );
    await new Anthropic({ baseURL: proxy.url, apiKey: KEY, maxRetries: 0 }).messages.create({
      model: "gpt-5.5",
      max_tokens: 10,
      messages: [{ role: "user", content: "q" }],
      tools: [{ type: "web_search_20250305", name: "web_search" }],
    });
    const line = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).findLast((l) => l.msg === "request" && l.path === "/v1/messages");
    expect(line?.web_searches).toBe(2);
  });

  it("the fake backend, like the real one, refuses Anthropic's dated tool type itself", async () => {
    const res = await fetch(`${proxy.codex.url}/responses`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-5.5", input: [], tools: [{ type: "web_search_20250305" }] }),
    });
    expect(res.status).toBe(400);
  });
});

describe.skipIf(!ricInstalled()).each(lambdaRuntimes())("the Lambda bundle under the real runtime on $name", ({ nodePath }) => {
  let lambda: LambdaTarget;
  beforeAll(async () => {
    lambda = await startLambdaTarget({ nodePath, key: KEY, env: { ALLOWED_MODELS: "gpt-5.5" } });
  }, 120_000);
  afterAll(async () => lambda?.stop());
  describe("Messages", () => messagesSearch(() => ({ base: lambda.lambda.url, codex: lambda.codex })));
});
