/** The project's CLIs read their options with node:util's parseArgs: `--name value`, `--name=value`, unknown options refused. */
import { parseArgs as parse } from "node:util";
import { commandLineError } from "../lambda/config.js";

/** `options`: each option's name and whether it takes a value ("string") or is a switch ("boolean"). */
export function parseArgs(argv: readonly string[], options: Record<string, "string" | "boolean">): Record<string, string | true> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parse({ args: [...argv], options: Object.fromEntries(Object.entries(options).map(([name, type]) => [name, { type }])), strict: true, allowPositionals: false }));
  } catch (err) {
    throw new Error(`${commandLineError(err)} Run with --help.`);
  }
  const out: Record<string, string | true> = {};
  for (const [name, value] of Object.entries(values)) if (value !== undefined && value !== false) out[name] = value;
  return out;
}

export function fail(tool: string, message: string, code = 1): never {
  process.stderr.write(`${tool}: ${message}\n`);
  process.exit(code);
}
