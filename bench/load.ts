/**
 * Object load time, in one run on the same objects:
 *  - whole process: `bpftool prog loadall OBJ DIR` vs `iovisor object load OBJ --pin DIR`;
 *  - in process, steady state (as in a daemon): libbpf's bpf_object__open_file + load + close
 *    (bench/c/load_bench.c) vs iovisor's Collection.loadFile + close, both after the same
 *    number of warm-up loads, medians of the same number of timed loads.
 *
 * Overhead is a loader's own user-space time: its wall time minus the time it spent inside
 * bpf() syscalls (verifier, map and BTF creation), each side measured on its own calls:
 *  - libbpf: load_bench interposes libc's syscall(), through which libbpf issues every bpf();
 *  - iovisor: a wrapper around the Sys seam times every bpf() call. That span also covers the
 *    FFI's own work per call (koffi marshalling), which is iovisor's cost, not the kernel's:
 *    it is measured (a cheap bpf() through the FFI vs the same raw syscall in C) and moved
 *    from iovisor's kernel time back to its overhead.
 * Both sides run in alternating rounds so neither gets a systematically quieter machine; each
 * figure is the median over the rounds. Target: in-process overhead within 1.5x of libbpf's.
 * An extra column loads from an already parsed CollectionSpec (cilium's "load the same spec
 * again"): no file read or parse, for daemons that keep specs around.
 *
 *   node dist/bench/load.js [iterations=50] [rounds=3]
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { BPF_ATTR_SIZE, BpfCmd, sys, setSys, type Sys } from '../src/sys/index.js';
import { BpfMap, Collection, loadCollectionSpec, MapType } from '../src/bpf/index.js';
import { cPeer, machine, median, ROOT, runPeer, table, timeMs } from './common.js';

const iterations = Number(process.argv[2] ?? 50);
const rounds = Number(process.argv[3] ?? 3);
const WARMUP = 200;
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

/** What load_bench prints. */
interface PeerResult {
  median_ms: number;
  mean_ms: number;
  min_ms: number;
  kernel_ms: number;
  bpf_calls: number;
  syscall_ns: number;
}

/** Wraps the real Sys so every bpf() call's duration is added to `kernelMs`, and counted. */
let kernelMs = 0;
let bpfCalls = 0;
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
            bpfCalls++;
          }
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

/** Median ns of one bpf(BPF_MAP_LOOKUP_ELEM) on a one-entry array map through the FFI. */
function ffiSyscallNs(): number {
  const m = BpfMap.create({
    name: 'calib',
    type: MapType.Array,
    keySize: 4,
    valueSize: 8,
    maxEntries: 1,
  });
  try {
    const s = sys();
    const attr = new Uint8Array(new ArrayBuffer(BPF_ATTR_SIZE));
    const key = new Uint8Array(new ArrayBuffer(8));
    const value = new Uint8Array(new ArrayBuffer(8));
    const dv = new DataView(attr.buffer);
    dv.setUint32(0, m.fd.raw, true);
    dv.setBigUint64(8, s.address(key), true);
    dv.setBigUint64(16, s.address(value), true);
    // As the loaders pass it: a number, not a BigInt.
    const at = Number(s.address(attr));
    const batches: number[] = [];
    for (let b = 0; b < 15; b++) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < 10000; i++) s.bpfAt(BpfCmd.MAP_LOOKUP_ELEM, at, BPF_ATTR_SIZE);
      batches.push(Number(process.hrtime.bigint() - t) / 10000);
    }
    return median(batches);
  } finally {
    m.close();
  }
}

