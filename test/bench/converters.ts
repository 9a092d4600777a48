/**
 * The converters alone, in this process: each dialect's stream converter over the long answer's
 * events (without and with encoding its frames as SSE text), and each dialect's request converter
 * over a 200-message agent conversation with tools and images.
 */
import { performance } from "node:perf_hooks";
import type { CodexEvent } from "../../lambda/codex/types.js";
import { chatDialect } from "../../lambda/dialects/chat/index.js";
import { messagesDialect } from "../../lambda/dialects/messages/index.js";
import { responsesDialect } from "../../lambda/dialects/responses/index.js";
import type { DataFrame, Dialect } from "../../lambda/pipeline/dialect.js";
import { StreamLife } from "../../lambda/pipeline/stream-life.js";

export const DIALECTS: [string, Dialect<DataFrame>][] = [
  ["chat", chatDialect as unknown as Dialect<DataFrame>],
  ["responses", responsesDialect as unknown as Dialect<DataFrame>],
  ["messages", messagesDialect([]) as unknown as Dialect<DataFrame>],
];

export interface ConverterFigures {
  events_per_s: number;
  events_per_s_encoded: number;
  requests_per_s_200_messages: number;
}

const TOOLS = Array.from({ length: 12 }, (_, i) => ({
  name: `tool_${i}`,
  description: `Tool number ${i}: reads, edits or runs something in the workspace.`,
  parameters: { type: "object", properties: { path: { type: "string" }, content: { type: "string" }, line: { type: "integer" } }, required: ["path"] },
}));
const IMAGE = `data:image/png;base64,${"iVBORw0KGgo".repeat(200)}`;
const CODE = "export function add(a: number, b: number): number {\n  return a + b;\n}\n".repeat(20);

/** The same agent conversation in each dialect's request shape: 200 messages, tools, an image every 25 turns. */
function conversation(dialect: string): unknown {
  const turns = 50;
  if (dialect === "chat") {
    const messages: unknown[] = [{ role: "system", content: "You are a coding agent." }];
    for (let t = 0; messages.length < 200 && t < turns; t++) {
      messages.push({
        role: "user",
        content:
          t % 25 === 0
            ? [
                { type: "text", text: `Look at this ${t}` },
                { type: "image_url", image_url: { url: IMAGE } },
              ]
            : `Step ${t}: fix the next test.`,
      });
      messages.push({
        role: "assistant",
        content: null,
        tool_calls: [{ id: `call_${t}`, type: "function", function: { name: `tool_${t % 12}`, arguments: JSON.stringify({ path: `src/f${t}.ts` }) } }],
      });
      messages.push({ role: "tool", tool_call_id: `call_${t}`, content: CODE });
      messages.push({ role: "assistant", content: `Done with step ${t}.` });
    }
    return { model: "gpt-5.5", stream: true, messages: messages.slice(0, 200), tools: TOOLS.map((f) => ({ type: "function", function: f })) };
  }
  if (dialect === "responses") {
    const input: unknown[] = [];
    for (let t = 0; input.length < 200 && t < turns; t++) {
      input.push({
        role: "user",
        content:
          t % 25 === 0
            ? [
                { type: "input_text", text: `Look at this ${t}` },
                { type: "input_image", image_url: IMAGE },
              ]
            : `Step ${t}: fix the next test.`,
      });
      input.push({ type: "function_call", call_id: `call_${t}`, name: `tool_${t % 12}`, arguments: JSON.stringify({ path: `src/f${t}.ts` }) });
      input.push({ type: "function_call_output", call_id: `call_${t}`, output: CODE });
      input.push({ role: "assistant", content: `Done with step ${t}.` });
    }
    return { model: "gpt-5.5", stream: true, instructions: "You are a coding agent.", input: input.slice(0, 200), tools: TOOLS.map((f) => ({ type: "function", ...f })) };
  }
  const messages: unknown[] = [];
  for (let t = 0; messages.length < 200 && t < turns; t++) {
    messages.push({
      role: "user",
      content:
        t % 25 === 0
          ? [
              { type: "text", text: `Look at this ${t}` },
              { type: "image", source: { type: "base64", media_type: "image/png", data: IMAGE.slice(22) } },
            ]
          : `Step ${t}: fix the next test.`,
    });
    messages.push({
      role: "assistant",
      content: [
        { type: "text", text: "On it." },
        { type: "tool_use", id: `toolu_${t}`, name: `tool_${t % 12}`, input: { path: `src/f${t}.ts` } },
      ],
    });
    messages.push({ role: "user", content: [{ type: "tool_result", tool_use_id: `toolu_${t}`, content: CODE }] });
    messages.push({ role: "assistant", content: `Done with step ${t}.` });
  }
  return {
    model: "claude-sonnet-4-5",
    max_tokens: 4096,
    stream: true,
    system: "You are a coding agent.",
    messages: messages.slice(0, 199).concat([{ role: "user", content: "Next." }]),
    tools: TOOLS.map((f) => ({ name: f.name, description: f.description, input_schema: f.parameters })),
  };
}

/** Runs `work` for `ms`, returning operations per second. */
function window(ms: number, work: () => number): number {
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while ((elapsed = performance.now() - start) < ms) ops += work();
  return ops / (elapsed / 1000);
}

/**
 * Each figure is the best of `rounds` short windows, taken in turn with every other figure's, so
 * its windows are spread over the whole measurement: a neighbour taking the shared machine's core
 * for a second or two (seen here: a CPU-bound loop ran 2-5x slower for a while) costs a figure a
 * few windows, not all of them.
 */
export function measureConverters(events: CodexEvent[], ms = 1500, rounds = 10): Record<string, ConverterFigures> {
  let sink = 0;
  const jobs: { dialect: string; figure: keyof ConverterFigures; work: () => number; best: number }[] = [];
  for (const [name, dialect] of DIALECTS) {
    const raw = conversation(name);
    const conversion = dialect.convert(structuredClone(raw), { model: "gpt-5.5" });
    // what the pipeline runs per answer: the stream's life around the dialect's mapper
    const converter = () => new StreamLife(conversion.mapper({ requestedModel: "gpt-5.5", now: Date.now }), Date.now);
    // Each round gets its own copy, as each request parses its own body.
    const text = JSON.stringify(raw);
    const add = (figure: keyof ConverterFigures, work: () => number) => jobs.push({ dialect: name, figure, work, best: 0 });
    add("events_per_s", () => {
      const c = converter();
      for (const e of events) sink += c.push(e).length;
      return events.length;
    });
    add("events_per_s_encoded", () => {
      const c = converter();
      for (const e of events) for (const f of c.push(e)) sink += dialect.encode(f).length;
      return events.length;
    });
    add("requests_per_s_200_messages", () => {
      sink += JSON.stringify(dialect.convert(JSON.parse(text), { model: "gpt-5.5" }).body).length;
      return 1;
    });
  }
  for (const job of jobs) for (let i = 0; i < 3; i++) job.work(); // warm-up
  for (let r = 0; r < rounds; r++) for (const job of jobs) job.best = Math.max(job.best, window(ms / rounds, job.work));
  if (sink < 0) console.log(sink);
  const out: Record<string, ConverterFigures> = {};
  for (const job of jobs) (out[job.dialect] ??= { events_per_s: 0, events_per_s_encoded: 0, requests_per_s_200_messages: 0 })[job.figure] = Math.round(job.best);
  return out;
}
