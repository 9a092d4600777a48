/**
 * Local mode's token source: the Codex CLI's auth.json on disk. Read once at start (a missing or
 * broken file stops the start with a message naming the path). Refreshed when the access token is
 * about to expire or the upstream rejects it: one refresh per process at a time (single-flight), one
 * per file across processes (a lock file beside it, the file re-read under the lock in case another
 * process already refreshed).
 *
 * The refresh spends the single-use refresh token, so its result is never lost: it is used from
 * memory at once, stored (atomically, or in place where the file cannot be replaced), and a failed
 * write is retried in the background until it lands or a newer login appears on disk. A `codex
 * login` written meanwhile wins over our refresh. Client-facing messages name the file by its base
 * name only; the full path stays in the operator's log.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { ProxyError } from "../errors.js";
import { silentLogger, type Logger } from "../log.js";
import { writeAuthFile, type WriteAuthFile } from "./auth-file-write.js";
import { AuthFileError, parseAuthJson, type ParsedAuth } from "./auth-json.js";
import { LockTimeoutError, withFileLock, type LockOptions } from "./file-lock.js";
import { isExpired, refreshDue } from "./freshness.js";
import { applyRefresh, loginDeadError, refreshWithRetry, RefreshError, type RefreshOptions, type RefreshResult } from "./oauth.js";
import { loginFacts } from "./login-facts.js";
import { sameCredentials, type Credentials, type LoginFacts, type TokenSource } from "./tokens.js";

export interface FileTokenOptions {
  /** where and how to refresh; without it the file is only re-read, never refreshed */
  refresh?: RefreshOptions;
  now?: () => number;
  log?: Logger;
  /** how long one request waits on a refresh before it gets a 503 (the refresh itself goes on) */
  refreshWaitMs?: number;
  /** how long refreshing pauses after a login fresh from a refresh was rejected too */
  futileRefreshPauseMs?: number;
  /** waits between attempts to store a refreshed login whose write failed (the last one repeats) */
  saveRetryMs?: readonly number[];
  write?: WriteAuthFile;
  lock?: LockOptions;
}

/** A refreshed login that lives in memory only, and the spent login the file still holds. */
interface Unsaved {
  text: string;
  spent: Credentials;
  attempts: number;
  timer?: ReturnType<typeof setTimeout>;
}

const FRESH_MS = 5 * 60_000;

export class FileTokenSource implements TokenSource {
  readonly kind = "auth.json";
  readonly loginHint: string;
  private readonly name: string;
  private current: ParsedAuth;
  private inflight: Promise<ParsedAuth> | undefined;
  private dead: { refreshToken: string; error: ProxyError } | undefined;
  private proactiveRetryAt = 0;
  private unsaved: Unsaved | undefined;
  private refreshed: { credentials: Credentials; at: number } | undefined;
  private refreshPausedUntil = 0;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly write: WriteAuthFile;

  private constructor(
    readonly path: string,
    initial: ParsedAuth,
    private readonly options: FileTokenOptions,
  ) {
    this.current = initial;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? silentLogger;
    this.write = options.write ?? writeAuthFile;
    this.name = basename(path);
    this.loginHint = `run \`codex login\` to renew ${this.name} (for a login of the proxy's own: \`CODEX_HOME=<dir> codex login\` and --auth-path <dir>/auth.json); the proxy picks the new file up by itself.`;
  }

