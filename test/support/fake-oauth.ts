/**
 * A fake OAuth token endpoint with the real single-use semantics: each refresh token works once and
 * is replaced; reusing one answers the recorded `refresh_token_reused` 401. Expired and invalidated
 * variants, a slow mode (the token is spent at once, the answer comes `delayMs` later) and a failing mode. It also says which access tokens the fake backend
 * should accept.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { accessToken, fixtureJson } from "./fixtures.js";

type Verdict = "live" | "used" | "refresh_token_expired" | "refresh_token_invalidated";

export class FakeOAuth {
  readonly calls: { refreshToken: string; body: Record<string, unknown> }[] = [];
  private readonly refreshTokens = new Map<string, Verdict>();
  /** each refresh token's account, when it is not this endpoint's default one (several logins) */
  private readonly accounts = new Map<string, string>();
  private readonly accessTokens = new Set<string>();
  private counter = 0;
  private readonly server: Server;
  /** answers 500 to this many coming calls */
  failNext = 0;
  delayMs = 0;
  /** lifetime of the access tokens it issues */
  accessTtlS = 3600;
  url = "";

  constructor(private readonly accountId: string) {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
      const refreshToken = String(body.refresh_token ?? "");
      this.calls.push({ refreshToken, body });
      // As a real endpoint can: the token is judged (and spent) at once, the answer may come late.
      const delay = this.delayMs;
      const send = (status: number, payload: unknown) =>
        void setTimeout(() => {
          if (!res.destroyed) res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(payload));
        }, delay);
      if (this.failNext > 0) {
        this.failNext--;
        return send(500, { error: { message: "upstream connect error", type: "server_error", code: null } });
      }
      if (body.client_id !== "app_EMoamEEZ73f0CkXaXp7hrann" || body.grant_type !== "refresh_token") {
        return send(400, { error: { message: "invalid client or grant type", code: "invalid_request" } });
      }
      const verdict = this.refreshTokens.get(refreshToken);
      if (verdict === "used") return send(401, fixtureJson<{ body: unknown }[]>("error.oauth-refresh-token-reused.json")[0]?.body);
      if (verdict === "refresh_token_expired" || verdict === "refresh_token_invalidated") {
        return send(401, { error: { message: `Your refresh token is no longer valid (${verdict}).`, type: "invalid_request_error", param: null, code: verdict } });
      }
      if (verdict !== "live") return send(401, { error: { message: "Invalid refresh token.", code: "invalid_grant" } });
      this.refreshTokens.set(refreshToken, "used");
      const account = this.accounts.get(refreshToken);
      const next = this.issue(account ? { accountId: account } : {});
      send(200, { id_token: next.access, access_token: next.access, refresh_token: next.refresh, token_type: "Bearer", expires_in: this.accessTtlS });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/oauth/token`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A new login: an access token (valid for the backend unless `expiredAccess`) and a live refresh token. */
  issue(options: { expiredAccess?: boolean; accountId?: string } = {}): { access: string; refresh: string } {
    const n = ++this.counter;
    const exp = Math.floor(Date.now() / 1000) + (options.expiredAccess ? -60 : this.accessTtlS);
    const access = accessToken(options.accountId ?? this.accountId, exp, { n });
    const refresh = `rt.${n}.${Math.random().toString(36).slice(2)}`;
    this.refreshTokens.set(refresh, "live");
    if (options.accountId) this.accounts.set(refresh, options.accountId);
    if (!options.expiredAccess) this.accessTokens.add(access);
    return { access, refresh };
  }

  /** Marks a refresh token as expired or revoked at the provider. */
  spoil(refreshToken: string, verdict: "refresh_token_expired" | "refresh_token_invalidated"): void {
    this.refreshTokens.set(refreshToken, verdict);
  }

  /** Revokes an access token before its expiry (an upstream 401 mid-conversation). */
  revoke(access: string): void {
    this.accessTokens.delete(access);
  }

  accepts(authorization: string | undefined): boolean {
    return this.accessTokens.has(authorization?.replace(/^Bearer /, "") ?? "");
  }
}

export function loginDoc(accountId: string, login: { access: string; refresh: string }): Record<string, unknown> {
  return {
    auth_mode: "chatgpt",
    OPENAI_API_KEY: null,
    tokens: { id_token: login.access, access_token: login.access, refresh_token: login.refresh, account_id: accountId },
    last_refresh: "2026-11-01T00:00:00.000Z",
    extra_field_we_do_not_know: { kept: true },
  };
}
