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

export function functionCall(name: string, args: Record<string, unknown>): Item {
  const n = ++turns;
  return { id: `fc_fake_${n}`, type: "function_call", status: "completed", call_id: `call_fake_${n}`, name, arguments: JSON.stringify(args) };
}
