import { createHash } from "node:crypto";

/** The backend rejects function names longer than this (shared/reference/codex-backend.md §2.4). */
export const MAX_TOOL_NAME_LENGTH = 64;

/**
 * Maps client tool names to names the backend accepts and back. Long names (MCP tools often pass
 * 64 characters: `mcp__server__long_action_name`) are cut and given a hash suffix, so two long names
 * with the same prefix never collide and the same name always maps to the same short one — the
 * prompt cache depends on the request being byte-stable across turns.
 */
export class ToolNames {
  private readonly originals = new Map<string, string>();

  toUpstream(name: string): string {
    if (name.length <= MAX_TOOL_NAME_LENGTH) return name;
    const hash = createHash("sha256").update(name).digest("hex").slice(0, 10);
    const short = `${name.slice(0, MAX_TOOL_NAME_LENGTH - hash.length - 1)}_${hash}`;
    this.originals.set(short, name);
    return short;
  }

  /** The client's own name for an upstream name; unknown names pass through unchanged. */
  toClient(name: string): string {
    return this.originals.get(name) ?? name;
  }
}
