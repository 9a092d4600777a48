/**
 * The status page (`GET /status`) in a real browser (Debian's chromium, driven by playwright-core),
 * and the facts behind it (`GET /v1/status`), on the local server and on the Lambda bundle behind
 * the emulated Function URL: the fake backend reports usage windows, then a usage limit and an
 * error. The page must show the windows with their percentages and a countdown that moves, the
 * resting login, the failing requests with their codes and request ids; it must ask for a key and
 * refuse a wrong one; and nothing it is given may hold a secret. Screenshots at desktop and phone
 * width are kept in test-artifacts/.
 */
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessToken, fixtureJson } from "./support/fixtures.js";
import type { FakeCodex } from "./support/fake-codex.js";
import { lambdaRuntimes, ricInstalled, startLambdaTarget, type LambdaTarget } from "./support/lambda.js";
import { ACCOUNT_ID, authJson, startProxy, type RunningProxy } from "./support/proxy.js";
import { message, turnOf } from "./support/codex-turns.js";

const CHROMIUM = "/usr/bin/chromium";
const installed = existsSync(CHROMIUM);
const KEY = "sk-status-page-key-0000000001";
const ARTIFACTS = fileURLToPath(new URL("../test-artifacts/", import.meta.url));
const PROMPT = "status-page secret prompt text 7f3a";
/** an access token whose claims also carry an e-mail address, which must never be shown */
const TOKEN = accessToken(ACCOUNT_ID, Math.floor(Date.now() / 1000) + 3600, { email: "someone@example.com" });

it("chromium is installed (CI installs Debian's chromium package)", () => {
  if (process.env.CI) expect(installed).toBe(true);
});

const NEXT_ROTATION = Date.parse("2026-12-07T03:00:00.000Z");
const LAST_ROTATION = Date.parse("2026-12-06T03:00:00.000Z");

const USAGE = {
  "x-codex-primary-used-percent": "42",
  "x-codex-primary-window-minutes": "300",
  "x-codex-primary-reset-after-seconds": "5400",
  "x-codex-secondary-used-percent": "17.5",
  "x-codex-secondary-window-minutes": "10080",
  "x-codex-secondary-reset-after-seconds": "400000",
  "x-codex-plan-type": "pro",
};

/** One answer with usage windows, one usage limit, one refused request: three requests, two errors. */
async function traffic(base: string, codex: FakeCodex): Promise<{ limitId: string; errorId: string }> {
  const post = (body: unknown) =>
    fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  codex.enqueue({ kind: "sse", events: turnOf([message("Hello.")]), headers: USAGE });
  expect((await post({ model: "gpt-5.5", messages: [{ role: "user", content: PROMPT }] })).status).toBe(200);
  const limit = fixtureJson<{ error: Record<string, unknown> }>("error.429-usage-limit-reached.body.json");
  codex.enqueue({ kind: "json", status: 429, body: { error: { ...limit.error, resets_at: Math.floor(Date.now() / 1000) + 7200, resets_in_seconds: 7200 } } });
  const limited = await post({ model: "gpt-5.5", messages: [{ role: "user", content: PROMPT }] });
  expect(limited.status).toBe(429);
  const refused = await post({ model: "gpt-5.5", messages: "not a list" });
  expect(refused.status).toBe(400);
  return { limitId: limited.headers.get("x-request-id") ?? "", errorId: refused.headers.get("x-request-id") ?? "" };
}

/** What /v1/status returns: the facts, and none of the secrets the fakes handed out. */
async function checkFacts(base: string, ids: { limitId: string; errorId: string }, lambda: boolean) {
  expect((await fetch(`${base}/v1/status`)).status).toBe(401);
  const res = await fetch(`${base}/v1/status`, { headers: { authorization: `Bearer ${KEY}` } });
  expect(res.status).toBe(200);
  const text = await res.text();
  for (const secret of [KEY, TOKEN, "rt.1.test-refresh", ACCOUNT_ID, "someone@example.com", PROMPT]) expect(text).not.toContain(secret);
  const facts = JSON.parse(text);
  expect(facts.runtime).toBe(lambda ? "lambda" : "local");
  if (lambda) expect(facts.instance).toMatch(/^[0-9a-f-]{8,}$/);
  const [login] = facts.logins;
  // on AWS: the secret's rotation dates, as Secrets Manager describes them
  if (lambda) expect([login.next_rotation, login.last_rotation]).toEqual([new Date(NEXT_ROTATION).toISOString(), new Date(LAST_ROTATION).toISOString()]);
  expect(login).toMatchObject({ state: "resting", plan: "plus", account: `…${ACCOUNT_ID.slice(-4)}` });
  expect(login.windows.map((w: { label: string; used_percent: number }) => [w.label, w.used_percent])).toEqual([
    ["5-hour", 42],
    ["weekly", 17.5],
  ]);
  const resets = Date.parse(login.windows[0].resets_at) - Date.now();
  expect(resets).toBeGreaterThan(5_000_000);
  expect(resets).toBeLessThanOrEqual(5_400_000);
  expect(Date.parse(login.resting_until) - Date.now()).toBeGreaterThan(7_000_000);
  expect(facts.models.ids).toContain("gpt-5.5");
  expect(facts.requests.map((r: { status: number }) => r.status)).toEqual([400, 429, 200]);
  expect(facts.requests[2]).toMatchObject({ dialect: "chat", model: "gpt-5.5", status: 200 });
  expect(facts.requests[2].ttfb_ms).toBeGreaterThanOrEqual(0);
  expect(facts.errors.map((e: { error_code: string; request_id: string }) => [e.error_code, e.request_id])).toEqual([
    ["invalid_value", ids.errorId],
    ["usage_limit_reached", ids.limitId],
  ]);
}

