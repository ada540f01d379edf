/** Shared helpers for benchmarks: machine facts, the C peers, statistics and output. */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpus, release, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (benchmarks run from dist/bench). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One line describing the machine, for docs/benchmarks.md. */
export function machine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`;
}

/** Builds the C peers (bench/c) and returns the path of one. */
export function cPeer(name: string): string {
  execFileSync('bash', [path.join(ROOT, 'bench', 'c', 'build.sh')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return path.join(ROOT, 'bench', 'c', 'build', name);
}

/** Runs a C peer that prints one JSON line and returns it parsed. */
export function runPeer<T>(bin: string, args: string[]): T {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`${path.basename(bin)} ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;
}

/** The median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Wall time of `fn` in milliseconds. */
export function timeMs(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Prints an aligned table to stderr-free stdout. */
export function table(headers: string[], rows: (string | number)[][]): void {
  const all = [headers, ...rows.map((r) => r.map(String))];
  const w = headers.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  for (const r of all) console.log(r.map((c, i) => c.padEnd(w[i]!)).join('  '));
}
