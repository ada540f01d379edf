/** `iovisor gen ts`: typed TypeScript bindings for an object (bpf2go / gen skeleton). */
import { writeBindings } from '../../toolchain/index.js';
import { parseArgs, positional, UsageError } from '../args.js';
import { expandShort } from './build.js';

/** Usage text. */
export const genUsage = `iovisor gen ts FILE.o -o OUT.ts [--embed] [--import SPEC] [--class NAME]`;

/** Runs `gen`. */
export function genCommand(argv: string[]): void {
  const [sub, ...rest] = argv;
  if (sub !== 'ts') throw new UsageError(`gen: unknown subcommand "${sub ?? ''}"\n${genUsage}`);
  const p = parseArgs(
    expandShort(rest),
    { out: 'string', embed: 'boolean', import: 'string', class: 'string' },
    'gen ts',
  );
  const obj = positional(p, 0, 'FILE.o', 'gen ts');
  const out = p.flags.out as string | undefined;
  if (!out) throw new UsageError(`gen ts: -o OUT.ts is required\n${genUsage}`);
  writeBindings({
    object: obj,
    out,
    embed: p.flags.embed === true,
    importFrom: p.flags.import as string | undefined,
    className: p.flags.class as string | undefined,
  });
  process.stderr.write(`  GEN     ${out}\n`);
}
