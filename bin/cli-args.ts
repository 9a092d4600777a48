/** A tiny `--name value` / `--name=value` parser for the project's CLIs, refusing unknown options. */
export function parseArgs(argv: readonly string[], known: readonly string[]): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--")) throw new Error(`Unexpected argument '${arg}'. Run with --help.`);
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!known.includes(name)) throw new Error(`Unknown option --${name}. Run with --help.`);
    if (eq >= 0) out[name] = arg.slice(eq + 1);
    else if (argv[i + 1] !== undefined && !(argv[i + 1] as string).startsWith("--")) out[name] = argv[++i] as string;
    else out[name] = true;
  }
  return out;
}

export function fail(tool: string, message: string, code = 1): never {
  process.stderr.write(`${tool}: ${message}\n`);
  process.exit(code);
}
