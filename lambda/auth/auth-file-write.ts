/**
 * Storing a refreshed login. The refresh token it replaces is already spent, so this must not give
 * up easily: an atomic replace (temp file beside the target, fsync, rename) where the file system
 * allows it, else a rewrite in place with fsync — a bind-mounted single file, the usual way to hand
 * auth.json to a container, refuses the rename with EBUSY. A symlinked auth.json stays a symlink: its
 * target is written. No temporary file holding live tokens is left behind, whatever fails.
 */
import { randomBytes } from "node:crypto";
import { chmod, open, realpath, rename, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export type WriteAuthFile = (path: string, text: string) => Promise<"replaced" | "rewritten">;

export const writeAuthFile: WriteAuthFile = async (path, text) => {
  const target = await realpath(path).catch(() => path);
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o600, flush: true });
    await chmod(tmp, 0o600);
    await rename(tmp, target);
    return "replaced";
  } catch (atomicError) {
    await unlink(tmp).catch(() => {});
    try {
      await rewriteInPlace(target, text);
      return "rewritten";
    } catch (inPlaceError) {
      const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? String(e);
      throw new Error(`replacing the file failed (${code(atomicError)}) and so did rewriting it in place (${code(inPlaceError)})`, { cause: inPlaceError });
    }
  }
};

/** Not created if missing: a deleted auth.json means the user logged out. */
async function rewriteInPlace(target: string, text: string): Promise<void> {
  const handle = await open(target, "r+");
  try {
    const bytes = Buffer.from(text, "utf8");
    await handle.write(bytes, 0, bytes.length, 0);
    await handle.truncate(bytes.length);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
