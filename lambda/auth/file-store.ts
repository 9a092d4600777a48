/**
 * Local mode's token source: the Codex CLI's auth.json on disk. Read once at start (a missing or
 * broken file stops the start with a message naming the path), and re-read when the upstream
 * rejects the token, because a Codex CLI sharing the file may have refreshed it meanwhile.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { AuthFileError, parseAuthJson, type ParsedAuth } from "./auth-json.js";
import { sameCredentials, type Credentials, type TokenSource } from "./tokens.js";

export class FileTokenSource implements TokenSource {
  readonly kind = "auth.json";
  readonly loginHint: string;
  private current: ParsedAuth;

  private constructor(
    readonly path: string,
    initial: ParsedAuth,
  ) {
    this.current = initial;
    this.loginHint = `run \`codex login\` to renew ${path} (the proxy re-reads it on the next rejected request).`;
  }

  /** Throws AuthFileError with the path and the fix when the file is missing or unusable. */
  static load(path: string): FileTokenSource {
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
    return new FileTokenSource(path, parseAuthJson(text, path));
  }

  get credentialsKind(): Credentials["kind"] {
    return this.current.credentials.kind;
  }

  async get(): Promise<Credentials> {
    return this.current.credentials;
  }

  async recover(rejected: Credentials): Promise<Credentials | undefined> {
    try {
      this.current = parseAuthJson(await readFile(this.path, "utf8"), this.path);
    } catch {
      return undefined;
    }
    return sameCredentials(this.current.credentials, rejected) ? undefined : this.current.credentials;
  }
}
