/**
 * The converter measurements as their own program: `npm run bench` bundles this with esbuild, as
 * the server's code is bundled, and runs it in a fresh process, so what is measured is the code that
 * ships (no loader's helpers in the hot loop) and no other work shares the heap. Prints JSON.
 */
import { RAW_DATA, type WithRawData } from "../../lambda/codex/events.js";
import type { CodexEvent } from "../../lambda/codex/types.js";
import { answerEvents, recordedEvents } from "./answer.mjs";
import { measureConverters } from "./converters.js";

const [fixture, deltas] = process.argv.slice(2);
// As the upstream reader hands them over: each parsed from its data, which it carries along.
const events = (answerEvents(recordedEvents(fixture as string), Number(deltas)) as unknown[]).map((answer) => {
  const data = JSON.stringify(answer);
  const event = JSON.parse(data) as CodexEvent & WithRawData;
  event[RAW_DATA] = data;
  return event;
});
process.stdout.write(`${JSON.stringify(measureConverters(events))}\n`);
