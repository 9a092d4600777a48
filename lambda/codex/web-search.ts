/**
 * The backend's own web search, as every dialect asks for it and reads it back (docs/web-search.md):
 * a `{"type":"web_search"}` tool (options `search_context_size`, `user_location`,
 * `filters.allowed_domains`) makes the model search; each search streams a `web_search_call` item
 * whose `action` is `{type: "search", query, sources: [{type: "url", url}]}` (the sources only when
 * `include` asks for them), and the answer's text carries `url_citation` annotations
 * (`{type, url, title, start_index, end_index}`), announced by `response.output_text.annotation.added`.
 */
import type { HostedTool } from "./types.js";

export const WEB_SEARCH_SOURCES = "web_search_call.action.sources";

export interface WebSearchOptions {
  allowedDomains?: string[];
  contextSize?: string;
  userLocation?: { city?: string; region?: string; country?: string; timezone?: string };
}

/** The backend's tool for these options. */
export function webSearchTool(options: WebSearchOptions): HostedTool {
  const tool: HostedTool = { type: "web_search" };
  if (options.allowedDomains?.length) tool.filters = { allowed_domains: options.allowedDomains };
  if (options.contextSize) tool.search_context_size = options.contextSize;
  if (options.userLocation && Object.keys(options.userLocation).length > 0) tool.user_location = { type: "approximate", ...options.userLocation };
  return tool;
}

export interface Search {
  id: string;
  query: string;
  urls: string[];
}

/** A finished `web_search_call` item as a search (undefined for other items or other actions). */
export function searchOf(item: unknown): Search | undefined {
  if (typeof item !== "object" || item === null) return undefined;
  const { type, id, action } = item as { type?: unknown; id?: unknown; action?: unknown };
  if (type !== "web_search_call") return undefined;
  const act = (typeof action === "object" && action !== null ? action : {}) as { type?: unknown; query?: unknown; sources?: unknown };
  if (act.type !== undefined && act.type !== "search") return undefined;
  const urls = Array.isArray(act.sources)
    ? act.sources.flatMap((s: unknown) => (typeof s === "object" && s !== null && typeof (s as { url?: unknown }).url === "string" ? [(s as { url: string }).url] : []))
    : [];
  return { id: typeof id === "string" ? id : "", query: typeof act.query === "string" ? act.query : "", urls };
}

export interface UrlCitation {
  url: string;
  title: string;
  start_index: number;
  end_index: number;
}

/** A `url_citation` annotation, checked (undefined for anything else). */
export function urlCitationOf(annotation: unknown): UrlCitation | undefined {
  if (typeof annotation !== "object" || annotation === null) return undefined;
  const a = annotation as Record<string, unknown>;
  if (a.type !== "url_citation" || typeof a.url !== "string") return undefined;
  const index = (v: unknown) => (typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : 0);
  return { url: a.url, title: typeof a.title === "string" ? a.title : a.url, start_index: index(a.start_index), end_index: index(a.end_index) };
}

/** Whether a URL's host is one of these domains or below one. */
export function inDomains(url: string, domains: readonly string[]): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return domains.some((d) => {
    const domain = d.toLowerCase().replace(/^\*\./, "").replace(/\/.*$/, "");
    return host === domain || host.endsWith(`.${domain}`);
  });
}
