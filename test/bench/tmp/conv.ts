import { answerEvents, recordedEvents } from "../answer.mjs";
import { measureConverters } from "../converters.js";
const events = answerEvents(recordedEvents("/work/main/test/fixtures/upstream/recorded.openai-phase.1.jsonl"), 1815) as never;
console.log(measureConverters(events, Number(process.argv[2] ?? 1500)));
