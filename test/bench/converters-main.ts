/**
 * The converter measurements as their own program: `npm run bench` bundles this with esbuild, as
 * the server's code is bundled, and runs it in a fresh process, so what is measured is the code that
 * ships (no loader's helpers in the hot loop) and no other work shares the heap. Prints JSON.
 */
import type { CodexEvent } from "../../lambda/codex/types.js";
import { answerEvents, recordedEvents } from "./answer.mjs";
import { measureConverters } from "./converters.js";

const [fixture, deltas] = process.argv.slice(2);
const events = answerEvents(recordedEvents(fixture as string), Number(deltas)) as unknown as CodexEvent[];
process.stdout.write(`${JSON.stringify(measureConverters(events))}\n`);
