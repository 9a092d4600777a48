/**
 * What /status shows of this process's recent traffic: the last requests and the last errors, each
 * in a ring of fixed size (no disk, no database: a process's history ends with it, and on Lambda
 * each instance has its own), and the latest usage windows the backend reported for each login.
 * A request's entry copies a few fields of its log line, which never holds prompt text, a key or a
 * token.
 */
import type { RateLimits } from "../codex/rate-limits.js";
import type { LogFields } from "../log.js";

export interface RecentRequest {
  at: string;
  request_id?: string;
  method?: string;
  path?: string;
  dialect?: string;
  model?: string;
  stream?: boolean;
  status?: number;
  ms?: number;
  ttfb_ms?: number;
  input_tokens?: number;
  output_tokens?: number;
  cached_tokens?: number;
  error_code?: string;
  outcome?: string;
}

const KEPT = [
  "request_id",
  "method",
  "path",
  "dialect",
  "model",
  "stream",
  "status",
  "ms",
  "ttfb_ms",
  "input_tokens",
  "output_tokens",
  "cached_tokens",
  "error_code",
  "outcome",
] as const;

export class RecentActivity {
  private readonly requests: (RecentRequest | undefined)[];
  private readonly errors: (RecentRequest | undefined)[];
  private next = 0;
  private nextError = 0;
  /** the latest usage windows the backend reported, by login */
  private readonly windows = new Map<string, RateLimits>();

  constructor(
    private readonly now: () => number,
    size = 50,
    errorSize = 20,
  ) {
    this.requests = new Array(size);
    this.errors = new Array(errorSize);
  }

  /** A finished request, from its log line. */
  add(line: LogFields): void {
    const entry: RecentRequest = { at: new Date(this.now()).toISOString() };
    for (const key of KEPT) {
      const value = line[key];
      if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") (entry as unknown as Record<string, unknown>)[key] = value;
    }
    const status = typeof line.error_status === "number" ? line.error_status : entry.status;
    if (status !== undefined && status !== entry.status) entry.status = status;
    this.requests[this.next] = entry;
    this.next = (this.next + 1) % this.requests.length;
    if ((status ?? 0) >= 400 || entry.error_code !== undefined) {
      this.errors[this.nextError] = entry;
      this.nextError = (this.nextError + 1) % this.errors.length;
    }
  }

  observe(login: string, limits: RateLimits): void {
    this.windows.set(login, limits);
  }

  windowsOf(login: string): RateLimits | undefined {
    return this.windows.get(login);
  }

  /** Newest first. */
  lastRequests(): RecentRequest[] {
    return newestFirst(this.requests, this.next);
  }

  lastErrors(): RecentRequest[] {
    return newestFirst(this.errors, this.nextError);
  }
}

function newestFirst<T>(ring: (T | undefined)[], next: number): T[] {
  const out: T[] = [];
  for (let i = 1; i <= ring.length; i++) {
    const entry = ring[(next - i + ring.length) % ring.length];
    if (entry !== undefined) out.push(entry);
  }
  return out;
}
