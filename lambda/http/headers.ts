/**
 * Headers as the app reads them: one by its name, or all of them in turn. A fetch `Headers` is one,
 * so a fetch-style caller passes its own; the adapters and the upstream client wrap the plain records
 * node already has, because the first `Headers` a Node process builds loads fetch's implementation
 * (8 MB of a bare process's resident memory here; 4.6 MB of the local server's, measured).
 */
export interface HeaderMap extends Iterable<[string, string]> {
  /** the value, or null; names are case-insensitive */
  get(name: string): string | null;
}

/** Node's shape: lower-case names, a repeated header as an array (joined here as HTTP folds them). */
export type HeaderRecord = Record<string, string | string[] | undefined>;

const value = (v: string | string[] | undefined): string | null => (v === undefined ? null : Array.isArray(v) ? v.join(", ") : v);

export function headerMap(record: HeaderRecord): HeaderMap {
  return {
    get: (name) => value(record[name.toLowerCase()]),
    *[Symbol.iterator]() {
      for (const [name, v] of Object.entries(record)) {
        const text = value(v);
        if (text !== null) yield [name, text];
      }
    },
  };
}
