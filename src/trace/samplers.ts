/**
 * Aggregating tools: runqlat, biolatency, syscount, funclatency and profile. The kernel side
 * keeps histograms and counters in maps; each tool returns a {@link Sampler} whose `read()`
 * decodes them and whose `intervals(ms)` yields one snapshot per interval.
 */
import { readFileSync } from 'node:fs';
import type { BpfMap } from '../bpf/map.js';
import type { Collection } from '../bpf/collection.js';
import {
  type Attachment,
  attachPerfEvent,
  attachRawTracepoint,
  attachTracepoint,
  attachTracing,
  attachUprobe,
  PerfSwConfig,
  PerfType,
} from '../bpf/link/index.js';
import {
  attachAll,
  type CommonOptions,
  cstr,
  filterVariables,
  type HookSet,
  loadTool,
  Sampler,
  view,
} from './core.js';
import { decodeHist, type Log2Histogram } from './histogram.js';
import { KernelSymbols, UserSymbols } from './symbols.js';
import { syscallName, syscallNumber } from './syscalls.js';

function clearMap(m: BpfMap): void {
  const keys = [...m.keysBytes()];
  for (const k of keys) m.delete(k);
}

function u32Entries(m: BpfMap): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  for (const [k, v] of m.entriesBytes()) out.push([view(k).getUint32(0, true), v]);
  return out;
}

/** tp_btf and raw_tp twins of the same programs: `btf_<x>` and `raw_<x>` attach to tracepoint x. */
function btfAndRaw(names: string[]): HookSet[] {
  return [
    {
      name: 'tp_btf',
      programs: names.map((n) => `btf_${n}`),
      attach: (c) => attachAll(names.map((n) => () => attachTracing(c.program(`btf_${n}`)))),
    },
    {
      name: 'raw_tp',
      programs: names.map((n) => `raw_${n}`),
      attach: (c) =>
        attachAll(names.map((n) => () => attachRawTracepoint(c.program(`raw_${n}`), n))),
    },
  ];
}

/** A histogram per key: "all", a pid/tid, or a disk. */
export interface KeyedHistogram {
  /** 0 for the overall histogram; else the pid, tid or dev_t. */
  key: number;
  /** "all", "pid 123 (comm)", "vda"... */
  label: string;
  hist: Log2Histogram;
}

// ---------------------------------------------------------------------------------- runqlat

/** Options for {@link runqlat}. */
export interface RunqlatOptions extends CommonOptions {
  /** One histogram per process. */
  perProcess?: boolean;
  /** One histogram per thread. */
  perThread?: boolean;
  /** Milliseconds instead of microseconds. */
  milliseconds?: boolean;
}

function readHists(
  coll: Collection,
  unit: string,
  label: (k: number, h: Log2Histogram) => string,
): KeyedHistogram[] {
  return u32Entries(coll.map('hists'))
    .map(([key, v]) => {
      const hist = decodeHist(v, unit);
      return { key, label: label(key, hist), hist };
    })
    .sort((a, b) => a.key - b.key);
}

/** Run-queue (scheduler) latency histograms. */
export function runqlat(opts: RunqlatOptions = {}): Sampler<KeyedHistogram[]> {
  const unit = opts.milliseconds ? 'msecs' : 'usecs';
  const vars = {
    ...filterVariables(opts),
    per_process: opts.perProcess ? 1 : 0,
    per_thread: opts.perThread ? 1 : 0,
    targ_ms: opts.milliseconds ? 1 : 0,
  };
  const loaded = loadTool(
    'runqlat',
    vars,
    btfAndRaw(['sched_wakeup', 'sched_wakeup_new', 'sched_switch']),
    opts.hook,
  );
  const kind = opts.perProcess ? 'pid' : 'tid';
  return new Sampler(
    'runqlat',
    loaded,
    (c) =>
      readHists(c, unit, (k, h) =>
        opts.perProcess || opts.perThread ? `${kind} = ${k} ${h.comm ?? ''}`.trim() : 'all',
      ),
    (c) => clearMap(c.map('hists')),
    opts.signal,
  );
}

// ---------------------------------------------------------------------------------- biolatency

/** Options for {@link biolatency}. */
export interface BiolatencyOptions {
  /** Include OS queued time (from insert, not issue). */
  queued?: boolean;
  /** One histogram per disk. */
  perDisk?: boolean;
  /** Only this disk (name as in /sys/block, e.g. "vda"). */
  disk?: string;
  milliseconds?: boolean;
  hook?: string;
  signal?: AbortSignal;
}

/** Disk names by dev_t (major << 20 | minor, the kernel's MKDEV) from /sys/block. */
export function diskNames(): Map<number, string> {
  const out = new Map<number, string>();
  try {
    for (const line of readFileSync('/proc/partitions', 'utf8').split('\n').slice(2)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4) continue;
      out.set((Number(f[0]) << 20) | Number(f[1]), f[3]!);
    }
  } catch {
    // no names then
  }
  return out;
}

