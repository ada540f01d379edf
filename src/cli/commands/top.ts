/**
 * `iovisor top`: a live view of loaded eBPF programs with runs and run time per second, from
 * the kernel's run-time statistics (enabled with BPF_ENABLE_STATS while top runs). Redraws in
 * place with ANSI escapes; --json prints one snapshot per interval; --once prints one and exits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { enableStats, programCounters, progRates, type ProgRate } from '../../trace/index.js';
import { parseArgs } from '../args.js';
import { toJSONValue } from '../output.js';

/** Usage text. */
export const topUsage = `iovisor top [--interval SECONDS] [--once] [--json] [--count N] [--all]
  Loaded programs by run time per second (BPF_ENABLE_STATS run_cnt / run_time_ns).`;

function render(rows: ProgRate[], interval: number, all: boolean): string {
  const shown = all ? rows : rows.filter((r) => r.runCount > 0);
  const head =
    `iovisor top - ${new Date().toTimeString().slice(0, 8)}  ${rows.length} programs, ${shown.length} shown, interval ${interval}s\n\n` +
    `${'ID'.padStart(6)}  ${'TYPE'.padEnd(16)} ${'NAME'.padEnd(16)} ${'RUNS/s'.padStart(10)} ${'CPU%'.padStart(7)} ${'AVG ns'.padStart(9)} ${'RUNS'.padStart(12)}`;
  const lines = shown.map(
    (r) =>
      `${String(r.id).padStart(6)}  ${r.type.padEnd(16)} ${r.name.padEnd(16)} ${r.runsPerSec.toFixed(0).padStart(10)} ${(r.runTimeNsPerSec / 1e7).toFixed(2).padStart(7)} ${r.avgNs.toFixed(0).padStart(9)} ${String(r.runCount).padStart(12)}`,
  );
  return [head, ...lines].join('\n');
}

/** Runs `top`. */
export async function topCommand(argv: string[]): Promise<void> {
  const p = parseArgs(
    argv,
    { interval: 'number', once: 'boolean', json: 'boolean', count: 'number', all: 'boolean' },
    'top',
  );
  const interval = (p.flags.interval as number | undefined) ?? 1;
  const once = p.flags.once === true;
  const json = p.flags.json === true;
  const all = p.flags.all === true;
  const maxRounds = once ? 1 : (p.flags.count as number | undefined);
  const stats = enableStats();
  const ac = new AbortController();
  const onSig = (): void => ac.abort();
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  const tty = process.stdout.isTTY && !json;
  try {
    let prev = programCounters();
    let t0 = process.hrtime.bigint();
    for (let round = 0; maxRounds === undefined || round < maxRounds; round++) {
      try {
        await sleep(interval * 1000, undefined, { signal: ac.signal });
      } catch {
        break;
      }
      const cur = programCounters();
      const t1 = process.hrtime.bigint();
      const rows = progRates(prev, cur, Number(t1 - t0) / 1e9);
      prev = cur;
      t0 = t1;
      if (json) {
        process.stdout.write(
          JSON.stringify(
            toJSONValue({ time: new Date().toISOString(), interval, programs: rows }),
          ) + '\n',
        );
      } else if (tty) {
        // Home, draw, clear to end of screen: an in-place refresh without flicker.
        process.stdout.write(
          '\x1b[H' + render(rows, interval, all).replace(/\n/g, '\x1b[K\n') + '\x1b[K\x1b[J',
        );
      } else {
        process.stdout.write(render(rows, interval, all) + '\n\n');
      }
    }
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    stats.close();
  }
}