  /** Throws AuthFileError with the path and the fix when the file is missing or unusable. */
  static load(path: string, options: FileTokenOptions = {}): FileTokenSource {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        throw new AuthFileError(
          `No Codex login found at ${path}. Create one with \`codex login\` (install the Codex CLI with \`npm i -g @openai/codex\`), or point --auth-path / CODEX_AUTH_PATH at your auth.json.`,
        );
      }
      throw new AuthFileError(`Cannot read ${path} (${code ?? String(err)}). Check its permissions, or point --auth-path / CODEX_AUTH_PATH elsewhere.`);
    }
    return new FileTokenSource(path, parseAuthJson(text, path), options);
  }

  async get(): Promise<Credentials> {
    const current = this.current;
    if (!this.options.refresh || !refreshDue(current, this.now())) return current.credentials;
    const expired = isExpired(current, this.now());
    if (!expired && this.now() < this.proactiveRetryAt) return current.credentials;
    try {
      return (await this.waitForRefresh(current, false)).credentials;
    } catch (err) {
      // A proactive refresh that failed does not stop a token that still works; try again later.
      if (expired) throw err;
      this.proactiveRetryAt = this.now() + 60_000;
      return current.credentials;
    }
  }

  async describe(): Promise<LoginFacts> {
    const current = this.current;
    if (this.dead?.refreshToken === current.refreshToken) return loginFacts(this.name, current, "dead", `The login can no longer be refreshed: ${this.loginHint}`);
    if (this.inflight) return loginFacts(this.name, current, "refreshing", "A new access token is being fetched; requests wait for it.");
    return loginFacts(this.name, current, "ok");
  }

  async recover(rejected: Credentials): Promise<Credentials | undefined> {
    const latest = await this.latest();
    this.current = latest;
    if (!sameCredentials(latest.credentials, rejected)) return latest.credentials;
    if (this.refreshed && sameCredentials(this.refreshed.credentials, rejected) && this.now() - this.refreshed.at < FRESH_MS) {
      // The backend refuses even a login fresh from the token endpoint: more refreshes would only
      // spend refresh tokens. Pause, and let the client see the 401 with the renewal hint.
      this.refreshPausedUntil = this.now() + (this.options.futileRefreshPauseMs ?? 300_000);
      this.refreshed = undefined;
      this.log.warn("the backend rejected a just-refreshed login; refreshing is paused", { auth_path: this.path });
      return undefined;
    }
    if (!this.options.refresh || !latest.refreshToken || this.now() < this.refreshPausedUntil) return undefined;
    const fresh = await this.waitForRefresh(latest, true);
    return sameCredentials(fresh.credentials, rejected) ? undefined : fresh.credentials;
  }

  /** The newest login: the file's, unless it still holds the login our unsaved refresh spent. */
  private async latest(): Promise<ParsedAuth> {
    const disk = await this.readDisk();
    if (this.unsaved && sameCredentials(disk.credentials, this.unsaved.spent)) return this.current;
    if (this.unsaved) this.dropUnsaved("a newer login appeared in the file");
    return disk;
  }

  private async readDisk(): Promise<ParsedAuth> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      throw this.fileError(err);
    }
    try {
      return parseAuthJson(text, this.name);
    } catch (err) {
      if (!(err instanceof AuthFileError)) throw err;
      return this.fileProblem(err.message);
    }
  }

  private fileProblem(message: string): never {
    throw new ProxyError(503, `${message} If \`codex login\` is writing it right now, retry in a moment.`, {
      code: "auth_file_invalid",
      headers: { "retry-after": "5" },
    });
  }

  private fileError(err: unknown): ProxyError {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    if (code === "ENOENT") {
      return new ProxyError(401, `${this.name} is gone (deleted or moved while the proxy runs), so the login cannot be renewed: ${this.loginHint}`, {
        code: "login_missing",
      });
    }
    const what = code === "EISDIR" ? "is a directory now, not the Codex login file" : `cannot be read (${code})`;
    return new ProxyError(503, `${this.name} ${what}. Put the login file back (\`codex login\` writes it), then retry.`, {
      code: "auth_file_unreadable",
      headers: { "retry-after": "30" },
    });
  }

  /** A request waits on the shared refresh for a bounded time; the refresh goes on without it. */
  private async waitForRefresh(basis: ParsedAuth, force: boolean): Promise<ParsedAuth> {
    const waitMs = this.options.refreshWaitMs ?? 30_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ProxyError(503, `The ChatGPT login is being refreshed, but the token endpoint has not answered within ${Math.round(waitMs / 1000)} s. Retry in a moment.`, {
              code: "login_refresh_pending",
              headers: { "retry-after": "10" },
            }),
          ),
        waitMs,
      );
    });
    try {
      return await Promise.race([this.refresh(basis, force), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** `basis` is the login we found wanting; `force` refreshes even if it does not look due. */
  private refresh(basis: ParsedAuth, force: boolean): Promise<ParsedAuth> {
    if (!this.inflight) {
      const run = withFileLock(`${this.path}.lock`, () => this.refreshLocked(basis, force), this.options.lock).catch((err: unknown) => {
        throw this.lockError(err);
      });
      this.inflight = run.finally(() => {
        this.inflight = undefined;
      });
      this.inflight.catch(() => {}); // every waiter may have given up on it; it still must not go unhandled
    }
    return this.inflight;
  }

  private lockError(err: unknown): unknown {
    if (err instanceof ProxyError) return err;
    if (err instanceof LockTimeoutError) {
      this.log.warn("another process holds the login lock", { lock_path: `${this.path}.lock` });
      return new ProxyError(
        503,
        `Another process is refreshing the login (it holds ${this.name}.lock). Retry in a moment; if no other proxy or Codex CLI uses this login, delete ${this.name}.lock.`,
        { code: "login_refresh_busy", headers: { "retry-after": "10" } },
      );
    }
    if ((err as NodeJS.ErrnoException).code) return this.fileError(err);
    return err;
  }

  private async refreshLocked(basis: ParsedAuth, force: boolean): Promise<ParsedAuth> {
    const disk = await this.readDisk();
    const diskIsSpent = this.unsaved !== undefined && sameCredentials(disk.credentials, this.unsaved.spent);
    if (this.unsaved && !diskIsSpent) this.dropUnsaved("a newer login appeared in the file");
    const latest = diskIsSpent ? this.current : disk;
    if (!sameCredentials(latest.credentials, basis.credentials) || (!force && !refreshDue(latest, this.now()))) {
      this.current = latest; // another process (or a new `codex login`) got there first
      return latest;
    }
    const refreshToken = latest.refreshToken;
    if (!refreshToken) {
      throw new ProxyError(401, `The login in ${this.name} has no refresh token, so it cannot be renewed automatically: ${this.loginHint}`, { code: "login_expired" });
    }
    if (this.dead?.refreshToken === refreshToken) throw this.dead.error;
    let result: RefreshResult;
    try {
      result = await refreshWithRetry(refreshToken, this.options.refresh as RefreshOptions);
    } catch (err) {
      if (!(err instanceof RefreshError)) throw err;
      if (err.permanent) {
        const error = loginDeadError(err, this.loginHint);
        this.dead = { refreshToken, error };
        this.log.error("login refresh refused for good; not retrying until the file changes", { auth_path: this.path, code: err.code ?? "unknown" });
        throw error;
      }
      this.log.warn("login refresh failed, will retry on a later request", { auth_path: this.path, reason: err.message });
      throw new ProxyError(503, `The ChatGPT login could not be refreshed just now (${err.message}). Retry in a moment.`, {
        code: "login_refresh_unavailable",
        headers: { "retry-after": "10" },
      });
    }
    const text = JSON.stringify(applyRefresh(latest.doc, result, this.now()), null, 2);
    const next = parseAuthJson(text, this.name);

    // A `codex login` may have rewritten the file while the token endpoint answered: the newer login wins.
    const again = await readFile(this.path, "utf8").catch(() => undefined);
    const written = again === undefined ? undefined : safeParse(again, this.name);
    if (written && !sameCredentials(written.credentials, disk.credentials)) {
      this.log.info("a new login was written during the refresh; keeping it", { auth_path: this.path });
      this.dropUnsaved("a newer login appeared in the file");
      this.current = written;
      return written;
    }
    this.current = next;
    this.refreshed = { credentials: next.credentials, at: this.now() };
    await this.save(text, diskIsSpent ? (this.unsaved as Unsaved).spent : disk.credentials);
    return next;
  }

  /** Stores a refreshed login; on failure it stays in memory and the write is retried later. */
  private async save(text: string, spent: Credentials): Promise<void> {
    if (this.unsaved?.timer) clearTimeout(this.unsaved.timer);
    try {
      const how = await this.write(this.path, text);
      this.unsaved = undefined;
      this.log.info("login refreshed", { auth_path: this.path, stored: how });
    } catch (err) {
      const unsaved: Unsaved = { text, spent, attempts: (this.unsaved?.attempts ?? 0) + 1 };
      this.unsaved = unsaved;
      this.log.error("THE REFRESHED LOGIN COULD NOT BE SAVED: it is used from memory and the write is retried; if the proxy stops first, run `codex login` again", {
        auth_path: this.path,
        error: err instanceof Error ? err.message : String(err),
        attempt: unsaved.attempts,
      });
      this.scheduleSave(unsaved);
    }
  }

  private scheduleSave(unsaved: Unsaved): void {
    const waits = this.options.saveRetryMs ?? [1_000, 5_000, 30_000, 60_000];
    const wait = waits[Math.min(unsaved.attempts - 1, waits.length - 1)] ?? 60_000;
    unsaved.timer = setTimeout(() => void this.retrySave(unsaved), wait);
    unsaved.timer.unref();
  }

  private async retrySave(unsaved: Unsaved): Promise<void> {
    if (this.unsaved !== unsaved) return;
    try {
      await withFileLock(
        `${this.path}.lock`,
        async () => {
          if (this.unsaved !== unsaved) return;
          const disk = await this.readDisk().catch(() => undefined);
          if (disk && !sameCredentials(disk.credentials, unsaved.spent)) {
            this.dropUnsaved("a newer login appeared in the file");
            this.current = disk;
            return;
          }
          await this.save(unsaved.text, unsaved.spent);
        },
        this.options.lock,
      );
    } catch {
      // The lock is busy or its directory is gone: never write unlocked, try again later.
      if (this.unsaved !== unsaved) return;
      unsaved.attempts++;
      this.scheduleSave(unsaved);
    }
  }

  private dropUnsaved(why: string): void {
    if (!this.unsaved) return;
    if (this.unsaved.timer) clearTimeout(this.unsaved.timer);
    this.unsaved = undefined;
    this.log.info(`the unsaved refreshed login is dropped: ${why}`, { auth_path: this.path });
  }
}

function safeParse(text: string, where: string): ParsedAuth | undefined {
  try {
    return parseAuthJson(text, where);
  } catch {
    return undefined;
  }
}
