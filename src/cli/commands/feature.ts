/** `iovisor feature probe`: what this kernel supports, like `bpftool feature probe`. */
import { probeAll, type ProbeResult } from '../../bpf/features/index.js';
import { parseArgs, UsageError } from '../args.js';
import { printJSON } from '../output.js';

/** Usage text. */
export const featureUsage = `iovisor feature probe [--json] [--no-helpers]`;

function section(title: string, r: Record<string, ProbeResult>): void {
  process.stdout.write(`${title}\n`);
  for (const [name, v] of Object.entries(r)) {
    process.stdout.write(
      `  ${name.padEnd(28)} ${v.supported ? 'yes' : 'no'}${v.reason ? `  (${v.reason})` : ''}\n`,
    );
  }
}

/** Runs `feature probe`. */
export function featureCommand(argv: string[]): void {
  const [sub, ...rest] = argv;
  if (sub !== 'probe')
    throw new UsageError(`feature: unknown subcommand "${sub ?? ''}"\n${featureUsage}`);
  const p = parseArgs(rest, { json: 'boolean', 'no-helpers': 'boolean' }, 'feature probe');
  const report = probeAll({ helpers: p.flags['no-helpers'] !== true });
  if (p.flags.json) return printJSON(report);
  section('Named features', report.features);
  section('Program types', report.programTypes);
  section('Map types', report.mapTypes);
  section('Link types', report.linkTypes);
  if (report.helpers) {
    process.stdout.write('Helpers per program type\n');
    for (const [t, hs] of Object.entries(report.helpers))
      process.stdout.write(`  ${t} (${hs.length}): ${hs.join(', ')}\n`);
  }
}
