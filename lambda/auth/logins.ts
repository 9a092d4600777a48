/**
 * Several ChatGPT logins behind one endpoint: which login a request goes to.
 *
 * - A client key may be bound to some logins (auth/client-keys.ts); an unbound key uses them all.
 * - A conversation (its prompt cache key) stays on one login, so the backend's prompt cache stays
 *   warm and its encrypted reasoning and compaction items stay readable (they are bound to the login
 *   that minted them). Its login is the one it last used here, else the login that ranks first for
 *   it by rendezvous hashing: the same on every restart and every Lambda instance, and new
 *   conversations spread evenly over the logins (LOGIN_POLICY=fill ranks them in their order
 *   instead: the first login with room takes them all).
 * - A login that hits the plan's usage limit rests until the reset the backend named, and the
 *   request fails over to the next login that ranks for it, before the client has seen a byte. A
 *   login whose refresh token is spent is skipped. When every login a key may use rests, the client
 *   gets a 429 with Retry-After at the earliest reset; once a minute a resting login is tried anyway,
 *   so a limit lifted early (credits bought) is noticed.
 * One login, named "default", is what a deployment that names none has: it behaves as before.
 * On Lambda each instance learns a login's rest on its own, at the cost of one refused request.
 */
import { createHash } from "node:crypto";
import { ProxyError } from "../errors.js";
import type { Credentials, LoginFacts, TokenSource } from "./tokens.js";

export interface Login {
  readonly name: string;
  readonly source: TokenSource;
}

/** How long a login rests when the backend named no reset. */
const DEFAULT_REST_MS = 5 * 60_000;
/** How often a resting login is tried anyway, when no other login can serve. */
const PROBE_EVERY_MS = 60_000;
/** Conversations remembered per process (their last login); older ones fall back to the hash. */
const REMEMBERED = 20_000;

interface Rest {
  until: number;
  probedAt: number;
}

export class LoginPool {
  readonly logins: readonly Login[];
  private readonly resting = new Map<string, Rest>();
  private readonly limitHits = new Map<string, { at: number; until?: number }>();
  private readonly conversations = new Map<string, string>();

  constructor(
    logins: readonly Login[],
    readonly now: () => number = Date.now,
    /** "spread": new conversations over all logins (rendezvous hashing); "fill": the first login with room first */
    private readonly policy: "spread" | "fill" = "spread",
  ) {
    if (logins.length === 0) throw new Error("a login pool needs a login");
    this.logins = logins;
    if (new Set(logins.map((l) => l.name)).size !== logins.length) throw new Error("two logins share a name");
  }

  get size(): number {
    return this.logins.length;
  }

  /** The first login: the one a single-login deployment has, and the model catalog's. */
  get primary(): Login {
    return this.logins[0] as Login;
  }

  /** The logins a key may use, in the order they rank for this conversation. */
  ranked(allowed: readonly string[] | undefined, conversation: string | undefined): Login[] {
    const eligible = allowed ? this.logins.filter((l) => allowed.includes(l.name)) : [...this.logins];
    if (eligible.length <= 1 || conversation === undefined) return eligible;
    const score = (l: Login) => createHash("sha256").update(`${conversation}\u0000${l.name}`).digest().readUInt32BE(0);
    const order =
      this.policy === "fill"
        ? eligible
        : eligible
            .map((l) => [score(l), l] as const)
            .sort((a, b) => b[0] - a[0])
            .map(([, l]) => l);
    const last = this.conversations.get(conversation);
    const at = order.findIndex((l) => l.name === last);
    if (at > 0) order.unshift(...order.splice(at, 1));
    return order;
  }

  /** A route for one request: the logins to try, in order, skipping resting and dead ones. */
  route(allowed: readonly string[] | undefined, conversation: string | undefined): LoginRoute {
    return new LoginRoute(this, this.ranked(allowed, conversation), conversation);
  }

  /** The conversation's login, as it last was used. */
  lastLoginOf(conversation: string | undefined): string | undefined {
    return conversation === undefined ? undefined : this.conversations.get(conversation);
  }

  remember(conversation: string | undefined, name: string): void {
    if (conversation === undefined || this.size === 1) return;
    this.conversations.delete(conversation);
    this.conversations.set(conversation, name);
    if (this.conversations.size > REMEMBERED) this.conversations.delete(this.conversations.keys().next().value as string);
  }

  /** The login hit the usage limit (the backend named its reset, or not). With others to go to, it rests until then. */
  noteLimit(name: string, untilMs: number | undefined): void {
    const now = this.now();
    this.limitHits.set(name, untilMs === undefined ? { at: now } : { at: now, until: untilMs });
    if (this.size > 1) this.rest(name, untilMs);
  }

  /** The login rests until `untilMs` (a window reported used up, or the usage limit hit). */
  rest(name: string, untilMs: number | undefined): void {
    const now = this.now();
    this.resting.set(name, { until: untilMs !== undefined && untilMs > now ? untilMs : now + DEFAULT_REST_MS, probedAt: now });
  }

  /** A request on the login succeeded: whatever kept it resting is over. */
  served(name: string): void {
    this.resting.delete(name);
  }

