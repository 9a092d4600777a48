/** UPSTREAM_PROXY_URL: upstream calls go through an HTTP CONNECT proxy (a loopback one here). */
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { afterEach, beforeEach, expect, it } from "vitest";
import { recorded } from "./support/fixtures.js";
import { chatBody, readSse, startProxy } from "./support/proxy.js";

let egress: Server;
const tunnels: string[] = [];
const sockets = new Set<Socket>();

beforeEach(async () => {
  egress = createServer((_req, res) => res.writeHead(405).end());
  egress.on("connect", (req, client: Socket) => {
    tunnels.push(req.url ?? "");
    const [host, port] = (req.url ?? "").split(":");
    const upstream = connect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.pipe(client).pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
  });
  await new Promise<void>((resolve) => egress.listen(0, "127.0.0.1", resolve));
});
afterEach(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => egress.close(() => resolve()));
  tunnels.length = 0;
});

it("routes model turns and the catalog through the egress proxy", async () => {
  const port = (egress.address() as AddressInfo).port;
  const proxy = await startProxy({ env: { UPSTREAM_PROXY_URL: `http://127.0.0.1:${port}` } });
  try {
    proxy.codex.always(() => ({ kind: "sse", events: recorded("recorded.openai-phase.1.jsonl") }));
    const res = await fetch(`${proxy.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chatBody({ stream: true })),
    });
    expect((await readSse(res)).at(-1)).toBe("[DONE]");
    expect(tunnels.length).toBeGreaterThan(0);
    expect(tunnels[0]).toBe(new URL(proxy.codex.url).host);
  } finally {
    await proxy.stop();
  }
});
