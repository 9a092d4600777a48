/**
 * A refreshed login must survive whatever the file system does, and waiting on a login must never
 * hang or answer 500: write failures (a bind-mounted file, a failing disk), symlinks, a `codex login`
 * racing the refresh, a lock left by a pid now used by someone else, the file deleted or broken
 * while running, a backend that rejects even fresh tokens, a token endpoint that hangs.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { writeAuthFile } from "../lambda/auth/auth-file-write.js";
import { startTimeOf } from "../lambda/auth/file-lock.js";
import { FakeCodex } from "./support/fake-codex.js";
import { loginDoc } from "./support/fake-oauth.js";
import { ask, EXPIRED_401, loginHarness, stored } from "./support/login-harness.js";
import { ACCOUNT_ID, readSse } from "./support/proxy.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const h = loginHarness();
const { children, dirs } = h;
const tempFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".tmp"));
async function errorOf(res: Response): Promise<{ status: number; code: string; message: string; retryAfter: string | null }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: body.error.code, message: body.error.message, retryAfter: res.headers.get("retry-after") };
}

describe("a refreshed login is never lost", () => {
  it("when every write fails, the new tokens serve from memory, the write is retried and logged, and lands once it can", async () => {
    const logLines: string[] = [];
    let failures = 3;
    const p = await h.start(h.oauth.issue({ expiredAccess: true }), {
      logLines,
      tokenOptions: {
        saveRetryMs: [30, 30],
        write: async (path, text) => {
          if (failures-- > 0) throw Object.assign(new Error("EBUSY: resource busy or locked, rename"), { code: "EBUSY" });
          return writeAuthFile(path, text);
        },
      },
    });
    const spent = stored(p.authPath).tokens.refresh_token;
    for (let i = 0; i < 3; i++) expect((await readSse(await ask(p.baseURL))).at(-1)).toBe("[DONE]");
    expect(h.oauth.calls.length).toBe(1); // the spent refresh token is never offered again
    await expect.poll(() => stored(p.authPath).tokens.refresh_token, { timeout: 5_000 }).not.toBe(spent);
    expect(h.oauth.accepts(`Bearer ${stored(p.authPath).tokens.access_token}`)).toBe(true);
    expect(logLines.filter((l) => l.includes("COULD NOT BE SAVED")).length).toBeGreaterThanOrEqual(3);
    expect(logLines.some((l) => l.includes('"msg":"login refreshed"'))).toBe(true);
    expect(tempFiles(p.dir)).toEqual([]);
  });

  it("a symlinked auth.json stays a symlink; its target gets the new login", async () => {
    const p = await h.start(h.oauth.issue({ expiredAccess: true }));
    const store = join(p.dir, "store");
    mkdirSync(store);
    writeFileSync(join(store, "auth.json"), readFileSync(p.authPath));
    unlinkSync(p.authPath);
    symlinkSync(join(store, "auth.json"), p.authPath);
    expect((await ask(p.baseURL)).status).toBe(200);
    expect(lstatSync(p.authPath).isSymbolicLink()).toBe(true);
    expect(h.oauth.accepts(`Bearer ${stored(join(store, "auth.json")).tokens.access_token}`)).toBe(true);
    expect(tempFiles(p.dir)).toEqual([]);
    expect(tempFiles(store)).toEqual([]);
  });

  it("a `codex login` written while the refresh is in flight is kept, not overwritten", async () => {
    const p = await h.start(h.oauth.issue({ expiredAccess: true }));
    h.oauth.delayMs = 400;
    const pending = ask(p.baseURL);
    await new Promise((r) => setTimeout(r, 150));
    const newer = h.oauth.issue();
    writeFileSync(p.authPath, JSON.stringify(loginDoc(ACCOUNT_ID, newer)));
    expect((await readSse(await pending)).at(-1)).toBe("[DONE]");
    expect(stored(p.authPath).tokens.access_token).toBe(newer.access);
    expect(p.codex.responsesCalls.at(-1)?.headers.authorization).toBe(`Bearer ${newer.access}`);
  });

  it.skipIf(process.getuid?.() !== 0)(
    "a bind-mounted single-file auth.json (as in a container): rename is refused, the file is rewritten in place",
    async () => {
      // `npm start` in its own mount namespace, where auth.json is a bind mount of a file elsewhere.
      const codex = await new FakeCodex().start();
      try {
        codex.always(h.backend());
        const dir = mkdtempSync(join(tmpdir(), "codex-proxy-mount-"));
        dirs.push(dir);
        const host = join(dir, "host-auth.json");
        const inside = join(dir, "codex", "auth.json");
        mkdirSync(join(dir, "codex"));
        writeFileSync(host, JSON.stringify(loginDoc(ACCOUNT_ID, h.oauth.issue({ expiredAccess: true }))), { mode: 0o600 });
        writeFileSync(inside, "");
        const script = `mount --bind "$HOST_FILE" "$INSIDE_FILE" && exec "$NODE" --import tsx lambda/local.ts --port 0 --auth-path "$INSIDE_FILE"`;
        const child = spawn("unshare", ["-m", "--propagation", "private", "sh", "-c", script], {
          cwd: ROOT,
          env: {
            PATH: process.env.PATH ?? "",
            HOME: dir,
            NODE: process.execPath,
            HOST_FILE: host,
            INSIDE_FILE: inside,
            CODEX_BASE_URL: codex.url,
            CODEX_REFRESH_URL: h.oauth.url,
            ALLOWED_MODELS: "gpt-5.5",
          },
          stdio: ["ignore", "ignore", "pipe"],
        });
        children.push(child);
        let stderr = "";
        child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
        await expect.poll(() => stderr, { timeout: 20_000 }).toContain('"msg":"listening"');
        const { url } = JSON.parse(stderr.split("\n").find((l) => l.includes('"listening"')) ?? "{}") as { url: string };
        for (let i = 0; i < 3; i++) expect((await readSse(await ask(url))).at(-1)).toBe("[DONE]");
        expect(h.oauth.calls.length).toBe(1);
        // Logged before the answer went out, but a pipe and a socket are read in no set order here.
        await expect.poll(() => stderr, { timeout: 5_000 }).toContain('"stored":"rewritten"');
        expect(h.oauth.accepts(`Bearer ${stored(host).tokens.access_token}`)).toBe(true); // seen outside the namespace
        expect(tempFiles(join(dir, "codex"))).toEqual([]);
        expect(stderr).not.toMatch(/eyJ|rt\.\d+\./);
      } finally {
        await codex.stop();
      }
    },
    40_000,
  );
});

describe("the lock never blocks a request for long, nor answers 500", () => {
  it("a lock whose pid is alive but belongs to another process (pid reuse) is stale at once", async () => {
    const p = await h.start(h.oauth.issue({ expiredAccess: true }));
    // This test process is alive on this host, but it started at another time than the lock says.
    writeFileSync(`${p.authPath}.lock`, `${process.pid} ${hostname()} ${Date.now()} abcd ${readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()} 1`);
    const started = Date.now();
    expect((await ask(p.baseURL)).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(existsSync(`${p.authPath}.lock`)).toBe(false);
  });

  it("a lock left before a reboot is stale at once", async () => {
    const p = await h.start(h.oauth.issue({ expiredAccess: true }));
    writeFileSync(`${p.authPath}.lock`, `${process.pid} ${hostname()} ${Date.now()} abcd 00000000-0000-0000-0000-000000000000 ${startTimeOf(process.pid)}`);
    expect((await ask(p.baseURL)).status).toBe(200);
  });

  it("a lock really held by a live process: 503 login_refresh_busy with Retry-After, never a 500", async () => {
    const p = await h.start(h.oauth.issue({ expiredAccess: true }), { tokenOptions: { lock: { timeoutMs: 300 } } });
    const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    children.push(holder);
    writeFileSync(`${p.authPath}.lock`, `${holder.pid} ${hostname()} ${Date.now()} abcd - -`);
    const error = await errorOf(await ask(p.baseURL));
    expect(error).toMatchObject({ status: 503, code: "login_refresh_busy", retryAfter: "10" });
    expect(error.message).toContain("auth.json.lock");
    expect(error.message).not.toContain(p.dir);
  });
});

describe("auth.json changed under a running proxy: an actionable 401/503, not a 500", () => {
  it("deleted: 401 login_missing that says to run codex login", async () => {
    const p = await h.start(h.oauth.issue({ expiredAccess: true }));
    unlinkSync(p.authPath);
    const error = await errorOf(await ask(p.baseURL));
    expect(error).toMatchObject({ status: 401, code: "login_missing" });
    expect(error.message).toMatch(/auth\.json is gone.*codex login/);
    expect(error.message).not.toContain(p.dir);
  });

  it("turned into a directory: 503 auth_file_unreadable with Retry-After", async () => {
    const p = await h.start(h.oauth.issue({ expiredAccess: true }));
    unlinkSync(p.authPath);
    mkdirSync(p.authPath);
    const error = await errorOf(await ask(p.baseURL));
    expect(error).toMatchObject({ status: 503, code: "auth_file_unreadable", retryAfter: "30" });
    expect(error.message).toContain("is a directory");
  });

  it("invalid JSON: 503 auth_file_invalid with Retry-After", async () => {
    const p = await h.start(h.oauth.issue({ expiredAccess: true }));
    writeFileSync(p.authPath, "{ half-written");
    const error = await errorOf(await ask(p.baseURL));
    expect(error).toMatchObject({ status: 503, code: "auth_file_invalid", retryAfter: "5" });
    expect(error.message).toMatch(/auth\.json is not valid JSON/);
  });

  it("the same after an upstream 401 (the file is read then too)", async () => {
    const login = h.oauth.issue();
    const p = await h.start(login);
    h.oauth.revoke(login.access);
    unlinkSync(p.authPath);
    expect(await errorOf(await ask(p.baseURL))).toMatchObject({ status: 401, code: "login_missing" });
  });
});

describe("refreshing is bounded", () => {
  it("a backend that rejects even a freshly refreshed token costs one refresh, not one per request", async () => {
    const p = await h.start(h.oauth.issue());
    p.codex.always(() => ({ kind: "json", status: 401, body: EXPIRED_401 }));
    for (let i = 0; i < 6; i++) {
      const error = await errorOf(await ask(p.baseURL));
      expect(error).toMatchObject({ status: 401, code: "upstream_unauthorized" });
      expect(error.message).toContain("codex login");
    }
    expect(h.oauth.calls.length).toBe(1);
  });

  it("a hanging token endpoint: the request gets 503 login_refresh_pending within the bound; one refresh runs", async () => {
    const p = await h.start(h.oauth.issue({ expiredAccess: true }), { tokenOptions: { refreshWaitMs: 300 } });
    h.oauth.delayMs = 3_000;
    const started = Date.now();
    const errors = await Promise.all(Array.from({ length: 5 }, async () => errorOf(await ask(p.baseURL))));
    expect(Date.now() - started).toBeLessThan(2_000);
    for (const error of errors) expect(error).toMatchObject({ status: 503, code: "login_refresh_pending", retryAfter: "10" });
    expect(h.oauth.calls.length).toBe(1);
    // The refresh goes on without the requests; once it lands, requests succeed with no new call.
    await new Promise((r) => setTimeout(r, 3_200));
    expect((await ask(p.baseURL)).status).toBe(200);
    expect(h.oauth.calls.length).toBe(1);
  });
});

describe("the writer on its own", () => {
  it("replaces atomically where it can and leaves no temp file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "codex-proxy-write-"));
    dirs.push(dir);
    const path = join(dir, "auth.json");
    writeFileSync(path, "old");
    expect(await writeAuthFile(path, "new")).toBe("replaced");
    expect(readFileSync(path, "utf8")).toBe("new");
    expect(lstatSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["auth.json"]);
  });

  it("does not create a file the user deleted when both ways fail", async () => {
    const dir = mkdtempSync(join(tmpdir(), "codex-proxy-write-"));
    dirs.push(dir);
    await expect(writeAuthFile(join(dir, "gone", "auth.json"), "x")).rejects.toThrow(/replacing the file failed \(ENOENT\) and so did rewriting it in place \(ENOENT\)/);
  });
});

it("unshare and mount exist for the bind-mount test", () => {
  if (process.env.CI && process.getuid?.() === 0) expect(spawnSync("unshare", ["--help"]).status).toBe(0);
});
