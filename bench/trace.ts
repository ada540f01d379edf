/**
 * Tracing overhead: how much a syscall-heavy workload (a C program doing open+close of one file
 * in a loop, pinned to one CPU) slows down with opensnoop or syscount attached — iovisor's
 * (the CLI, output to /dev/null) vs libbpf-tools' (Debian's libbpf-tools, output to /dev/null)
 * vs nothing. Each configuration runs ROUNDS times interleaved; medians are compared.
 * Writes docs/benchmarks-trace.md. Run as root: node dist/bench/trace.js
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, machine, median, table } from './common.js';

const ITERS = Number(process.env.TRACE_BENCH_ITERS ?? 200_000);
const ROUNDS = Number(process.env.TRACE_BENCH_ROUNDS ?? 5);
const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const here = path.dirname(new URL(import.meta.url).pathname);
// Prefer the CLI compiled next to this file (private output dirs).
const cli = existsSync(path.join(here, '..', 'src', 'cli', 'main.js'))
  ? path.join(here, '..', 'src', 'cli', 'main.js')
  : CLI;

const WORKLOAD_C = `
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) { int fd = open(argv[2], O_RDONLY); if (fd >= 0) close(fd); }
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.1f\\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
  return 0;
}`;

interface Tracer {
  name: string;
  start: () => Promise<ChildProcess | undefined>;
}

const logs = new Map<ChildProcess, string>();

/** Starts a tracer and waits until it printed `ready` (stdout or stderr). */
function startTracer(cmd: string, args: string[], ready: RegExp): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    // Tracers run on CPU 0, the workload on CPU 1: the consumer's CPU time is not charged to
    // the workload's CPU, only the in-kernel cost and the wake-ups are.
    const c = spawn('taskset', ['-c', '0', 'stdbuf', '-oL', '-eL', cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let seen = '';
    let ok = false;
    const onData = (d: Buffer): void => {
      if (ok) {
        // Keep stderr-style reports (lost/dropped events), not the event lines.
        const t = d.toString();
        if (/lost|dropped/i.test(t)) logs.set(c, (logs.get(c) ?? '') + t);
        return;
      }
      seen += d.toString();
      if (ready.test(seen)) {
        ok = true;
        resolve(c);
      }
    };
    // Keep draining output so the tracer never blocks on a full pipe (the /dev/null case).
    c.stdout!.on('data', onData);
    c.stderr!.on('data', onData);
    c.on('exit', (code) => {
      if (!ok) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${seen}`));
    });
  });
}

async function stop(c: ChildProcess | undefined): Promise<string> {
  if (!c) return '';
  await new Promise<void>((r) => {
    c.on('close', () => r());
    c.kill('SIGINT');
  });
  return logs.get(c) ?? '';
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root');
  const dir = mkdtempSync(path.join(tmpdir(), 'iovisor-bench-trace-'));
  try {
    writeFileSync(path.join(dir, 'w.c'), WORKLOAD_C);
    const bin = path.join(dir, 'openloop');
    execFileSync('gcc', ['-O2', '-o', bin, path.join(dir, 'w.c')]);
    const target = path.join(dir, 'target');
    writeFileSync(target, '');
    const haveLibbpf = existsSync('/usr/sbin/opensnoop') && existsSync('/usr/sbin/syscount');

    const tracers: Tracer[] = [
      { name: 'none', start: async () => undefined },
      {
        name: 'iovisor opensnoop',
        start: () =>
          startTracer(process.execPath, [cli, 'trace', 'opensnoop'], /Tracing opensnoop/),
      },
      {
        name: 'iovisor syscount',
        start: () => startTracer(process.execPath, [cli, 'trace', 'syscount'], /Tracing syscount/),
      },
    ];
    if (haveLibbpf) {
      tracers.push(
        {
          name: 'libbpf-tools opensnoop',
          start: () => startTracer('/usr/sbin/opensnoop', [], /^PID/m),
        },
        {
          name: 'libbpf-tools syscount',
          start: () => startTracer('/usr/sbin/syscount', [], /Tracing/),
        },
      );
    }
    const results = new Map<string, number[]>(tracers.map((t) => [t.name, []]));
    const notes = new Map<string, string>();
    // Warm-up (page cache, dentry).
    spawnSync('taskset', ['-c', '1', bin, String(ITERS / 10), target]);
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of tracers) {
        const c = await t.start();
        const r = spawnSync('taskset', ['-c', '1', bin, String(ITERS), target], {
          encoding: 'utf8',
        });
        if (r.status !== 0) throw new Error(`workload failed: ${r.stderr}`);
        const err = await stop(c);
        results.get(t.name)!.push(Number(r.stdout.trim()));
        // Sum what each tracer reported losing (ring/perf buffer full) this round.
        let lost = 0;
        for (const m of err.matchAll(/(\d+) event\(s\) dropped|lost (\d+)/gi))
          lost += Number(m[1] ?? m[2]);
        if (lost > 0) notes.set(t.name, `${notes.get(t.name) ?? 'events lost per round:'} ${lost}`);
      }
    }
    const base = median(results.get('none')!);
    const rows = tracers.map((t) => {
      const m = median(results.get(t.name)!);
      return [t.name, m.toFixed(0), (m / base).toFixed(2), notes.get(t.name) ?? ''];
    });
    const headers = ['tracer', 'ns per open+close (median)', 'slowdown vs none', 'notes'];
    table(headers, rows);
    const ratio = (a: string, b: string): string => {
      const x = results.get(a);
      const y = results.get(b);
      if (!x || !y) return 'n/a';
      return ((median(x) - base) / (median(y) - base)).toFixed(2);
    };
    const md = [
      '# Tracing overhead',
      '',
      `Generated by \`node dist/bench/trace.js\` (bench/trace.ts) on ${new Date().toISOString().slice(0, 10)}.`,
      '',
      `Machine: ${machine()}; 1-minute load average at the end of the run ${loadavg()[0]!.toFixed(2)}`,
      '(other work shared the machine: treat differences under ~30% as noise).',
      '',
      `Workload: a C program doing ${ITERS} open()+close() pairs of one file, pinned to CPU 1`,
      `(\`taskset -c 1\`), tracers pinned to CPU 0; it times itself with CLOCK_MONOTONIC. Each tracer is started, the`,
      `workload runs, the tracer is stopped; ${ROUNDS} rounds interleaved, medians shown. Tracers`,
      'print to a pipe that the benchmark drains and discards. iovisor runs as its CLI (Node),',
      `libbpf-tools as Debian's 0.26 binaries${haveLibbpf ? '' : ' (not installed on this run)'}.`,
      '',
      '| ' + headers.join(' | ') + ' |',
      '| ' + headers.map(() => '---').join(' | ') + ' |',
      ...rows.map((r) => '| ' + r.join(' | ') + ' |'),
      '',
      'Added cost per open+close, iovisor / libbpf-tools (1.00 = the same, lower is better):',
      '',
      `- opensnoop: ${ratio('iovisor opensnoop', 'libbpf-tools opensnoop')}`,
      `- syscount: ${ratio('iovisor syscount', 'libbpf-tools syscount')}`,
      '',
      'Notes: both syscounts only count (no -L; iovisor leaves sys_enter unhooked then). opensnoop',
      'streams every event to user space: iovisor through one ring buffer consumed by Node',
      '(decode + format per event in JavaScript), libbpf-tools through per-CPU perf buffers',
      'consumed by C; events a tracer reported losing are in the notes column. The opensnoop gap',
      'is the ring-buffer path under a flood (wake-ups of a consumer that drains as fast as the',
      'producer fills, the shared ring lock); it is not tuned yet.',
      '',
    ].join('\n');
    writeFileSync(path.join(ROOT, 'docs', 'benchmarks-trace.md'), md);
    console.log('\nwrote docs/benchmarks-trace.md');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
