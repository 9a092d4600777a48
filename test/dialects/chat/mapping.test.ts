/**
 * The chat dialect's pure mappings, on recorded fixtures of both sides: requests recorded from real
 * clients in, upstream bodies out; recorded upstream answers in, client bytes out (checked by the
 * openai SDK's own stream accumulator, and kept beside this file so any change to a byte shows).
 */
import { ChatCompletionStream } from "openai/lib/ChatCompletionStream";
import { describe, expect, it } from "vitest";
import { chatDialect } from "../../../lambda/dialects/chat/index.js";
import { bodyRefusal } from "../../support/backend-rules.js";
import { clientBytes, clientRequests, ndjsonStream, upstreamAnswers } from "../../support/dialect-cases.js";

const STREAMED = { model: "gpt-5.5", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }] };
/** the chunk ids are random per answer; everything else is fixed by the input */
const stable = (sse: string) => sse.replace(/chatcmpl-[0-9a-f]{24}/g, "chatcmpl-ID");

describe("chat: requests recorded from real clients -> the upstream body", () => {
  for (const { name, body } of clientRequests("")) {
    if (!name.includes(".chat.")) continue;
    it(name, async () => {
      const converted = chatDialect.convert(structuredClone(body), { model: "gpt-5.5" });
      expect(bodyRefusal(converted.body)).toBeUndefined();
      await expect(`${JSON.stringify(converted.body, null, 2)}\n`).toMatchFileSnapshot(`__snapshots__/${name}.upstream.json`);
    });
  }
});

describe("chat: recorded upstream answers -> the client's bytes", () => {
  for (const { name, events } of upstreamAnswers()) {
    it(name, async () => {
      const sse = stable(clientBytes(chatDialect, STREAMED, events));
      await expect(sse).toMatchFileSnapshot(`__snapshots__/${name}.sse`);
      const failed = /^data: \{"error"/m.test(sse);
      expect(sse.endsWith("data: [DONE]\n\n")).toBe(!failed);
      if (failed) return;
      // what the SDK assembles from these bytes is a whole completion
      const completion = await ChatCompletionStream.fromReadableStream(ndjsonStream(sse)).finalChatCompletion();
      expect(completion.choices[0]?.finish_reason).toMatch(/^(stop|tool_calls|length|content_filter)$/);
    });
  }
});
