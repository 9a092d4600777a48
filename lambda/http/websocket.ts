/**
 * The Responses API's WebSocket transport, which this proxy does not serve. The Codex CLI's built-in
 * OpenAI provider opens every session with `GET /v1/responses` asking to upgrade; answered 404 or
 * 405 it retries seven times (about 7 s, "Reconnecting… n/5" on the user's screen) before it falls
 * back to HTTP, answered 426 it falls back at once (docs/codex-cli.md has the measurements).
 *
 * A front such as a Lambda Function URL may drop the hop-by-hop `Upgrade` and `Connection` headers,
 * so the handshake's own `Sec-WebSocket-Key` and Codex's `OpenAI-Beta: responses_websockets=…` also
 * count as asking.
 */
import { ProxyError } from "../errors.js";
import type { HeaderMap } from "./headers.js";

export function asksForWebSocket(headers: HeaderMap): boolean {
  return /\bwebsocket\b/i.test(headers.get("upgrade") ?? "") || headers.get("sec-websocket-key") !== null || /responses_websockets/i.test(headers.get("openai-beta") ?? "");
}

export function webSocketRefused(path: string): ProxyError {
  return new ProxyError(
    426,
    `This proxy does not serve the Responses API over WebSockets; use HTTP instead: POST ${path} with "stream": true. (The Codex CLI falls back to HTTP by itself on this answer.)`,
    { code: "websocket_not_supported", type: "invalid_request_error" },
  );
}