/** Block I/O latency histograms. */
export function biolatency(opts: BiolatencyOptions = {}): Sampler<KeyedHistogram[]> {
  const unit = opts.milliseconds ? 'msecs' : 'usecs';
  const names = diskNames();
  let dev = 0;
  if (opts.disk !== undefined) {
    const e = [...names].find(([, n]) => n === opts.disk);
    if (!e) throw new Error(`biolatency: no disk named ${opts.disk} in /proc/partitions`);
    dev = e[0];
  }
  const vars = {
    targ_queued: opts.queued ? 1 : 0,
    per_disk: opts.perDisk ? 1 : 0,
    targ_ms: opts.milliseconds ? 1 : 0,
    targ_dev: dev,
  };
  const progs = opts.queued
    ? ['block_rq_insert', 'block_rq_issue', 'block_rq_complete']
    : ['block_rq_issue', 'block_rq_complete'];
  const loaded = loadTool('biolatency', vars, btfAndRaw(progs), opts.hook);
  return new Sampler(
    'biolatency',
    loaded,
    (c) =>
      readHists(c, unit, (k) =>
        opts.perDisk ? (names.get(k) ?? `${k >>> 20}:${k & 0xfffff}`) : 'all',
      ),
    (c) => clearMap(c.map('hists')),
    opts.signal,
  );
}

// ---------------------------------------------------------------------------------- syscount

/** Options for {@link syscount}. */
export interface SyscountOptions extends CommonOptions {
  /** Count per process instead of per syscall. */
  perProcess?: boolean;
  /** Keep the time spent in each call (default true). */
  latency?: boolean;
  /** Only failed calls. */
  failuresOnly?: boolean;
  /** Only calls failing with this errno (number). */
  errno?: number;
  /** Only this syscall (name or number). */
  syscall?: string | number;
}

/** One row of syscount. */
export interface SyscountRow {
  /** The syscall number, or the pid with perProcess. */
  key: number;
  /** Syscall name, or the process's comm. */
  name: string;
  count: number;
  errors: number;
  /** Total time in the calls, nanoseconds (0 without latency). */
  totalNs: number;
}

/** System call counts (and latency) per syscall or per process. */
export function syscount(opts: SyscountOptions = {}): Sampler<SyscountRow[]> {
  let nr = -1;
  if (opts.syscall !== undefined) {
    const n = typeof opts.syscall === 'number' ? opts.syscall : syscallNumber(opts.syscall);
    if (n === undefined) throw new Error(`syscount: unknown syscall ${opts.syscall}`);
    nr = n;
  }
  const vars = {
    ...filterVariables(opts),
    per_process: opts.perProcess ? 1 : 0,
    measure_latency: opts.latency === false ? 0 : 1,
    failures_only: opts.failuresOnly ? 1 : 0,
    targ_errno: opts.errno ?? 0,
    targ_syscall: nr,
  };
  // Without latency nothing is needed at entry: leave sys_enter unhooked (one program less
  // on every system call).
  const lat = opts.latency !== false;
  const hooks = (
    enter: string,
    exit: string,
    attach: (p: string, which: 'sys_enter' | 'sys_exit', c: Collection) => Attachment,
  ) => ({
    programs: lat ? [enter, exit] : [exit],
    attach: (c: Collection) =>
      attachAll([
        ...(lat ? [() => attach(enter, 'sys_enter', c)] : []),
        () => attach(exit, 'sys_exit', c),
      ]),
  });
  const loaded = loadTool(
    'syscount',
    vars,
    [
      {
        name: 'raw_tp',
        ...hooks('raw_sys_enter', 'raw_sys_exit', (p, which, c) =>
          attachRawTracepoint(c.program(p), which),
        ),
      },
      {
        name: 'tracepoint',
        ...hooks('tp_sys_enter', 'tp_sys_exit', (p, which, c) =>
          attachTracepoint(c.program(p), 'raw_syscalls', which),
        ),
      },
    ],
    opts.hook,
  );
  return new Sampler(
    'syscount',
    loaded,
    (c) =>
      u32Entries(c.map('data'))
        .map(([key, v]) => {
          const dv = view(v);
          return {
            key,
            name: opts.perProcess ? cstr(v, 24, 16) : syscallName(key),
            count: Number(dv.getBigUint64(0, true)),
            totalNs: Number(dv.getBigUint64(8, true)),
            errors: Number(dv.getBigUint64(16, true)),
          };
        })
        .sort((a, b) => b.count - a.count || a.key - b.key),
    (c) => clearMap(c.map('data')),
    opts.signal,
  );
}

// ---------------------------------------------------------------------------------- funclatency

/** Options for {@link funclatency}. */
export interface FunclatencyOptions extends CommonOptions {
  /** The ELF binary or library holding the function. */
  binary: string;
  /** The function's symbol. */
  symbol: string;
  /** Units of the histogram (default usecs). */
  unit?: 'nsecs' | 'usecs' | 'msecs';
}

