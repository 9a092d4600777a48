/**
 * The two sides of a dialect's pure mappings, for its unit tests (test/dialects/): the recorded
 * upstream answers each dialect is run over, the client bytes its mapper and encoder give for one,
 * and the recorded client requests of test/fixtures/client.
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { CodexEvent } from "../../lambda/codex/types.js";
import type { DataFrame, Dialect, ErrorFrame } from "../../lambda/pipeline/dialect.js";
import { StreamLife } from "../../lambda/pipeline/stream-life.js";
import { recordedTurns, sseFixtureEvents } from "./fixtures.js";

export const CLIENT_FIXTURES = fileURLToPath(new URL("../fixtures/client/", import.meta.url));

/** Every recorded upstream answer: each turn of each `.jsonl` recording, and each `.sse` fixture. */
export function upstreamAnswers(): { name: string; events: CodexEvent[] }[] {
  const dir = fileURLToPath(new URL("../fixtures/upstream/", import.meta.url));
  const answers: { name: string; events: CodexEvent[] }[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (file.endsWith(".jsonl")) for (const [i, events] of recordedTurns(file).entries()) answers.push({ name: `${file.replace(/\.jsonl$/, "")}.turn${i}`, events });
    if (file.endsWith(".sse")) answers.push({ name: file.replace(/\.sse$/, ""), events: sseFixtureEvents(file) });
  }
  return answers;
}

/** A request recorded from a real client (test/fixtures/client/README.md). */
export function clientRequests(prefix: string): { name: string; body: unknown }[] {
  return readdirSync(CLIENT_FIXTURES)
    .filter((f) => f.startsWith(prefix) && f.endsWith(".json"))
    .sort()
    .map((f) => ({ name: f.replace(/\.json$/, ""), body: JSON.parse(readFileSync(CLIENT_FIXTURES + f, "utf8")) as unknown }));
}

/**
 * The SSE text a client gets for `events` (a whole answer, or a cut one): the dialect's mapper under
 * the pipeline's stream life, each frame encoded. `raw` stands in for the backend's own bytes, as
 * the upstream reader attaches them.
 */
export function clientBytes<D extends DataFrame, E extends ErrorFrame>(dialect: Dialect<D, E>, request: unknown, events: readonly CodexEvent[]): string {
  const conversion = dialect.convert(structuredClone(request), { model: "gpt-5.5" });
  const life = new StreamLife(conversion.mapper({ requestedModel: "gpt-5.5", now: () => 1_800_000_000_000 }), () => 1_800_000_000_000);
  return life
    .run(structuredClone(events) as CodexEvent[])
    .map((frame) => dialect.encode(frame))
    .join("");
}

/** An SSE text's events as newline-delimited JSON, the form the SDKs' `fromReadableStream` reads. */
export function ndjsonStream(sse: string): ReadableStream<Uint8Array> {
  const lines = sse
    .split("\n\n")
    .flatMap((block) => block.split("\n").filter((line) => line.startsWith("data: ")))
    .map((line) => line.slice(6))
    .filter((data) => data !== "[DONE]");
  const bytes = new TextEncoder().encode(lines.map((l) => `${l}\n`).join(""));
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}
