/** A small command-line parser: positionals, `--flag value`, `--flag=value` and boolean flags. */

/** Thrown for bad command-line usage; printed without a stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Declares a command's flags: name → 'string' | 'boolean' | 'number' (repeatable strings: 'list'). */
export type FlagSpec = Record<string, 'string' | 'boolean' | 'number' | 'list'>;

/** Parsed arguments. */
export interface Parsed {
  positionals: string[];
  flags: Record<string, string | boolean | number | string[] | undefined>;
}

/** Parses argv against a flag spec; unknown flags are an error naming the flag. */
export function parseArgs(argv: string[], spec: FlagSpec, command: string): Parsed {
  const out: Parsed = { positionals: [], flags: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '--') {
      out.positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const kind = spec[name];
    if (!kind) {
      throw new UsageError(
        `${command}: unknown option --${name} (options: ${
          Object.keys(spec)
            .map((k) => '--' + k)
            .join(' ') || 'none'
        })`,
      );
    }
    if (kind === 'boolean') {
      out.flags[name] = eq < 0 ? true : a.slice(eq + 1) !== 'false';
      continue;
    }
    let v: string | undefined = eq < 0 ? argv[++i] : a.slice(eq + 1);
    if (v === undefined) throw new UsageError(`${command}: option --${name} needs a value`);
    if (kind === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n))
        throw new UsageError(`${command}: option --${name} needs a number, got "${v}"`);
      out.flags[name] = n;
    } else if (kind === 'list') {
      const prev = (out.flags[name] as string[] | undefined) ?? [];
      out.flags[name] = [...prev, v];
    } else {
      out.flags[name] = v;
    }
    v = undefined;
  }
  return out;
}

/** The string flag `name`, or throws a usage error when it is required and missing. */
export function stringFlag(p: Parsed, name: string, command: string, required: true): string;
export function stringFlag(
  p: Parsed,
  name: string,
  command: string,
  required?: false,
): string | undefined;
export function stringFlag(
  p: Parsed,
  name: string,
  command: string,
  required = false,
): string | undefined {
  const v = p.flags[name];
  if (v === undefined && required) throw new UsageError(`${command}: --${name} is required`);
  return v as string | undefined;
}

/** The positional at `i`, or a usage error naming what was expected. */
export function positional(p: Parsed, i: number, what: string, command: string): string {
  const v = p.positionals[i];
  if (v === undefined) throw new UsageError(`${command}: missing ${what}`);
  return v;
}
