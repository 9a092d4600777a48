/**
 * The benchmark's answers, built from a recorded upstream stream: the first message item of the
 * recording with `count` text deltas cycled from its own, renumbered, its `.done` events and
 * `response.completed` carrying the whole text. Shared by the scripted backend and the in-process
 * converter measurements, so both see the same events.
 */
import { readFileSync } from "node:fs";

export function recordedEvents(path) {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line));
}

/** The events of an answer with `count` text deltas (or as many as recorded when `count` is undefined). */
export function answerEvents(events, count) {
  const firstText = events.findIndex((e) => e.type === "response.output_text.delta");
  const outputIndex = events[firstText].output_index;
  const samples = events.filter((e) => e.type === "response.output_text.delta" && e.output_index === outputIndex);
  const tail = events.filter((e) => e.output_index === outputIndex && /\.done$/.test(e.type));
  const completed = events.find((e) => e.type === "response.completed");
  let sequence = events[firstText].sequence_number;
  const out = events.slice(0, firstText);
  let text = "";
  for (let i = 0; i < (count ?? samples.length); i++) {
    const sample = samples[i % samples.length];
    text += sample.delta;
    out.push({ ...sample, sequence_number: sequence++ });
  }
  for (const e of tail) {
    const copy = structuredClone(e);
    copy.sequence_number = sequence++;
    if (copy.type === "response.output_text.done") copy.text = text;
    if (copy.part?.text !== undefined) copy.part.text = text;
    if (copy.item?.content?.[0]?.text !== undefined) copy.item.content[0].text = text;
    out.push(copy);
  }
  out.push({ ...completed, sequence_number: sequence });
  return out;
}

export const sseFrame = (event) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
