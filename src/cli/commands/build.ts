/** `iovisor build`: compile a BPF C source with clang (cached), optionally with typed bindings. */
import path from 'node:path';
import { BuildError, buildObject, writeBindings, type BuildResult } from '../../toolchain/index.js';
import { parseArgs, positional, UsageError } from '../args.js';
import { printJSON } from '../output.js';

/** Usage text. */
export const buildUsage = `iovisor build FILE.bpf.c [-o OUT.o] [--ts OUT.ts [--embed] [--import SPEC]]
                [--cflags "FLAGS"]... [--no-cache] [--cache-dir DIR] [--json]`;

/** `-o X` is the one short option compiler users type by habit. */
export function expandShort(argv: string[]): string[] {
  return argv.map((a) => (a === '-o' ? '--out' : a));
}

/** Runs `build`. */
export function buildCommand(argv: string[]): void {
  const p = parseArgs(
    expandShort(argv),
    {
      out: 'string',
      ts: 'string',
      embed: 'boolean',
      import: 'string',
      cflags: 'list',
      'no-cache': 'boolean',
      'cache-dir': 'string',
      json: 'boolean',
    },
    'build',
  );
  const src = positional(p, 0, 'FILE.bpf.c', 'build');
  if (p.positionals.length > 1) throw new UsageError(`build: one source at a time\n${buildUsage}`);
  const cflags = ((p.flags.cflags as string[] | undefined) ?? []).flatMap((f) =>
    f.split(/\s+/).filter((x) => x !== ''),
  );
  const quiet = p.flags.json === true;
  let r: BuildResult;
  try {
    r = buildObject(src, {
      out: p.flags.out as string | undefined,
      cflags,
      noCache: p.flags['no-cache'] === true,
      cacheDir: p.flags['cache-dir'] as string | undefined,
      onProgress: (l) => process.stderr.write(l + '\n'),
    });
  } catch (err) {
    if (!(err instanceof BuildError)) throw err;
    // The compiler's diagnostics verbatim, then one line of our own.
    process.stderr.write(err.output.endsWith('\n') ? err.output : err.output + '\n');
    throw new Error(`build ${src}: clang failed (exit status ${err.status})`, { cause: err });
  }
  if (r.warnings) process.stderr.write(r.warnings);
  let ts: string | undefined;
  if (p.flags.ts) {
    ts = p.flags.ts as string;
    process.stderr.write(`  GEN     ${path.normalize(ts)} (typed bindings)\n`);
    writeBindings({
      object: r.out,
      out: ts,
      embed: p.flags.embed === true,
      importFrom: p.flags.import as string | undefined,
    });
  }
  if (quiet) printJSON({ source: r.source, out: r.out, cached: r.cached, key: r.key, ts });
}
