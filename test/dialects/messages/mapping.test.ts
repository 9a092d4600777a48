/**
 * The Messages dialect's pure mappings, on recorded fixtures of both sides: a request recorded from
 * Claude Code in, the upstream body out; recorded upstream answers in, client bytes out (checked by
 * the Anthropic SDK's own message accumulator, and kept beside this file).
 */
import { MessageStream } from "@anthropic-ai/sdk/lib/MessageStream";
import { describe, expect, it } from "vitest";
import { messagesDialect } from "../../../lambda/dialects/messages/index.js";
import { bodyRefusal } from "../../support/backend-rules.js";
import { clientBytes, clientRequests, ndjsonStream, upstreamAnswers } from "../../support/dialect-cases.js";

const dialect = messagesDialect([["claude", "gpt-5.5"]]);
const STREAMED = { model: "claude-sonnet-4-5", max_tokens: 1024, stream: true, messages: [{ role: "user", content: "hi" }] };
/** the message id is random per answer; everything else is fixed by the input */
const stable = (sse: string) => sse.replace(/msg_[0-9a-f]{24}/g, "msg_ID");

describe("messages: requests recorded from real clients -> the upstream body", () => {
  for (const { name, body } of clientRequests("")) {
    if (!name.includes(".messages.")) continue;
    it(name, async () => {
      const converted = dialect.convert(structuredClone(body), { model: "gpt-5.5" });
      expect(bodyRefusal(converted.body)).toBeUndefined();
      // every tool keeps a name the backend takes (at most 64 characters), and the client's comes back
      for (const tool of converted.body.tools ?? []) if ("name" in tool) expect(String(tool.name).length).toBeLessThanOrEqual(64);
      await expect(`${JSON.stringify(converted.body, null, 2)}\n`).toMatchFileSnapshot(`__snapshots__/${name}.upstream.json`);
    });
  }
});

describe("messages: recorded upstream answers -> the client's bytes", () => {
  for (const { name, events } of upstreamAnswers()) {
    it(name, async () => {
      const sse = stable(clientBytes(dialect, STREAMED, events));
      await expect(sse).toMatchFileSnapshot(`__snapshots__/${name}.sse`);
      const failed = /^event: error$/m.test(sse);
      expect(sse.endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n')).toBe(!failed);
      if (failed) return;
      // what the SDK assembles from these bytes is a whole message with a stop reason
      const message = await MessageStream.fromReadableStream(ndjsonStream(sse)).finalMessage();
      expect(message.stop_reason).toMatch(/^(end_turn|tool_use|max_tokens|refusal)$/);
    });
  }
});
