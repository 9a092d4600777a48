/**
 * The second reference, for the proxy's own CPU: the least a proxy that converts can do. A Chat
 * Completions request is forwarded to the scripted backend, and each event of the answer is parsed
 * (eventsource-parser, JSON.parse, as the proxy does) and written back as a chat chunk, in the
 * read's own callback: no checks, no stream life, no other event than text. What the proxy costs
 * above this is its own; what this costs above the bare pass-through is what parsing and re-encoding
 * every event costs on this machine.
 *
 * Usage: node minimal-converter.mjs <backend port>; prints {"port":N}.
 */
import { randomUUID } from "node:crypto";
import { createParser } from "eventsource-parser";
import { serveReferenceProxy } from "./reference-proxy.mjs";

serveReferenceProxy(
  Number(process.argv[2]),
  (body) => {
    const { model, messages } = JSON.parse(body.toString("utf8"));
    const text = messages.at(-1).content;
    return JSON.stringify({ model, stream: true, store: false, instructions: "", input: [{ role: "user", content: [{ type: "input_text", text }] }] });
  },
  (answer, res, request) => {
    const { model } = JSON.parse(request.toString("utf8"));
    // a chunk's constant part, as the proxy's chat dialect writes it
    const prefix = `data: {"id":"chatcmpl-${randomUUID()}","object":"chat.completion.chunk","created":${Math.floor(Date.now() / 1000)},"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":{"content":`;
    res.writeHead(answer.statusCode ?? 502, { "content-type": "text/event-stream" });
    let out = "";
    const parser = createParser({
      onEvent(message) {
        const event = JSON.parse(message.data);
        if (event.type === "response.output_text.delta") out += `${prefix}${JSON.stringify(event.delta)}},"finish_reason":null,"logprobs":null}]}\n\n`;
        else if (event.type === "response.completed") out += "data: [DONE]\n\n";
      },
    });
    answer.setEncoding("utf8");
    answer.on("data", (chunk) => {
      parser.feed(chunk);
      if (out === "") return;
      res.write(out);
      out = "";
    });
    answer.on("end", () => res.end());
  },
);
