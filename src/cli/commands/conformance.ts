/** `iovisor conformance`: the bpf_conformance ISA suite against the running kernel. */
import { DEFAULT_CONFORMANCE_DIR, runConformanceSuite } from '../../toolchain/index.js';
import { parseArgs } from '../args.js';
import { printJSON } from '../output.js';

/** Usage text. */
export const conformanceUsage = `iovisor conformance [DIR] [--filter TEXT] [--json]   (exit 1 on any failure)`;

/** Runs `conformance`. */
export function conformanceCommand(argv: string[]): void {
  const p = parseArgs(argv, { json: 'boolean', filter: 'string' }, 'conformance');
  const dir = p.positionals[0] ?? DEFAULT_CONFORMANCE_DIR;
  const filter = p.flags.filter as string | undefined;
  const json = p.flags.json === true;
  const report = runConformanceSuite(dir, {
    only: filter ? (f) => f.includes(filter) : undefined,
    onResult: json
      ? undefined
      : (r) =>
          process.stdout.write(
            `${r.status.padEnd(8)} ${r.test}${r.detail && r.status !== 'pass' ? `: ${r.detail}` : ''}\n`,
          ),
  });
  if (json) printJSON(report);
  else {
    const t = report.totals;
    const expectedErrors = report.results.filter(
      (r) => r.status === 'pass' && r.detail !== undefined,
    ).length;
    process.stdout.write(
      `\n${report.results.length} tests: ${t.pass} pass (${expectedErrors} of them refused as the suite expects), ${t.fail} fail, ${t.rejected} rejected by the verifier\n`,
    );
  }
  if (report.totals.fail > 0)
    throw new Error(`conformance: ${report.totals.fail} of ${report.results.length} tests failed`);
}
