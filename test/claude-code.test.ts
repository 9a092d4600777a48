/**
 * The real Claude Code CLI 2.1.332 through the proxy, on the local server and the Lambda bundle under
 * the real runtime client: a prompt that makes its model load WebSearch through ToolSearch and call
 * it; Claude Code's WebSearch then makes its own request with Anthropic's web_search server tool,
 * which the proxy turns into the backend's search, and the results (every URL) come back into the
 * main loop as the tool's result.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLAUDE_CODE_VERSION, claudeCli, runClaude } from "./support/claude-cli.js";
import { functionCall, message, offersSearch, searchTurn, turnOf, type Page } from "./support/codex-turns.js";
import type { FakeCodex, RecordedRequest, Responder } from "./support/fake-codex.js";
import { lambdaRuntimes, ricInstalled, startLambdaTarget, type LambdaTarget } from "./support/lambda.js";
import { startProxy, type RunningProxy } from "./support/proxy.js";

const KEY = "sk-claude-code-test-key-00000001";
const installed = claudeCli() !== undefined;
const PAGES: Page[] = [
  { url: "https://nodejs.org/en/blog/release/v24.11.0", title: "Node.js 24.11.0 (LTS)" },
  { url: "https://github.com/nodejs/Release", title: "Node.js Release schedule" },
];
const QUERY = "node 24 lts date";
const FINAL = "Node.js 24 entered LTS in October 2025 (sources: nodejs.org, github.com/nodejs/Release).";

it(`Claude Code ${CLAUDE_CODE_VERSION} is installed (CI runs npm run claude:install)`, () => {
  if (process.env.CI) expect(installed).toBe(true);
});

type Body = { tools?: { type?: string; name?: string }[]; input: { type?: string; output?: unknown; name?: string }[] };
const bodyOf = (r: RecordedRequest) => r.body as Body;
const toolNames = (b: Body) => (b.tools ?? []).map((t) => t.name ?? t.type);

/** The model: load WebSearch with ToolSearch, call it, answer from its result; search when asked by the sub-request. */
function model(): Responder {
  return (request) => {
    const body = bodyOf(request);
    const offered = offersSearch(body);
    if (offered) {
      const text = "Node.js 24 entered long-term support in October 2025.";
      return {
        kind: "sse",
        events: searchTurn({ searches: [{ query: QUERY, pages: PAGES }], text, cites: [{ ...(PAGES[0] as Page), phrase: "October 2025" }], withSources: offered.withSources }),
      };
    }
    const searched = body.input.some((i) => i.type === "function_call_output" && String(JSON.stringify(i.output)).includes("Web search results"));
    if (searched) return { kind: "sse", events: turnOf([message(FINAL)]) };
    if (toolNames(body).includes("WebSearch")) return { kind: "sse", events: turnOf([functionCall("WebSearch", { query: QUERY })]) };
    if (toolNames(body).includes("ToolSearch")) return { kind: "sse", events: turnOf([functionCall("ToolSearch", { query: "select:WebSearch" })]) };
    return { kind: "sse", events: turnOf([message("(no tools offered)")]) };
  };
}

async function webSearchTask(baseURL: string, codex: FakeCodex) {
  const before = codex.responsesCalls.length;
  codex.always(model());
  const run = await runClaude({ baseURL, key: KEY, prompt: "Search the web: when did Node 24 become LTS?", allowedTools: ["WebSearch"] });
  expect(run.code, run.stdout + run.stderr).toBe(0);
  const result = JSON.parse(run.stdout) as { result: string; is_error: boolean };
  expect(result.is_error).toBe(false);
  expect(result.result).toContain(FINAL);

  const calls = codex.responsesCalls.slice(before).map(bodyOf);
  // the deferred tool was loaded through ToolSearch, then called
  expect(calls.some((b) => b.input.some((i) => i.type === "function_call" && i.name === "ToolSearch"))).toBe(true);
  // WebSearch's own request reached the backend as its web_search tool, never Anthropic's dated type
  const sub = calls.filter((b) => offersSearch(b));
  expect(sub).toHaveLength(1);
  expect(sub[0]?.tools).toEqual([{ type: "web_search" }]);
  // and its results, every URL, came back into the main loop as the tool's result
  const output = calls.flatMap((b) => b.input).find((i) => i.type === "function_call_output" && String(JSON.stringify(i.output)).includes("Web search results"));
  const text = JSON.stringify(output?.output);
  expect(text).toContain(QUERY);
  for (const page of PAGES) expect(text).toContain(page.url);
}

describe.skipIf(!installed)("Claude Code's WebSearch through the local server", () => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy({ keys: [KEY], env: { ALLOWED_MODELS: "gpt-5.5,gpt-5.4-mini" } });
  });
  afterAll(async () => proxy?.stop());
  it("ToolSearch loads WebSearch, its search runs on the backend, and every URL reaches the main loop", async () => {
    await webSearchTask(proxy.url, proxy.codex);
  }, 90_000);
});

describe.skipIf(!installed || !ricInstalled()).each(lambdaRuntimes())("Claude Code's WebSearch through the Lambda bundle under the real runtime on $name", ({ nodePath }) => {
  let target: LambdaTarget;
  beforeAll(async () => {
    target = await startLambdaTarget({ nodePath, key: KEY, env: { ALLOWED_MODELS: "gpt-5.5,gpt-5.4-mini" }, concurrency: 2 });
  }, 120_000);
  afterAll(async () => target?.stop());
  it("ToolSearch loads WebSearch, its search runs on the backend, and every URL reaches the main loop", async () => {
    await webSearchTask(target.lambda.url, target.codex);
    expect(target.lambda.failures).toEqual([]);
  }, 90_000);
});
