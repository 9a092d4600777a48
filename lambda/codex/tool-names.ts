import { createHash } from "node:crypto";
import { badRequest } from "../errors.js";

/** The backend rejects function names longer than this (docs/backend.md §2). */
export const MAX_TOOL_NAME_LENGTH = 64;

/**
 * Maps client tool names to names the backend accepts and back. Long names (MCP tools often pass
 * 64 characters: `mcp__server__long_action_name`) are cut and given a hash suffix, so two long names
 * with the same prefix never collide and the same name always maps to the same short one — the
 * prompt cache depends on the request being byte-stable across turns.
 */
export class ToolNames {
  private readonly originals = new Map<string, string>();
  /** names that went upstream as they are */
  private readonly literal = new Set<string>();

  /**
   * A name as it goes upstream. A short name that another tool's long name shortens to would reach
   * the backend twice, and calls to it would come back under the long one's name: that is refused.
   */
  toUpstream(name: string): string {
    if (name.length <= MAX_TOOL_NAME_LENGTH) {
      const long = this.originals.get(name);
      if (long !== undefined) throw collision(long, name);
      this.literal.add(name);
      return name;
    }
    const hash = createHash("sha256").update(name).digest("hex").slice(0, 10);
    const short = `${name.slice(0, MAX_TOOL_NAME_LENGTH - hash.length - 1)}_${hash}`;
    if (this.literal.has(short)) throw collision(name, short);
    this.originals.set(short, name);
    return short;
  }

  /** The client's own name for an upstream name; unknown names pass through unchanged. */
  toClient(name: string): string {
    return this.originals.get(name) ?? name;
  }
}

function collision(long: string, short: string): Error {
  return badRequest(
    `The tool names '${long}' and '${short}' would reach the backend as the same name: names over ${MAX_TOOL_NAME_LENGTH} characters are shortened to their first characters and a hash, which here is '${short}'. Rename one of the two tools.`,
    "tools",
    "tool_name_collision",
  );
}
