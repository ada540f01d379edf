/** `iovisor test`: run a program over a capture through test-run and count verdicts. */
import { testProgramOnPackets } from '../../toolchain/index.js';
import { parseArgs, positional, UsageError } from '../args.js';
import { printJSON, printTable } from '../output.js';

/** Usage text. */
export const testUsage = `iovisor test FILE.o --prog NAME --pcap IN.pcap [--out OUT.pcap[ng]] [--keep-dropped]
                [--set VAR=VALUE]... [--json]`;

function parseSet(s: string): [string, unknown] {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new UsageError(`test: --set needs VAR=VALUE, got "${s}"`);
  const text = s.slice(eq + 1);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = text;
  }
  return [s.slice(0, eq), v];
}

/** Runs `test`. */
export function testCommand(argv: string[]): void {
  const p = parseArgs(
    argv,
    {
      prog: 'string',
      pcap: 'string',
      out: 'string',
      'keep-dropped': 'boolean',
      set: 'list',
      json: 'boolean',
    },
    'test',
  );
  const obj = positional(p, 0, 'FILE.o', 'test');
  const prog = p.flags.prog as string | undefined;
  const pcap = p.flags.pcap as string | undefined;
  if (!prog) throw new UsageError(`test: --prog NAME is required\n${testUsage}`);
  if (!pcap) throw new UsageError(`test: --pcap IN.pcap is required\n${testUsage}`);
  const report = testProgramOnPackets({
    object: obj,
    program: prog,
    pcap,
    out: p.flags.out as string | undefined,
    keepDropped: p.flags['keep-dropped'] === true,
    variables: Object.fromEntries(((p.flags.set as string[] | undefined) ?? []).map(parseSet)),
  });
  if (p.flags.json) {
    return printJSON({
      program: report.program,
      programType: report.programType,
      packets: report.packets,
      verdicts: report.verdicts,
      written: report.written,
      out: report.out,
      results: report.results.map((r) => ({
        index: r.index,
        retval: r.retval,
        verdict: r.verdict,
        length: r.dataOut.byteLength,
      })),
    });
  }
  process.stdout.write(`${report.program} (${report.programType}) on ${report.packets} packets\n`);
  printTable(
    ['VERDICT', 'PACKETS'],
    Object.entries(report.verdicts).map(([k, v]) => [k, v]),
  );
  if (report.out) process.stdout.write(`wrote ${report.written} packets to ${report.out}\n`);
}
