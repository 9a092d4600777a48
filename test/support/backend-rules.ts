/**
 * What the real Codex backend refuses in a `/responses` body, so the fake refuses it too, with the
 * real status and error shape (docs/codex-cli.md, "Remote compaction"; docs/backend.md §3):
 * - an input item with an `id` (with `store: false` nothing is stored to resolve it) — 404;
 * - a `compaction_trigger` that is not the last item, or that carries an id — 400;
 * - a `compaction` item whose id does not begin with `cmp` — 400; whose id or content is not what
 *   the backend minted, or that was minted under another account — 400 `invalid_encrypted_content`;
 * - a tool of one of Anthropic's dated web search types (`web_search_20250305`) — 400: the backend's
 *   own search tool is `{"type":"web_search"}`.
 * - a body that breaks the hard constraints of docs/backend.md §2: `stream` not `true`, `store` not
 *   `false`, no string `instructions`, an `input` that is not a list, or a parameter the backend does
 *   not take (`max_output_tokens`, `temperature`, …) — 400 `{"detail": …}`, its own words.
 * - a reasoning item whose encrypted content another account minted (the fake's own, `fake-enc:`,
 *   see codex-turns.ts) — 400 `invalid_encrypted_content`: it is bound to the login that minted it.
 * Compaction items are minted here (`mint`), so the fake knows each one's content and account.
 */
import { randomBytes } from "node:crypto";
import type { Reply } from "./fake-codex.js";

interface Minted {
  encrypted_content: string;
  account: string;
}

const error = (status: number, message: string, param: string | null, code: string | null): Reply => ({
  kind: "json",
  status,
  body: { error: { message, type: "invalid_request_error", param, code } },
});

/** Parameters the backend refuses ("Unsupported parameter: …"); docs/backend.md §2. */
export const UNSUPPORTED_PARAMETERS = ["max_output_tokens", "temperature", "top_p", "truncation", "metadata", "user", "safety_identifier", "prompt_cache_retention"];

/** The backend's refusal of a body that breaks its hard constraints, in its `{"detail"}` form, or undefined. */
export function bodyRefusal(body: unknown): Reply | undefined {
  const detail = (text: string): Reply => ({ kind: "json", status: 400, body: { detail: text } });
  if (typeof body !== "object" || body === null || Array.isArray(body)) return detail("Invalid request body");
  const b = body as Record<string, unknown>;
  if (b.stream !== true) return detail("Stream must be set to true");
  if (b.store !== false) return detail("Store must be set to false"); // omitted counts as true
  if (typeof b.instructions !== "string") return detail("Instructions are required");
  if (!Array.isArray(b.input)) return detail("Input must be a list");
  for (const name of UNSUPPORTED_PARAMETERS) if (name in b) return detail(`Unsupported parameter: ${name}`);
  return undefined;
}

export class CompactionLedger {
  private readonly minted = new Map<string, Minted>();

  /** A compaction item as the backend mints it for this account. */
  mint(account: string): { type: "compaction"; id: string; encrypted_content: string } {
    const item = { type: "compaction" as const, id: `cmp_${randomBytes(12).toString("hex")}`, encrypted_content: `gAAAAA${randomBytes(48).toString("base64")}` };
    this.minted.set(item.id, { encrypted_content: item.encrypted_content, account });
    return item;
  }

  /** The refusal the real backend would give this body, or undefined when it would accept it. */
  refusal(body: unknown, account: string): Reply | undefined {
    const broken = bodyRefusal(body);
    if (broken) return broken;
    const tools = (body as { tools?: unknown } | undefined)?.tools;
    for (const [i, tool] of (Array.isArray(tools) ? tools : []).entries()) {
      const type = (tool as { type?: unknown }).type;
      // Anthropic's dated server tools are not the backend's; its own search is `web_search`.
      if (typeof type === "string" && /^web_search_\d+$/.test(type)) {
        return error(
          400,
          `Invalid value: '${type}'. Supported values are: 'function', 'custom', 'web_search', 'web_search_preview', 'image_generation', 'local_shell', 'tool_search'.`,
          `tools[${i}].type`,
          "invalid_value",
        );
      }
    }
    const input = (body as { input?: unknown } | undefined)?.input;
    if (!Array.isArray(input)) return undefined;
    for (const [i, raw] of input.entries()) {
      const item = raw as Record<string, unknown>;
      if (item.type === "compaction_trigger") {
        if (i !== input.length - 1) return error(400, "The 'compaction_trigger' item must be the final input item.", `input[${i}]`, "invalid_value");
        if (item.id !== undefined) return error(400, `Invalid 'input[${i}].id': a compaction_trigger takes no id.`, `input[${i}].id`, "invalid_value");
        continue;
      }
      if (item.type === "compaction") {
        const refused = this.checkCompaction(item, i, account);
        if (refused) return refused;
        continue;
      }
      const sealed = typeof item.encrypted_content === "string" ? /^fake-enc:([^:]*):/.exec(item.encrypted_content)?.[1] : undefined;
      if (item.type === "reasoning" && sealed !== undefined && sealed !== account) {
        return error(
          400,
          `The encrypted content for item ${String(item.id ?? "(no id)")} could not be verified. Reason: Encrypted content could not be decrypted or parsed.`,
          null,
          "invalid_encrypted_content",
        );
      }
      if (item.id !== undefined) {
        return error(
          404,
          `Item with id '${String(item.id)}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`,
          "input",
          null,
        );
      }
    }
    return undefined;
  }

  private checkCompaction(item: Record<string, unknown>, i: number, account: string): Reply | undefined {
    const id = item.id;
    const unverified = (reason: string) =>
      error(400, `The encrypted content for item ${typeof id === "string" ? id : "(no id)"} could not be verified. Reason: ${reason}`, null, "invalid_encrypted_content");
    if (id === undefined) return unverified("Encrypted content item_id did not match the target item id.");
    if (typeof id !== "string" || !id.startsWith("cmp"))
      return error(400, `Invalid 'input[${i}].id': '${String(id)}'. Expected an ID that begins with 'cmp'.`, `input[${i}].id`, "invalid_value");
    const minted = this.minted.get(id);
    if (!minted || minted.encrypted_content !== item.encrypted_content) return unverified("Encrypted content item_id did not match the target item id.");
    if (minted.account !== account) return unverified("Encrypted content could not be decrypted or parsed.");
    return undefined;
  }
}
