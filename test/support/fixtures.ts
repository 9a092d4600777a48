/** Loads the recorded upstream material in test/fixtures/upstream (public recordings; their sources are in its README). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { CodexEvent } from "../../lambda/codex/types.js";

export const FIXTURES = fileURLToPath(new URL("../fixtures/upstream/", import.meta.url));

export function fixtureText(name: string): string {
  return readFileSync(FIXTURES + name, "utf8");
}

export function fixtureJson<T = unknown>(name: string): T {
  return JSON.parse(fixtureText(name)) as T;
}

/**
 * A recorded `.jsonl` stream, split into one event list per response (some recordings hold several
 * consecutive turns, each starting with `response.created`).
 */
export function recordedTurns(name: string): CodexEvent[][] {
  const turns: CodexEvent[][] = [];
  for (const line of fixtureText(name).split("\n")) {
    if (line.trim() === "") continue;
    const event = JSON.parse(line) as CodexEvent;
    if (event.type === "response.created" || turns.length === 0) turns.push([]);
    turns[turns.length - 1]?.push(event);
  }
  return turns;
}

export function recorded(name: string, turn = 0): CodexEvent[] {
  const events = recordedTurns(name)[turn];
  if (!events) throw new Error(`${name} has no turn ${turn}`);
  return events;
}

/** Events of an `.sse` fixture file. */
export function sseFixtureEvents(name: string): CodexEvent[] {
  return fixtureText(name)
    .split("\n")
    .filter((line) => line.startsWith("data: "))
    .map((line) => JSON.parse(line.slice(6)) as CodexEvent);
}

/** The backend's framing: `event: <type>` + one `data:` line + a blank line (reference §4.1). */
export function toSse(events: readonly CodexEvent[]): string {
  return events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("");
}

/** A JWT-shaped token (unsigned) carrying the claims the proxy reads. */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.sig`;
}

export function accessToken(accountId: string, expSeconds = Math.floor(Date.now() / 1000) + 3600, extra: Record<string, unknown> = {}): string {
  return fakeJwt({ exp: expSeconds, "https://api.openai.com/auth": { chatgpt_account_id: accountId, chatgpt_plan_type: "plus" }, ...extra });
}

/**
 * A long answer built from a recorded text turn: its text deltas repeated `count` times with a
 * numbered 200-character payload each (about 60 KB of SSE per 200 deltas).
 */
export function longTextTurn(count: number): CodexEvent[] {
  const turn = recorded("recorded.github-copilot-id-rotation.1.jsonl");
  const deltas = turn.filter((e) => e.type === "response.output_text.delta");
  const filler = Array.from({ length: count }, (_, i): CodexEvent => ({ ...(deltas[i % deltas.length] as CodexEvent), delta: `${"x".repeat(200)}${i};` }));
  return [...turn.slice(0, 10), ...filler, ...turn.slice(-4)];
}
