/**
 * Model turns for the fake backend, built on the recorded streams' own events: the handshake and
 * terminal events of a recorded turn (with `output: []` in the terminal one, as the Codex backend
 * sends it), and for each output item the recorded event kinds that carry it — `output_item.added`,
 * its deltas (`output_text.delta`, `function_call_arguments.delta`), `output_item.done`.
 */
import type { CodexEvent } from "../../lambda/codex/types.js";
import { recorded } from "./fixtures.js";

type Item = Record<string, unknown>;
export interface Usage {
  input_tokens: number;
  output_tokens: number;
}

const BASE = recorded("recorded.openai-reasoning-encrypted-content.1.jsonl");
const event = (type: string) => BASE.find((e) => e.type === type) as CodexEvent;

let turns = 0;

/** One turn that outputs these items, reporting this usage. */
export function turnOf(items: Item[], usage: Usage = { input_tokens: 1200, output_tokens: 40 }): CodexEvent[] {
  const id = `resp_fake_${++turns}`;
  const created = event("response.created");
  const inProgress = event("response.in_progress");
  const completed = event("response.completed");
  const events: Record<string, unknown>[] = [
    { ...created, response: { ...created.response, id, output: [] } },
    { ...inProgress, response: { ...inProgress.response, id, output: [] } },
  ];
  items.forEach((item, output_index) => {
    const item_id = item.id;
    if (item.type === "message") {
      const text = (item.content as { text: string }[]).map((c) => c.text).join("");
      events.push({ type: "response.output_item.added", output_index, item: { ...item, status: "in_progress", content: [] } });
      events.push({ type: "response.content_part.added", item_id, output_index, content_index: 0, part: { type: "output_text", annotations: [], text: "" } });
      for (const delta of text.match(/.{1,12}/gs) ?? []) events.push({ type: "response.output_text.delta", item_id, output_index, content_index: 0, delta });
      events.push({ type: "response.output_text.done", item_id, output_index, content_index: 0, text });
    } else if (item.type === "function_call") {
      events.push({ type: "response.output_item.added", output_index, item: { ...item, status: "in_progress", arguments: "" } });
      for (const delta of String(item.arguments).match(/.{1,8}/gs) ?? []) events.push({ type: "response.function_call_arguments.delta", item_id, output_index, delta });
      events.push({ type: "response.function_call_arguments.done", item_id, output_index, arguments: item.arguments });
    } else {
      events.push({ type: "response.output_item.added", output_index, item });
    }
    events.push({ type: "response.output_item.done", output_index, item });
  });
  const total = { ...usage, total_tokens: usage.input_tokens + usage.output_tokens, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } };
  events.push({ ...completed, response: { ...completed.response, id, output: [], usage: total } });
  return events.map((e, sequence_number) => ({ ...e, sequence_number }) as unknown as CodexEvent);
}

export function message(text: string): Item {
  return { id: `msg_fake_${++turns}`, type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", annotations: [], text }] };
}

/**
 * A reasoning item as the backend mints it under `account`: its encrypted content is readable by that
 * account only (the fake backend refuses it from another: backend-rules.ts).
 */
export function reasoning(account: string): Item {
  return { id: `rs_fake_${++turns}`, type: "reasoning", summary: [], encrypted_content: `fake-enc:${account}:${Math.random().toString(36).slice(2)}` };
}

export function functionCall(name: string, args: Record<string, unknown>): Item {
  const n = ++turns;
  return { id: `fc_fake_${n}`, type: "function_call", status: "completed", call_id: `call_fake_${n}`, name, arguments: JSON.stringify(args) };
}

export interface Page {
  url: string;
  title: string;
}

/**
 * One turn that searches the web as the backend does (docs/web-search.md): per search a
 * `web_search_call` item with its in_progress / searching / completed events and, in its `done`
 * event, `action: {type: "search", query, sources}` (the sources only when `include` asks for them);
 * then a message whose text cites pages with `url_citation` annotations, each announced by
 * `response.output_text.annotation.added` after the text it cites.
 */
export function searchTurn(options: { searches: { query: string; pages: Page[] }[]; text: string; cites: (Page & { phrase: string })[]; withSources: boolean }): CodexEvent[] {
  const items: Item[] = options.searches.map((s) => ({
    id: `ws_fake_${++turns}`,
    type: "web_search_call",
    status: "completed",
    action: { type: "search", query: s.query, ...(options.withSources ? { sources: s.pages.map((p) => ({ type: "url", url: p.url })) } : {}) },
  }));
  const annotations = options.cites.map((c) => {
    const start = options.text.indexOf(c.phrase);
    if (start === -1) throw new Error(`the text does not contain '${c.phrase}'`);
    return { type: "url_citation", url: c.url, title: c.title, start_index: start, end_index: start + c.phrase.length };
  });
  const answer = { ...message(options.text), content: [{ type: "output_text", annotations, text: options.text }] };
  const events = turnOf([...items, answer]);
  const out: Record<string, unknown>[] = [];
  for (const e of events as unknown as Record<string, unknown>[]) {
    const item = e.item as Item | undefined;
    if (e.type === "response.output_item.added" && item?.type === "web_search_call") {
      out.push({ ...e, item: { id: item.id, type: "web_search_call", status: "in_progress" } });
      for (const phase of ["in_progress", "searching", "completed"]) out.push({ type: `response.web_search_call.${phase}`, item_id: item.id, output_index: e.output_index });
      continue;
    }
    if (e.type === "response.output_text.done") {
      annotations.forEach((annotation, annotation_index) => {
        out.push({ type: "response.output_text.annotation.added", item_id: e.item_id, output_index: e.output_index, content_index: 0, annotation_index, annotation });
      });
    }
    out.push(e);
  }
  return out.map((e, sequence_number) => ({ ...e, sequence_number }) as unknown as CodexEvent);
}

/** Whether a request offers the backend its own web search tool (the only way the backend searches). */
export function offersSearch(body: unknown): { withSources: boolean } | undefined {
  const { tools, include } = (body ?? {}) as { tools?: { type?: string }[]; include?: string[] };
  if (!tools?.some((t) => t.type === "web_search")) return undefined;
  return { withSources: include?.includes("web_search_call.action.sources") ?? false };
}
