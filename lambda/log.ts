/**
 * One JSON line per log record on stderr (CloudWatch and `npm start` alike). Messages are scrubbed
 * of anything shaped like a bearer token, JWT or API key as a second line of defence: no code path
 * should log a secret in the first place.
 */

export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

// A `<placeholder>` after Bearer is the proxy's own advice (`Authorization: Bearer <key>`), not a secret.
const SECRET_PATTERNS = [/Bearer\s+(?!<[a-z ]{1,20}>)[^\s"',]+/gi, /eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*/g, /\bsk-[\w-]{8,}/g, /\brt[._][\w.-]{8,}/g];

export function scrub(text: string): string {
  return SECRET_PATTERNS.reduce((out, pattern) => out.replace(pattern, "[redacted]"), text);
}

export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const emit =
    (at: LogLevel) =>
    (msg: string, fields: LogFields = {}) => {
      if (LOG_LEVELS.indexOf(at) < threshold) return;
      const record: Record<string, unknown> = { time: new Date().toISOString(), level: at, msg: scrub(msg) };
      for (const [key, value] of Object.entries(fields)) {
        if (value !== undefined) record[key] = typeof value === "string" ? scrub(value) : value;
      }
      write(JSON.stringify(record));
    };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

export const silentLogger: Logger = createLogger("silent");

/**
 * Lines to stderr in batches, for the long-running local server: a line waits at most `ms` (less
 * once `maxChars` are waiting), and whatever waits is written before the process exits. A write to
 * stderr is a blocking system call; one per request cost a short answer about a tenth of its CPU and
 * went out ahead of the answer's own bytes. Lambda keeps writing each line at once: its process is
 * frozen between invocations, and a line held back would wait for the next one.
 */
export function batchedStderr(ms = 50, maxChars = 16 * 1024): { write: (line: string) => void; flush: () => void } {
  let pending = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending === "") return;
    const text = pending;
    pending = "";
    process.stderr.write(text);
  };
  process.on("exit", flush);
  const write = (line: string) => {
    pending += `${line}\n`;
    if (pending.length >= maxChars) return flush();
    timer ??= setTimeout(flush, ms).unref();
  };
  return { write, flush };
}
