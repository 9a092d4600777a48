/**
 * `GET /v1/status`: what the status page shows, as JSON for scripts and for the page itself: each
 * login's state, plan, token dates and usage windows (with when each resets), the models on offer,
 * and this process's last requests and errors. Built from facts that are safe to show
 * (auth/login-facts.ts, observe/recent.ts): no token, key, whole account id, e-mail or prompt text.
 */
import type { PoolLoginFacts } from "../auth/logins.js";
import type { LoginFacts } from "../auth/tokens.js";
import { windowResetsAt, type UsageWindow } from "../codex/rate-limits.js";
import { jsonReply, type Reply } from "../http/reply.js";
import type { ModelCatalog } from "../models/catalog.js";
import type { RecentActivity, RecentRequest } from "../observe/recent.js";

export interface StatusSources {
  version: string;
  startedAt: number;
  now: () => number;
  /** where the proxy runs; on Lambda, which instance answered (its history is that instance's) */
  runtime: { kind: "local" } | { kind: "lambda"; instance: string };
  upstream: string;
  clientKeys: "required" | "not configured";
  logins: () => Promise<PoolLoginFacts[]>;
  models: ModelCatalog;
  recent: RecentActivity;
}

export interface WindowFacts {
  /** "5-hour", "weekly", or the length in minutes */
  label: string;
  used_percent?: number;
  window_minutes?: number;
  resets_at?: string;
}

export interface LoginStatus extends Omit<LoginFacts, "state"> {
  state: LoginFacts["state"] | "resting";
  /** resting: when the plan's limit resets */
  resting_until?: string;
  windows: WindowFacts[];
  windows_observed_at?: string;
  last_limit_hit?: { at: string; resets_at?: string };
}

export interface StatusFacts {
  now: string;
  version: string;
  node: string;
  started_at: string;
  uptime_s: number;
  runtime: "local" | "lambda";
  instance?: string;
  /** what the history below covers */
  history: string;
  upstream: string;
  client_keys: "required" | "not configured";
  logins: LoginStatus[];
  models: { source: string; ids: string[] };
  requests: RecentRequest[];
  errors: RecentRequest[];
}

export async function statusFacts(s: StatusSources): Promise<StatusFacts> {
  const now = s.now();
  const [logins, ids] = await Promise.all([s.logins(), s.models.list().catch(() => [] as string[])]);
  const statuses = logins.map((login) => loginStatus(login, s, now));
  const lambda = s.runtime.kind === "lambda";
  return {
    now: new Date(now).toISOString(),
    version: s.version,
    node: process.versions.node,
    started_at: new Date(s.startedAt).toISOString(),
    uptime_s: Math.round((now - s.startedAt) / 1000),
    runtime: s.runtime.kind,
    ...(s.runtime.kind === "lambda" ? { instance: s.runtime.instance } : {}),
    history: lambda
      ? "This Lambda instance's own requests since it started; other instances keep theirs, so the lists differ between refreshes."
      : "This process's requests since it started.",
    upstream: s.upstream,
    client_keys: s.clientKeys,
    logins: statuses,
    models: { source: s.models.source, ids },
    requests: s.recent.lastRequests(),
    errors: s.recent.lastErrors(),
  };
}

export async function handleStatus(s: StatusSources): Promise<Reply> {
  const reply = jsonReply(200, await statusFacts(s));
  reply.headers["cache-control"] = "no-store";
  return reply;
}

/** A login as /status (and, with several, /health) shows it: its facts, its windows, and whether it rests. */
export function loginStatus({ login: poolName, ...login }: PoolLoginFacts, s: Pick<StatusSources, "recent">, now: number): LoginStatus {
  const status: LoginStatus = { ...login, windows: [] };
  const limits = s.recent.windowsOf(poolName);
  if (limits) {
    const observed = Date.parse(limits.observed_at);
    for (const window of [limits.primary, limits.secondary]) if (window) status.windows.push(windowFacts(window, observed));
    status.windows_observed_at = limits.observed_at;
    if (!status.plan && limits.plan_type) status.plan = limits.plan_type;
  }
  // Resting: the pool rests a login that hit the limit (with others to go to); a single login rests
  // until the reset the backend named when it refused.
  const until = login.resting_until ?? login.last_limit_hit?.resets_at;
  if (login.state === "ok" && until !== undefined && Date.parse(until) > now) {
    status.state = "resting";
    status.resting_until = until;
    status.advice = `The plan's usage limit was reached; the backend refuses this login's requests until it resets at ${until} (other logins serve meanwhile, when there are some).`;
  }
  return status;
}

function windowFacts(window: UsageWindow, observedMs: number): WindowFacts {
  const minutes = window.window_minutes;
  const label = minutes === 300 ? "5-hour" : minutes === 10_080 ? "weekly" : minutes !== undefined ? `${minutes}-minute` : "usage";
  const facts: WindowFacts = { label };
  if (window.used_percent !== undefined) facts.used_percent = window.used_percent;
  if (minutes !== undefined) facts.window_minutes = minutes;
  const resets = windowResetsAt(window, observedMs);
  if (resets !== undefined && Number.isFinite(resets)) facts.resets_at = new Date(resets).toISOString();
  return facts;
}
