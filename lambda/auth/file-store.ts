/**
 * Local mode's token source: the Codex CLI's auth.json on disk. Read once at start (a missing or
 * broken file stops the start with a message naming the path). Refreshed when the access token is
 * about to expire or the upstream rejects it: one refresh per process at a time (single-flight), one
 * per file across processes (a lock file beside it, the file re-read under the lock in case another
 * process already refreshed), and the new tokens written atomically (temp file + rename, mode 0600)
 * before they are used, because the refresh token they replace is dead from that moment.
 */
import { readFileSync } from "node:fs";
import { chmod, readFile, rename, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { ProxyError } from "../errors.js";
import { silentLogger, type Logger } from "../log.js";
import { AuthFileError, parseAuthJson, type ParsedAuth } from "./auth-json.js";
import { withFileLock } from "./file-lock.js";
import { isExpired, refreshDue } from "./freshness.js";
import { applyRefresh, loginDeadError, refreshWithRetry, RefreshError, type RefreshOptions } from "./oauth.js";
import { sameCredentials, type Credentials, type TokenSource } from "./tokens.js";

export interface FileTokenOptions {
  /** where and how to refresh; without it the file is only re-read, never refreshed */
  refresh?: RefreshOptions;
  now?: () => number;
  log?: Logger;
}

export class FileTokenSource implements TokenSource {
  readonly kind = "auth.json";
  readonly loginHint: string;
  private current: ParsedAuth;
  private inflight: Promise<ParsedAuth> | undefined;
  private dead: { refreshToken: string; error: ProxyError } | undefined;
  private proactiveRetryAt = 0;
  private readonly now: () => number;
  private readonly log: Logger;

  private constructor(
    readonly path: string,
    initial: ParsedAuth,
    private readonly options: FileTokenOptions,
  ) {
    this.current = initial;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? silentLogger;
    this.loginHint = `run \`codex login\` to renew ${path} (for a login of the proxy's own: \`CODEX_HOME=<dir> codex login\` and --auth-path <dir>/auth.json); the proxy picks the new file up by itself.`;
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
      return (await this.refresh(current, false)).credentials;
    } catch (err) {
      // A proactive refresh that failed does not stop a token that still works; try again later.
      if (expired) throw err;
      this.proactiveRetryAt = this.now() + 60_000;
      return current.credentials;
    }
  }

  async recover(rejected: Credentials): Promise<Credentials | undefined> {
    const disk = await this.readDisk().catch(() => undefined);
    if (disk) this.current = disk;
    if (disk && !sameCredentials(disk.credentials, rejected)) return disk.credentials;
    if (!this.options.refresh || !disk?.refreshToken) return undefined;
    const fresh = await this.refresh(disk, true);
    return sameCredentials(fresh.credentials, rejected) ? undefined : fresh.credentials;
  }

  private async readDisk(): Promise<ParsedAuth> {
    return parseAuthJson(await readFile(this.path, "utf8"), this.path);
  }

  /** `basis` is the login we found wanting; `force` refreshes even if it does not look due. */
  private refresh(basis: ParsedAuth, force: boolean): Promise<ParsedAuth> {
    this.inflight ??= withFileLock(`${this.path}.lock`, () => this.refreshLocked(basis, force)).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async refreshLocked(basis: ParsedAuth, force: boolean): Promise<ParsedAuth> {
    const disk = await this.readDisk();
    const changed = !sameCredentials(disk.credentials, basis.credentials);
    if (changed || (!force && !refreshDue(disk, this.now()))) {
      this.current = disk; // another process (or a new `codex login`) got there first
      return disk;
    }
    const refreshToken = disk.refreshToken;
    if (!refreshToken) {
      throw new ProxyError(401, `The login in ${this.path} has no refresh token, so it cannot be renewed automatically: ${this.loginHint}`, { code: "login_expired" });
    }
    if (this.dead?.refreshToken === refreshToken) throw this.dead.error;
    let result;
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
    const text = JSON.stringify(applyRefresh(disk.doc, result, this.now()), null, 2);
    await writeAtomic(this.path, text);
    this.current = parseAuthJson(text, this.path);
    this.log.info("login refreshed", { auth_path: this.path });
    return this.current;
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(tmp, text, { mode: 0o600, flush: true });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}
