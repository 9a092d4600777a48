/**
 * The real Codex CLI 0.171.0 through the proxy, in both setups users choose (a custom provider, and
 * the built-in OpenAI provider pointed at the proxy), through the local server and through the Lambda
 * bundle under the real runtime client: a task with a tool call whose context fills up, so Codex
 * compacts in the middle of it — remotely (built-in provider) or with a local summary (custom
 * provider) — and then completes. No WebSocket retry may reach the user.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CODEX_VERSION, codexCli, FINAL_ANSWER, isSummaryRequest, runCodex, scriptedAgent, TOOL_OUTPUT, type CodexSetup } from "./support/codex-cli.js";
import type { FakeCodex, RecordedRequest } from "./support/fake-codex.js";
import { lambdaRuntimes, ricInstalled, startLambdaTarget, type LambdaTarget } from "./support/lambda.js";
import { startProxy, type RunningProxy } from "./support/proxy.js";

const KEY = "sk-codex-cli-test-key-0000000001";
const installed = codexCli() !== undefined;
const PROMPT = "Run the echo command and tell me what it printed.";

it(`the Codex CLI ${CODEX_VERSION} is installed (CI runs npm run codex:install)`, () => {
  if (process.env.CI) expect(installed).toBe(true);
});

type Input = { type?: string; id?: unknown; encrypted_content?: unknown }[];
const inputOf = (r: RecordedRequest) => ((r.body as { input?: Input }).input ?? []) as Input;

/** What every Codex task must show, whatever the setup and the target. */
async function codexTask(setup: CodexSetup, baseURL: string, codex: FakeCodex, requestLines: () => { method: string; path: string; status: number }[]) {
  const before = codex.responsesCalls.length;
  const linesBefore = requestLines().length;
  codex.always(scriptedAgent(codex));
  const run = await runCodex({ setup, baseURL, key: KEY, prompt: PROMPT });
  const output = run.stdout + run.stderr;
  expect(run.code, output).toBe(0);
  expect(run.stdout).toContain(FINAL_ANSWER);
  expect(output).not.toMatch(/Reconnecting|Falling back from WebSockets|stream disconnected|error:/i);

  const calls = codex.responsesCalls.slice(before);
  // the tool ran, on the user's machine, and its output went back to the model
  expect(JSON.stringify(calls.map(inputOf))).toContain(TOOL_OUTPUT);
  for (const call of calls) expect(call.headers.authorization).toMatch(/^Bearer ey/); // the login's token, never the client key
  const probes = requestLines()
    .slice(linesBefore)
    .filter((l) => l.method === "GET" && /\/responses$/.test(l.path));
  return { calls, probes, output };
}

function remoteCompaction(calls: RecordedRequest[]) {
  const at = calls.findIndex((c) => inputOf(c).at(-1)?.type === "compaction_trigger");
  expect(at, "a compaction request").toBeGreaterThan(0);
  const trigger = inputOf(calls[at] as RecordedRequest).at(-1);
  expect(trigger).toEqual({ type: "compaction_trigger" });
  const after = calls.slice(at + 1);
  expect(after.length).toBeGreaterThan(0);
  // the item the backend minted came back with its cmp_ id and content (the fake refuses it otherwise)
  const carried = inputOf(after[0] as RecordedRequest).find((i) => i.type === "compaction");
  expect(carried?.id).toMatch(/^cmp_/);
  expect(carried?.encrypted_content).toEqual(expect.any(String));
}

function localCompaction(calls: RecordedRequest[]) {
  expect(calls.some((c) => inputOf(c).some((i) => i.type === "compaction_trigger" || i.type === "compaction"))).toBe(false);
  expect(calls.some((c) => isSummaryRequest(inputOf(c).at(-1) as never))).toBe(true);
}

describe.skipIf(!installed)("the Codex CLI through the local server", () => {
  let proxy: RunningProxy;
  const logLines: string[] = [];
  const lines = () =>
    logLines.map((l) => JSON.parse(l) as { msg: string; method: string; path: string; status: number }).filter((l) => l.msg === "request" || l.msg === "stream ended");
  beforeAll(async () => {
    proxy = await startProxy({ keys: [KEY], logLines, env: { ALLOWED_MODELS: "gpt-5.5" } });
  });
  afterAll(async () => proxy?.stop());

  it("built-in OpenAI provider (openai_base_url + codex login --with-api-key): one WebSocket probe refused with 426, a tool call, a remote compaction mid-task, done", async () => {
    const { calls, probes } = await codexTask("builtin", proxy.baseURL, proxy.codex, lines);
    expect(probes).toEqual([expect.objectContaining({ status: 426 })]);
    remoteCompaction(calls);
  }, 90_000);

  it("custom provider (wire_api = responses): no WebSocket probe, a tool call, a local compaction mid-task, done", async () => {
    const { calls, probes } = await codexTask("custom", proxy.baseURL, proxy.codex, lines);
    expect(probes).toEqual([]);
    localCompaction(calls);
  }, 90_000);
});

describe.skipIf(!installed || !ricInstalled()).each(lambdaRuntimes())("the Codex CLI through the Lambda bundle under the real runtime on $name", ({ nodePath }) => {
  let target: LambdaTarget;
  const lines = () =>
    target.logs
      .filter((l) => l.includes('"msg":"request"') || l.includes('"msg":"stream ended"'))
      .map((l) => JSON.parse(l.slice(l.indexOf("{"))) as { method: string; path: string; status: number });
  beforeAll(async () => {
    target = await startLambdaTarget({ nodePath, key: KEY, env: { ALLOWED_MODELS: "gpt-5.5", LOG_LEVEL: "info" }, concurrency: 2 });
  }, 120_000);
  afterAll(async () => target?.stop());

  it("built-in provider: the probe (its Upgrade header dropped by the Function URL) refused with 426 at once, a remote compaction mid-task, done", async () => {
    const { calls, probes } = await codexTask("builtin", `${target.lambda.url}/v1`, target.codex, lines);
    expect(probes).toEqual([expect.objectContaining({ status: 426 })]);
    remoteCompaction(calls);
    expect(target.lambda.failures).toEqual([]);
  }, 90_000);

  it("custom provider: a tool call and a local compaction mid-task, done", async () => {
    const { calls, probes } = await codexTask("custom", `${target.lambda.url}/v1`, target.codex, lines);
    expect(probes).toEqual([]);
    localCompaction(calls);
    expect(target.lambda.failures).toEqual([]);
  }, 90_000);
});
