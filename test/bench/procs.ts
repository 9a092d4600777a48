/** Child processes for the benchmark, and what Linux says they cost (/proc): CPU time and peak RSS. */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux this runs on

export interface Child {
  proc: ChildProcess;
  pid: number;
  stop(): Promise<void>;
}

/** Starts `command`, resolving with the first line `ready` accepts from its stdout or stderr. */
export function startChild<T>(command: string, args: string[], env: NodeJS.ProcessEnv, ready: (line: string) => T | undefined): Promise<{ child: Child; value: T }> {
  const proc = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    const onLine = (line: string) => {
      if (output.length < 50) output.push(line);
      const value = ready(line);
      if (value !== undefined) resolve({ child: childOf(proc), value });
    };
    createInterface({ input: proc.stdout! }).on("line", onLine);
    createInterface({ input: proc.stderr! }).on("line", onLine);
    proc.once("exit", (code) => reject(new Error(`${command} ${args.join(" ")} exited (${code}) before it was ready:\n${output.join("\n")}`)));
  });
}

function childOf(proc: ChildProcess): Child {
  return {
    proc,
    pid: proc.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
        setTimeout(() => proc.kill("SIGKILL"), 3000).unref();
      }),
  };
}

/** user + system CPU of a process so far, in ms */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

function statusKb(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) : 0;
}

export const rssMb = (pid: number) => statusKb(pid, "VmRSS") / 1024;

/**
 * Peak RSS over a stretch of work: the kernel's high-water mark, reset at the start where Linux
 * allows it (clear_refs 5), and sampled as well in case it does not.
 */
export class PeakRss {
  private sampled = 0;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly reset: boolean;

  constructor(private readonly pid: number) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, "5");
      this.reset = true;
    } catch {
      this.reset = false;
    }
    this.timer = setInterval(() => (this.sampled = Math.max(this.sampled, rssMb(pid))), 10);
  }

  stop(): number {
    clearInterval(this.timer);
    const now = rssMb(this.pid);
    return Math.max(this.sampled, now, this.reset ? statusKb(this.pid, "VmHWM") / 1024 : 0);
  }
}
