/**
 * The HTTP client for upstream calls: one keep-alive connection pool for the process (Lambda reuses
 * it across warm invocations), optionally through an HTTP(S) egress proxy. The pool has no cap of
 * its own (UPSTREAM_MAX_CONNECTIONS is enforced by the Codex client, with a bounded wait). undici's
 * own header and body timers (300 s) stay as a backstop; the client's idle timeout, which counts
 * events rather than bytes, is what normally ends a silent stream. Redirects are never followed.
 */
import { Agent, ProxyAgent, fetch as undiciFetch, type Dispatcher } from "undici";

export type Fetch = typeof globalThis.fetch;

export function createUpstreamFetch(proxyUrl?: string): Fetch {
  const dispatcher: Dispatcher = proxyUrl
    ? new ProxyAgent({ uri: proxyUrl, keepAliveTimeout: 30_000 })
    : new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 });
  const upstreamFetch = (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as Parameters<typeof undiciFetch>[1]), redirect: "manual", dispatcher });
  return upstreamFetch as unknown as Fetch;
}
