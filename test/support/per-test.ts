/**
 * What one test starts and the next must not see: a proxy (with per-file defaults) and any extra
 * loopback servers (a token endpoint, a redirect target). All are stopped after each test.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach } from "vitest";
import { startProxy, type ProxyOptions, type RunningProxy } from "./proxy.js";

export interface PerTest {
  /** A proxy for this test: `defaults` overlaid with `options` (env and limits merged). */
  proxy(options?: ProxyOptions): Promise<RunningProxy>;
  /** Listens on 127.0.0.1:0; resolves to the server's base URL. */
  listen(server: Server): Promise<string>;
}

export function perTest(defaults: ProxyOptions = {}): PerTest {
  let proxy: RunningProxy | undefined;
  const servers: Server[] = [];
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
  return {
    async proxy(options = {}) {
      await proxy?.stop();
      proxy = await startProxy({ ...defaults, ...options, env: { ...defaults.env, ...options.env }, limits: { ...defaults.limits, ...options.limits } });
      return proxy;
    },
    async listen(server) {
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
  };
}
