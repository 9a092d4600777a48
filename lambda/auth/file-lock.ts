/**
 * An exclusive lock file, so only one process refreshes a shared auth.json at a time. A lock left by
 * a process that died (or one older than `staleMs`) is taken over; the takeover renames the stale
 * file away first and checks it was the one judged stale, so two waiters cannot both break it.
 */
import { randomBytes } from "node:crypto";
import { link, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";

export interface LockOptions {
  timeoutMs?: number;
  staleMs?: number;
  pollMs?: number;
}

export class LockTimeoutError extends Error {}

export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const { timeoutMs = 60_000, staleMs = 120_000, pollMs = 50 } = options;
  const owner = `${process.pid} ${hostname()} ${Date.now()} ${randomBytes(4).toString("hex")}`;
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(lockPath, "wx", 0o600);
      await handle.writeFile(owner);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      await breakIfStale(lockPath, staleMs);
      if (Date.now() > giveUpAt) throw new LockTimeoutError(`could not lock ${lockPath} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }
  try {
    return await fn();
  } finally {
    if ((await readFile(lockPath, "utf8").catch(() => "")) === owner) await unlink(lockPath).catch(() => {});
  }
}

async function breakIfStale(lockPath: string, staleMs: number): Promise<void> {
  let content: string;
  let age: number;
  try {
    content = await readFile(lockPath, "utf8");
    age = Date.now() - (await stat(lockPath)).mtimeMs;
  } catch {
    return; // released meanwhile
  }
  const [pid, host] = content.split(" ");
  const deadHere = host === hostname() && !alive(Number(pid));
  if (!deadHere && age < staleMs) return;
  const aside = `${lockPath}.${randomBytes(4).toString("hex")}.stale`;
  try {
    await rename(lockPath, aside);
  } catch {
    return;
  }
  if ((await readFile(aside, "utf8").catch(() => "")) !== content) {
    await link(aside, lockPath).catch(() => {}); // not the stale one: put it back unless replaced
  }
  await unlink(aside).catch(() => {});
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
