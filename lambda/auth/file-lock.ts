/**
 * An exclusive lock file, so only one process refreshes a shared auth.json at a time. The holder is
 * named by more than its pid — the host, the boot and the process's start time — because a container
 * restart hands the same pid to another process: a lock whose pid is alive but belongs to someone
 * else is stale. A stale lock (or one older than `staleMs`) is taken over; the takeover renames the
 * file away first and checks it was the one judged stale, so two waiters cannot both break it.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { link, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";

export interface LockOptions {
  timeoutMs?: number;
  staleMs?: number;
  pollMs?: number;
}

export class LockTimeoutError extends Error {}

/** The boot this machine is in, where the system says (Linux); empty elsewhere. */
const BOOT_ID = readOr("/proc/sys/kernel/random/boot_id").trim();

export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const { timeoutMs = 20_000, staleMs = 120_000, pollMs = 50 } = options;
  const owner = `${process.pid} ${hostname()} ${Date.now()} ${randomBytes(4).toString("hex")} ${BOOT_ID || "-"} ${startTimeOf(process.pid) || "-"}`;
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
  if (age < staleMs && holderAlive(content)) return;
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

/** Whether the process that wrote `content` may still hold the lock; unknown holders count as alive. */
function holderAlive(content: string): boolean {
  const [pid, host, , , boot, started] = content.split(" ");
  if (host !== hostname()) return true; // another machine's process: only age can tell
  if (boot && boot !== "-" && BOOT_ID && boot !== BOOT_ID) return false; // written before a reboot
  if (!alive(Number(pid))) return false;
  if (started && started !== "-") {
    const now = startTimeOf(Number(pid));
    if (now && now !== started) return false; // the pid has been reused by another process
  }
  return true;
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

/** A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), where Linux has it. */
export function startTimeOf(pid: number): string {
  const stat = readOr(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[19] ?? "";
}

function readOr(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
