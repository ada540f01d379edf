/**
 * Object load time, in one run on the same objects:
 *  - whole process: `bpftool prog loadall OBJ DIR` vs `iovisor object load OBJ --pin DIR`;
 *  - in process: libbpf's bpf_object__open_file + load + close (bench/c/load_bench.c) vs
 *    iovisor's Collection.loadFile + close.
 * The kernel's share (verifier, map creation, BTF load) is measured by timing every bpf() call
 * iovisor makes; libbpf asks the kernel for the same work, so "overhead" is total minus that
 * kernel time for both. Targets: in-process overhead within 1.5x of libbpf's.
 *
 *   node dist/bench/load.js [iterations=20]
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { sys, setSys, type Sys } from '../src/sys/index.js';
import { Collection } from '../src/bpf/index.js';
import { cPeer, machine, median, ROOT, runPeer, table, timeMs } from './common.js';

const iterations = Number(process.argv[2] ?? 50);
// Objects both loaders accept (bpftool 7.1's libbpf 1.1 knows no tcx sections or legacy maps).
const OBJECTS = [
  'globals',
  'calls',
  'maps',
  'map_in_map',
  'tailcall',
  'core_tp_btf',
  'kconfig',
  'ringbuf',
  'sections',
];

/** Wraps the real Sys so every bpf() call's duration is added to `kernelMs`. */
let kernelMs = 0;
function timingSys(real: Sys): Sys {
  return new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'bpf' || prop === 'bpfAt') {
        const f = Reflect.get(target, prop, receiver) as (...a: unknown[]) => number;
        return (...a: unknown[]) => {
          const t = process.hrtime.bigint();
          try {
            return f.apply(target, a);
          } finally {
            kernelMs += Number(process.hrtime.bigint() - t) / 1e6;
          }
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

function inProcess(obj: string): { total: number; kernel: number } {
  // Warm up (steady state, as in a daemon): kernel BTF parsing and JIT happen once per process.
  for (let i = 0; i < 200; i++) Collection.loadFile(obj).close();
  // Totals come from an uninstrumented loop; the timing proxy costs time of its own.
  const totals: number[] = [];
  for (let i = 0; i < iterations; i++) totals.push(timeMs(() => Collection.loadFile(obj).close()));
  const kernels: number[] = [];
  const restore = setSys(timingSys(sys()));
  try {
    for (let i = 0; i < iterations; i++) {
      kernelMs = 0;
      Collection.loadFile(obj).close();
      kernels.push(kernelMs);
    }
  } finally {
    restore();
  }
  return { total: median(totals), kernel: median(kernels) };
}

function wholeProcess(cmd: string, args: (dir: string) => string[]): number {
  const runs: number[] = [];
  for (let i = 0; i < Math.min(iterations, 7); i++) {
    const dir = `/sys/fs/bpf/iovbench-${process.pid}-${i}`;
    try {
      const t = process.hrtime.bigint();
      const r = spawnSync(cmd, args(dir), { encoding: 'utf8' });
      runs.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (r.status !== 0) throw new Error(`${cmd} ${args(dir).join(' ')}: ${r.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return median(runs);
}

const loadBench = cPeer('load_bench');
const cli = path.join(ROOT, 'bin', 'iovisor');
const rows: (string | number)[][] = [];
const results: Record<string, unknown>[] = [];
for (const name of OBJECTS) {
  const obj = path.join(ROOT, 'testdata', 'corpus', 'build', `${name}.o`);
  const ours = inProcess(obj);
  const theirs = runPeer<{ mean_ms: number; min_ms: number }>(loadBench, [obj, String(iterations)]);
  const libbpfTotal = theirs.mean_ms;
  const oursOverhead = Math.max(0, ours.total - ours.kernel);
  const libbpfOverhead = Math.max(0.001, libbpfTotal - ours.kernel);
  const bpftool = wholeProcess('bpftool', (d) => ['prog', 'loadall', obj, d]);
  const iov = wholeProcess(process.execPath, (d) => [cli, 'object', 'load', obj, '--pin', d]);
  rows.push([
    name,
    ours.total.toFixed(2),
    libbpfTotal.toFixed(2),
    ours.kernel.toFixed(2),
    oursOverhead.toFixed(2),
    libbpfOverhead.toFixed(2),
    (oursOverhead / libbpfOverhead).toFixed(2),
    iov.toFixed(1),
    bpftool.toFixed(1),
  ]);
  results.push({
    object: name,
    iovisor_ms: ours.total,
    libbpf_ms: libbpfTotal,
    kernel_ms: ours.kernel,
    overhead_ratio: oursOverhead / libbpfOverhead,
    cli_ms: iov,
    bpftool_ms: bpftool,
  });
}
console.log(`machine: ${machine()}`);
console.log(
  `median of ${iterations} in-process loads per object (ms); whole process: median of ${Math.min(iterations, 7)} runs\n`,
);
table(
  [
    'object',
    'iovisor',
    'libbpf',
    'kernel',
    'iov ovh',
    'libbpf ovh',
    'ovh ratio',
    'iovisor CLI',
    'bpftool',
  ],
  rows,
);
console.log(JSON.stringify({ bench: 'load', iterations, results }));