/** Latency histogram of a user-space function through a uprobe and a uretprobe. */
export function funclatency(opts: FunclatencyOptions): Sampler<Log2Histogram> {
  const unit = opts.unit ?? 'usecs';
  const vars = { ...filterVariables(opts), units: unit === 'nsecs' ? 0 : unit === 'usecs' ? 1 : 2 };
  const up = { symbol: opts.symbol, ...(opts.pid !== undefined ? { pid: opts.pid } : {}) };
  const loaded = loadTool(
    'funclatency',
    vars,
    [
      {
        name: 'uprobe',
        programs: ['func_entry', 'func_exit'],
        attach: (c) =>
          attachAll([
            () => attachUprobe(c.program('func_entry'), opts.binary, up),
            () => attachUprobe(c.program('func_exit'), opts.binary, { ...up, retprobe: true }),
          ]),
      },
    ],
    opts.hook,
  );
  const zero = new Uint8Array(4);
  return new Sampler(
    'funclatency',
    loaded,
    (c) => decodeHist(c.map('hists').lookupBytes(zero)!, unit),
    (c) => c.map('hists').updateBytes(zero, new Uint8Array(c.map('hists').valueBufferSize)),
    opts.signal,
  );
}

// ---------------------------------------------------------------------------------- profile

/** Options for {@link profile}. */
export interface ProfileOptions extends CommonOptions {
  /** Samples per second per CPU (default 49). */
  frequency?: number;
  /** Include the idle task. */
  includeIdle?: boolean;
  userOnly?: boolean;
  kernelOnly?: boolean;
  /** CPUs to sample (default all online). */
  cpus?: number[];
}

/** One sampled stack with its count; frames are outermost first. */
export interface StackSample {
  pid: number;
  tid: number;
  comm: string;
  count: number;
  /** User frames, outermost (e.g. main) first; empty when not collected or unreadable. */
  user: string[];
  /** Kernel frames, outermost first. */
  kernel: string[];
  /** The folded line for flame graphs: "comm;user...;kernel_[k]... count". */
  folded: string;
}

/** Totals of a profile. */
export interface ProfileSnapshot {
  samples: number;
  stacks: StackSample[];
}

/** CPU profile: samples stacks on a CPU-clock perf event and symbolizes them. */
export class Profiler extends Sampler<ProfileSnapshot> {
  /** Folded stacks, one per line, for flamegraph.pl / speedscope. */
  folded(): string {
    return this.read()
      .stacks.map((s) => s.folded)
      .join('\n');
  }
}

const STACK_DEPTH = 127;

/** Starts a CPU profile. */
export function profile(opts: ProfileOptions = {}): Profiler {
  const vars = {
    ...filterVariables(opts),
    include_idle: opts.includeIdle ? 1 : 0,
    user_stacks_only: opts.userOnly ? 1 : 0,
    kernel_stacks_only: opts.kernelOnly ? 1 : 0,
  };
  const loaded = loadTool(
    'profile',
    vars,
    [
      {
        name: 'perf_event',
        programs: ['do_sample'],
        attach: (c) => [
          attachPerfEvent(c.program('do_sample'), {
            type: PerfType.Software,
            config: PerfSwConfig.CpuClock,
            frequency: opts.frequency ?? 49,
            ...(opts.cpus ? { cpus: opts.cpus } : {}),
          }),
        ],
      },
    ],
    opts.hook,
  );
  let ksyms: KernelSymbols | undefined;
  const usyms = new UserSymbols();
  const stack = (m: BpfMap, id: number): bigint[] => {
    if (id < 0) return [];
    const k = new Uint8Array(4);
    view(k).setInt32(0, id, true);
    const v = m.lookupBytes(k);
    if (!v) return [];
    const dv = view(v);
    const out: bigint[] = [];
    for (let i = 0; i < STACK_DEPTH; i++) {
      const a = dv.getBigUint64(i * 8, true);
      if (a === 0n) break;
      out.push(a);
    }
    return out;
  };
  const read = (c: Collection): ProfileSnapshot => {
    const stacks = c.map('stacks');
    const out: StackSample[] = [];
    let samples = 0;
    usyms.forgetProcesses();
    for (const [k, v] of c.map('counts').entriesBytes()) {
      const dv = view(k);
      const pid = dv.getUint32(0, true);
      const count = Number(view(v).getBigUint64(0, true));
      samples += count;
      const uaddrs = stack(stacks, dv.getInt32(8, true));
      const kaddrs = stack(stacks, dv.getInt32(12, true));
      if (kaddrs.length > 0) ksyms ??= new KernelSymbols();
      const user = uaddrs.map((a) => usyms.resolve(pid, a)).reverse();
      const kernel = kaddrs.map((a) => ksyms!.resolve(a)).reverse();
      const comm = cstr(k, 16, 16);
      const folded = [comm.replace(/[; ]/g, '_'), ...user, ...kernel.map((f) => `${f}_[k]`)].join(
        ';',
      );
      out.push({
        pid,
        tid: dv.getUint32(4, true),
        comm,
        count,
        user,
        kernel,
        folded: `${folded} ${count}`,
      });
    }
    // Merge identical folded stacks (different tids of one process).
    out.sort((a, b) => b.count - a.count);
    return { samples, stacks: out };
  };
  return new Profiler(
    'profile',
    loaded,
    read,
    (c) => {
      clearMap(c.map('counts'));
      clearMap(c.map('stacks'));
    },
    opts.signal,
  );
}