  /** Until when the login rests, if it does. */
  restingUntil(name: string): number | undefined {
    const rest = this.resting.get(name);
    if (!rest) return undefined;
    if (rest.until <= this.now()) {
      this.resting.delete(name);
      return undefined;
    }
    return rest.until;
  }

  /** A resting login may be tried anyway once a minute (see the file comment); this takes that turn. */
  takeProbe(name: string): boolean {
    const rest = this.resting.get(name);
    if (!rest || this.now() - rest.probedAt < PROBE_EVERY_MS) return false;
    rest.probedAt = this.now();
    return true;
  }

  /** Each login as /status and /health show it. */
  async describe(): Promise<PoolLoginFacts[]> {
    return Promise.all(
      this.logins.map(async (login) => {
        const own = await login.source.describe();
        // one login keeps the name its source gives it (its file, its secret); several are named
        const facts: PoolLoginFacts = { ...own, name: this.size > 1 ? login.name : own.name, login: login.name };
        const until = this.restingUntil(login.name);
        if (until !== undefined) facts.resting_until = new Date(until).toISOString();
        const hit = this.limitHits.get(login.name);
        if (hit) facts.last_limit_hit = { at: new Date(hit.at).toISOString(), ...(hit.until === undefined ? {} : { resets_at: new Date(hit.until).toISOString() }) };
        return facts;
      }),
    );
  }
}

/** A login's facts in the pool: its own, plus its name in the pool, its rest and its last limit hit. */
export interface PoolLoginFacts extends LoginFacts {
  /** the pool's name for it (keys, logs, metrics) */
  login: string;
  resting_until?: string;
  last_limit_hit?: { at: string; resets_at?: string };
}

/** The logins one request may still try, best first. */
export class LoginRoute {
  private index = 0;
  private lastError: ProxyError | undefined;

  constructor(
    private readonly pool: LoginPool,
    private readonly order: readonly Login[],
    readonly conversation: string | undefined,
  ) {}

  /** The next login to try with its credentials, or the error that says why none can serve. */
  async next(): Promise<{ login: Login; credentials: Credentials }> {
    while (this.index < this.order.length) {
      const login = this.order[this.index++] as Login;
      if (this.pool.restingUntil(login.name) !== undefined) continue;
      try {
        // A dead login's source says so without calling the token endpoint again, so it
        // is asked anew each time: a new `codex login` or upload brings it back by itself.
        return { login, credentials: await login.source.get() };
      } catch (err) {
        if (!(err instanceof ProxyError) || !isDeadLogin(err)) throw err;
        const named = this.pool.size > 1 ? namedError(err, login.name) : err;
        if (this.order.length === 1) throw named;
        this.lastError = named;
      }
    }
    // Every login rests (or is dead): the one resting shortest is tried once a minute anyway.
    const resting = this.order
      .map((login) => [login, this.pool.restingUntil(login.name)] as const)
      .filter((entry): entry is readonly [Login, number] => entry[1] !== undefined)
      .sort((a, b) => a[1] - b[1]);
    const soonest = resting[0];
    if (soonest && this.pool.takeProbe(soonest[0].name)) {
      const credentials = await soonest[0].source.get();
      return { login: soonest[0], credentials };
    }
    if (soonest) throw allResting(soonest[1] - this.pool.now(), soonest[1], resting.length, this.order.length);
    throw this.lastError ?? new ProxyError(503, "No login can serve this request.", { code: "no_login" });
  }

  /** Whether the conversation moves to `login` from the one it last used here. */
  moves(login: Login): boolean {
    const last = this.pool.lastLoginOf(this.conversation);
    return last !== undefined && last !== login.name;
  }

  /** Whether a failure on `login` before the first byte may go to the next login instead of the client. */
  failOver(login: Login, error: unknown, retryAfterMs: number | undefined): boolean {
    if (!(error instanceof ProxyError)) return false;
    if (error.code === "usage_limit_reached") {
      this.pool.noteLimit(login.name, retryAfterMs === undefined ? undefined : this.pool.now() + retryAfterMs);
      return this.order.length > 1;
    }
    return isDeadLogin(error) && this.order.length > 1;
  }

  /** The request was served by `login`. */
  served(login: Login): void {
    this.pool.served(login.name);
    this.pool.remember(this.conversation, login.name);
  }
}

/** A login that can no longer be refreshed, or was never uploaded: it needs a new `codex login` or upload. */
function isDeadLogin(error: ProxyError): boolean {
  return error.code === "login_expired" || error.code === "login_not_uploaded";
}

/** A login's own error, saying which login it is about when there are several. */
function namedError(error: ProxyError, name: string): ProxyError {
  return new ProxyError(error.status, `Login '${name}': ${error.message}`, { type: error.type, param: error.param, code: error.code, headers: error.headers, cause: error });
}

function allResting(leftMs: number, untilMs: number, resting: number, total: number): ProxyError {
  const seconds = Math.max(1, Math.ceil(leftMs / 1000));
  const which =
    total === 1 ? "The login this key may use has" : resting === total ? `All ${total} logins this key may use have` : "Every login this key may use that is not dead has";
  return new ProxyError(429, `${which} reached the plan's usage limit. The first resets at ${new Date(untilMs).toISOString()}; retry then.`, {
    code: "usage_limit_reached",
    headers: { "retry-after": String(seconds) },
  });
}
