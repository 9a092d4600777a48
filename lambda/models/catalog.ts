/**
 * Which models clients may use. ALLOWED_MODELS wins when set; otherwise the account's live catalog
 * (per-plan and changing often), cached and refreshed in the background, with a built-in fallback
 * when it cannot be read. Effort-suffixed aliases (`gpt-5.5-high`, `gpt-5.5:high`) resolve to the
 * base model plus a reasoning effort.
 */
import { badRequest } from "../errors.js";
import type { CatalogModel } from "../codex/client.js";
import { REASONING_EFFORTS, upstreamEffort } from "../codex/body.js";
import { FALLBACK_MODELS } from "./fallback.js";

export interface ModelCatalogOptions {
  /** ALLOWED_MODELS; when set the live catalog is never fetched */
  allowed?: readonly string[];
  /** reads the live catalog; absent in API-key mode */
  fetchCatalog?: () => Promise<CatalogModel[]>;
  ttlMs?: number;
  /** how long to keep using the fallback after a failed fetch before trying again */
  retryMs?: number;
  now: () => number;
  onError?: (err: unknown) => void;
}

export interface ResolvedModel {
  model: string;
  effort?: string;
}

interface Snapshot {
  ids: string[];
  expiresAt: number;
}

const SUFFIX = new RegExp(`^(.+?)[-:_](${REASONING_EFFORTS.join("|")})$`);

export class ModelCatalog {
  private snapshot: Snapshot | undefined;
  private inflight: Promise<Snapshot> | undefined;

  constructor(private readonly options: ModelCatalogOptions) {}

  get source(): "ALLOWED_MODELS" | "catalog" | "fallback" {
    if (this.options.allowed?.length) return "ALLOWED_MODELS";
    return this.options.fetchCatalog ? "catalog" : "fallback";
  }

  async list(): Promise<string[]> {
    const { allowed, fetchCatalog } = this.options;
    if (allowed?.length) return [...allowed];
    if (!fetchCatalog) return [...FALLBACK_MODELS];
    const snapshot = this.snapshot;
    if (snapshot && snapshot.expiresAt > this.options.now()) return snapshot.ids;
    // Serve a stale list at once and refresh behind it; wait only when there is nothing yet.
    const refresh = this.refresh(fetchCatalog);
    return snapshot ? snapshot.ids : (await refresh).ids;
  }

  /**
   * The catalog's model for the name, or for `fallback`'s mapping of a name it does not know (a
   * dialect that maps foreign names). Asked on every request, so a foreign name costs a lookup, not
   * a thrown error.
   */
  async resolve(name: unknown, fallback?: (name: string) => string | undefined): Promise<ResolvedModel> {
    if (typeof name !== "string" || name === "") throw badRequest("model is required: a model id from GET /v1/models.", "model");
    const ids = await this.list();
    const known = find(ids, name);
    if (known) return known;
    const mapped = fallback?.(name) ?? name;
    const model = mapped === name ? undefined : find(ids, mapped);
    if (model) return model;
    throw badRequest(
      `The model '${mapped}' is not available through this proxy. Available models: ${ids.join(", ")} (append -low, -medium, -high or -xhigh to choose a reasoning effort).`,
      "model",
      "model_not_found",
    );
  }

  private refresh(fetchCatalog: () => Promise<CatalogModel[]>): Promise<Snapshot> {
    this.inflight ??= this.load(fetchCatalog).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async load(fetchCatalog: () => Promise<CatalogModel[]>): Promise<Snapshot> {
    const now = this.options.now();
    try {
      const models = await fetchCatalog();
      const ids = models
        .filter((m) => (m.visibility ?? "list") === "list")
        .sort((a, b) => (a.priority ?? 1e9) - (b.priority ?? 1e9))
        .map((m) => m.slug);
      if (ids.length === 0) throw new Error("the catalog lists no models");
      this.snapshot = { ids, expiresAt: now + (this.options.ttlMs ?? 3_600_000) };
    } catch (err) {
      this.options.onError?.(err);
      this.snapshot = { ids: this.snapshot?.ids ?? [...FALLBACK_MODELS], expiresAt: now + (this.options.retryMs ?? 60_000) };
    }
    return this.snapshot;
  }
}

/** A listed model by its id, or by its id and a reasoning effort suffix. */
function find(ids: readonly string[], name: string): ResolvedModel | undefined {
  if (ids.includes(name)) return { model: name };
  const match = SUFFIX.exec(name);
  if (match?.[1] && match[2] && ids.includes(match[1])) return { model: match[1], effort: upstreamEffort(match[2]) };
  return undefined;
}