/** One round of iovisor loads: median total, median bpf() time and calls per load. */
function inProcess(obj: string): {
  total: number;
  kernel: number;
  calls: number;
  fromSpec: number;
} {
  for (let i = 0; i < WARMUP; i++) Collection.loadFile(obj).close();
  // Totals come from an uninstrumented loop; the timing proxy costs time of its own.
  const totals: number[] = [];
  for (let i = 0; i < iterations; i++) totals.push(timeMs(() => Collection.loadFile(obj).close()));
  const kernels: number[] = [];
  const calls: number[] = [];
  const restore = setSys(timingSys(sys()));
  try {
    for (let i = 0; i < iterations; i++) {
      kernelMs = 0;
      bpfCalls = 0;
      Collection.loadFile(obj).close();
      kernels.push(kernelMs);
      calls.push(bpfCalls);
    }
  } finally {
    restore();
  }
  // Extra, separately reported: load again from a spec parsed once.
  const spec = loadCollectionSpec(obj);
  for (let i = 0; i < WARMUP / 4; i++) Collection.load(spec).close();
  const fromSpec: number[] = [];
  for (let i = 0; i < iterations; i++) fromSpec.push(timeMs(() => Collection.load(spec).close()));
  return {
    total: median(totals),
    kernel: median(kernels),
    calls: median(calls),
    fromSpec: median(fromSpec),
  };
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
const ffiNs: number[] = [];
const cNs: number[] = [];
for (const name of OBJECTS) {
  const obj = path.join(ROOT, 'testdata', 'corpus', 'build', `${name}.o`);
  const ours: ReturnType<typeof inProcess>[] = [];
  const theirs: PeerResult[] = [];
  for (let r = 0; r < rounds; r++) {
    ours.push(inProcess(obj));
    theirs.push(runPeer<PeerResult>(loadBench, [obj, String(iterations), String(WARMUP)]));
    ffiNs.push(ffiSyscallNs());
    cNs.push(theirs.at(-1)!.syscall_ns);
  }
  // The FFI's own cost per bpf() call, from every calibration so far.
  const ffiPerCallMs = Math.max(0, median(ffiNs) - median(cNs)) / 1e6;
  const m = (f: (x: ReturnType<typeof inProcess>) => number): number => median(ours.map(f));
  const t = (f: (x: PeerResult) => number): number => median(theirs.map(f));
  const oursTotal = m((x) => x.total);
  const oursCalls = m((x) => x.calls);
  const oursKernel = Math.max(0, m((x) => x.kernel) - oursCalls * ffiPerCallMs);
  const libbpfTotal = t((x) => x.median_ms);
  const libbpfKernel = t((x) => x.kernel_ms);
  const oursOverhead = Math.max(0, oursTotal - oursKernel);
  const libbpfOverhead = Math.max(0.001, libbpfTotal - libbpfKernel);
  const bpftool = wholeProcess('bpftool', (d) => ['prog', 'loadall', obj, d]);
  const iov = wholeProcess(process.execPath, (d) => [cli, 'object', 'load', obj, '--pin', d]);
  rows.push([
    name,
    oursTotal.toFixed(3),
    libbpfTotal.toFixed(3),
    oursKernel.toFixed(3),
    libbpfKernel.toFixed(3),
    oursOverhead.toFixed(3),
    libbpfOverhead.toFixed(3),
    (oursOverhead / libbpfOverhead).toFixed(2),
    m((x) => x.fromSpec).toFixed(3),
    iov.toFixed(1),
    bpftool.toFixed(1),
  ]);
  results.push({
    object: name,
    iovisor_ms: oursTotal,
    libbpf_ms: libbpfTotal,
    iovisor_kernel_ms: oursKernel,
    libbpf_kernel_ms: libbpfKernel,
    iovisor_bpf_calls: oursCalls,
    libbpf_bpf_calls: t((x) => x.bpf_calls),
    overhead_ratio: oursOverhead / libbpfOverhead,
    from_spec_ms: m((x) => x.fromSpec),
    cli_ms: iov,
    bpftool_ms: bpftool,
  });
}
console.log(`machine: ${machine()}`);
console.log(
  `in process: ${WARMUP} warm-up loads, then medians of ${iterations} loads per round, median of ${rounds} alternating rounds (ms); whole process: median of ${Math.min(iterations, 7)} runs`,
);
console.log(
  `bpf() through the FFI: ${median(ffiNs).toFixed(0)} ns per cheap call vs ${median(cNs).toFixed(0)} ns raw from C: the difference per call counts as iovisor overhead\n`,
);
table(
  [
    'object',
    'iovisor',
    'libbpf',
    'iov kernel',
    'libbpf kernel',
    'iov ovh',
    'libbpf ovh',
    'ovh ratio',
    'iov from spec',
    'iovisor CLI',
    'bpftool',
  ],
  rows,
);
console.log(
  JSON.stringify({
    bench: 'load',
    iterations,
    rounds,
    ffi_ns: median(ffiNs),
    c_syscall_ns: median(cNs),
    results,
  }),
);