/** The page: a key asked for, a wrong one refused, then the facts, a countdown that moves. */
async function checkPage(browser: Browser, base: string, ids: { limitId: string; errorId: string }, name: string) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  // (the browser logs each 401 the page is meant to get, before it asks for a key; nothing else may fail, a CSP refusal included)
  page.on("console", (msg) => msg.type() === "error" && !/status of 401/.test(msg.text()) && problems.push(msg.text()));
  page.on("pageerror", (err) => problems.push(err.message));
  const response = await page.goto(`${base}/status`);
  expect(response?.headers()["content-security-policy"]).toContain("default-src 'none'");
  await page.locator("#keyform").waitFor({ state: "visible" });
  await page.fill("#key", "sk-wrong-key");
  await page.click("#keyform button");
  await expect.poll(() => page.textContent("#keymsg")).toContain("That key was refused");
  expect(page.url()).not.toContain("sk-wrong-key");
  await page.fill("#key", KEY);
  await page.click("#keyform button");
  await page.locator("#content").waitFor({ state: "visible" });
  expect(page.url()).not.toContain(KEY);

  const card = page.locator(".login").first();
  await expect.poll(() => card.locator(".state").textContent()).toContain("resting until");
  const pcts = await card.locator(".window .pct").allTextContents();
  expect(pcts).toEqual(["42% used", "17.5% used"]);
  expect(
    await card
      .locator(".bar > i")
      .first()
      .evaluate((e) => (e as HTMLElement).style.width),
  ).toBe("42%");
  const before = await card.locator(".countdown").first().textContent();
  expect(before).toMatch(/^1h 2\dm \d\ds$|^1h 30m 00s$/);
  await expect.poll(() => card.locator(".countdown").first().textContent(), { timeout: 4000 }).not.toBe(before);
  const errors = await page.locator("#errors").textContent();
  expect(errors).toContain("usage_limit_reached");
  expect(errors).toContain(ids.limitId);
  expect(errors).toContain("invalid_value");
  expect(await page.locator("#requests").textContent()).toContain("gpt-5.5");
  expect(await page.content()).not.toContain(PROMPT);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}status-${name}-desktop.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: "dark" }); // the phone shot shows the dark theme
  expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe("rgb(13, 17, 23)");
  // on a phone the page fits the width: nothing but the tables scrolls sideways
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await page.screenshot({ path: `${ARTIFACTS}status-${name}-phone.png`, fullPage: true });
  // the key stays with the tab: a new tab asks again
  const other = await context.newPage();
  await other.goto(`${base}/status`);
  await other.locator("#keyform").waitFor({ state: "visible" });
  expect(problems).toEqual([]);
  await context.close();
}

describe.skipIf(!installed)("the status page", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });
  afterAll(async () => browser?.close());

  describe("on the local server", () => {
    let proxy: RunningProxy;
    beforeAll(async () => {
      const auth = authJson(TOKEN) as { tokens: Record<string, string> };
      proxy = await startProxy({ keys: [KEY], authJson: auth, env: { ALLOWED_MODELS: "gpt-5.5,gpt-5.4-mini" } });
    });
    afterAll(async () => proxy?.stop());

    it("shows the windows, the resting login and the failures, asks for a key, and gives away no secret", async () => {
      const ids = await traffic(proxy.url, proxy.codex);
      await checkFacts(proxy.url, ids, false);
      await checkPage(browser, proxy.url, ids, "local");
    });
  });

  for (const runtime of lambdaRuntimes()) {
    describe.skipIf(!ricInstalled())(`on the Lambda bundle, ${runtime.name}`, () => {
      let target: LambdaTarget;
      beforeAll(async () => {
        target = await startLambdaTarget({ nodePath: runtime.nodePath, key: KEY, env: { ALLOWED_MODELS: "gpt-5.5,gpt-5.4-mini" } });
        target.sm.create("codex-tokens", JSON.stringify(authJson(TOKEN)));
        const secret = target.sm.secrets.get("codex-tokens");
        if (secret) Object.assign(secret, { nextRotationDate: NEXT_ROTATION / 1000, lastRotatedDate: LAST_ROTATION / 1000 });
      }, 120_000);
      afterAll(async () => target?.stop());

      it("the same page and facts behind the Function URL, naming the instance", async () => {
        const ids = await traffic(target.lambda.url, target.codex);
        await checkFacts(target.lambda.url, ids, true);
        await checkPage(browser, target.lambda.url, ids, `lambda-${runtime.name}`);
      }, 60_000);
    });
  }
});

describe("the status page without a browser", () => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy({});
  });
  afterAll(async () => proxy?.stop());

  it("without keys it follows the web-page rules: loopback Host only, no foreign Origin, its own origin allowed", async () => {
    const url = new URL(proxy.url);
    expect((await fetch(`${proxy.url}/v1/status`)).status).toBe(200);
    expect((await fetch(`${proxy.url}/v1/status`, { headers: { origin: url.origin } })).status).toBe(200);
    expect((await fetch(`${proxy.url}/v1/status`, { headers: { origin: "https://evil.example" } })).status).toBe(403);
    expect((await fetch(`${proxy.url}/status`, { headers: { origin: "https://evil.example" } })).status).toBe(403);
  });

  it("its own polling stays out of the history", async () => {
    for (let i = 0; i < 3; i++) await fetch(`${proxy.url}/v1/status`);
    const facts = (await (await fetch(`${proxy.url}/v1/status`)).json()) as { requests: unknown[] };
    expect(facts.requests).toEqual([]);
  });
});
