/**
 * The Responses dialect's pure mappings, on recorded fixtures of both sides: requests recorded from
 * the Codex CLI and the AI SDK in, upstream bodies out; recorded upstream answers in, client bytes
 * out (checked by the openai SDK's own response accumulator, and kept beside this file).
 */
import { ResponseStream } from "openai/lib/responses/ResponseStream";
import { describe, expect, it } from "vitest";
import { responsesDialect } from "../../../lambda/dialects/responses/index.js";
import { bodyRefusal } from "../../support/backend-rules.js";
import { clientBytes, clientRequests, ndjsonStream, upstreamAnswers } from "../../support/dialect-cases.js";

const STREAMED = { model: "gpt-5.5", stream: true, input: "hi" };
type Item = { type?: string; id?: unknown };

describe("responses: requests recorded from real clients -> the upstream body", () => {
  for (const { name, body } of clientRequests("")) {
    if (!name.includes(".responses.")) continue;
    it(name, async () => {
      const converted = responsesDialect.convert(structuredClone(body), { model: "gpt-5.5" });
      expect(bodyRefusal(converted.body)).toBeUndefined();
      const input = converted.body.input as Item[];
      // with store:false nothing is stored to resolve an id by: only a compaction item keeps its own
      expect(input.filter((item) => item.id !== undefined).every((item) => item.type === "compaction")).toBe(true);
      const trigger = input.findIndex((item) => item.type === "compaction_trigger");
      expect(trigger === -1 || trigger === input.length - 1).toBe(true);
      await expect(`${JSON.stringify(converted.body, null, 2)}\n`).toMatchFileSnapshot(`__snapshots__/${name}.upstream.json`);
    });
  }
});

describe("responses: recorded upstream answers -> the client's bytes", () => {
  for (const { name, events } of upstreamAnswers()) {
    it(name, async () => {
      const sse = clientBytes(responsesDialect, STREAMED, events);
      await expect(sse).toMatchFileSnapshot(`__snapshots__/${name}.sse`);
      const failed = /^event: error$/m.test(sse);
      expect(/^event: response\.(completed|incomplete)$/m.test(sse)).toBe(!failed);
      // (the synthetic fixture without response.created, which the backend always sends first, is not a stream the SDK reads)
      if (failed || !sse.startsWith("event: response.created")) return;
      // the SDK's final response is the terminal event's, its output filled from the streamed items
      const response = await ResponseStream.fromReadableStream(ndjsonStream(sse)).finalResponse();
      expect(response.output.length).toBeGreaterThan(0);
    });
  }
});
