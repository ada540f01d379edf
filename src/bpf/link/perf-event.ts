/**
 * Hooks reached through perf events: tracepoints (tracefs ids), uprobes (the `uprobe` PMU) and
 * hardware/software sampling events. A program goes onto the perf event through
 * BPF_LINK_CREATE(BPF_PERF_EVENT) where the kernel has perf links (5.15+), else through
 * PERF_EVENT_IOC_SET_BPF + PERF_EVENT_IOC_ENABLE, like cilium/ebpf and libbpf.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isErrno, onlineCpus, sys } from '../../sys/index.js';
import { FD } from '../fd.js';
import type { Program } from '../program.js';
import { AttachType } from '../types.js';
import { symbolFileOffset } from './elf-symbols.js';
import {
  attachError,
  type Attachment,
  kernelReason,
  LegacyAttachment,
  Link,
  linkCreate,
} from './link.js';

/** PERF_TYPE_*. */
export const PerfType = {
  Hardware: 0,
  Software: 1,
  Tracepoint: 2,
  HwCache: 3,
  Raw: 4,
  Breakpoint: 5,
} as const;

/** PERF_COUNT_SW_*. */
export const PerfSwConfig = {
  CpuClock: 0,
  TaskClock: 1,
  PageFaults: 2,
  ContextSwitches: 3,
  CpuMigrations: 4,
  BpfOutput: 10,
} as const;

/** PERF_COUNT_HW_*. */
export const PerfHwConfig = {
  CpuCycles: 0,
  Instructions: 1,
  CacheReferences: 2,
  CacheMisses: 3,
  BranchInstructions: 4,
  BranchMisses: 5,
} as const;

/** ioctl requests on a perf event fd. */
export const PERF_EVENT_IOC = { ENABLE: 0x2400, DISABLE: 0x2401, SET_BPF: 0x40042408 } as const;
/** perf_event_open flag: close-on-exec. */
export const PERF_FLAG_FD_CLOEXEC = 8;
/** Size of struct perf_event_attr we send (PERF_ATTR_SIZE_VER7). */
export const PERF_ATTR_SIZE = 128;

/** Fields of struct perf_event_attr this library sets. */
export interface PerfEventAttr {
  type: number;
  config: bigint | number;
  /** sample_period, or sample_freq when `freq` is set. */
  sample?: bigint | number;
  sampleType?: number;
  /** Bit flags at offset 40 (disabled = 1, freq = 1 << 10, watermark = 1 << 14 ...). */
  flags?: number;
  /** wakeup_events (or wakeup_watermark with the watermark flag). */
  wakeup?: number;
  config1?: bigint;
  config2?: bigint;
}

/** Encodes struct perf_event_attr. */
export function encodePerfAttr(p: PerfEventAttr): Uint8Array {
  const b = new Uint8Array(PERF_ATTR_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, p.type, true);
  dv.setUint32(4, PERF_ATTR_SIZE, true);
  dv.setBigUint64(8, BigInt(p.config), true);
  dv.setBigUint64(16, BigInt(p.sample ?? 0), true);
  dv.setBigUint64(24, BigInt(p.sampleType ?? 0), true);
  dv.setBigUint64(40, BigInt(p.flags ?? 0), true);
  dv.setUint32(48, p.wakeup ?? 0, true);
  dv.setBigUint64(56, p.config1 ?? 0n, true);
  dv.setBigUint64(64, p.config2 ?? 0n, true);
  return b;
}

/** The tracefs roots to look for events in, in order. */
export const TRACEFS_ROOTS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** The tracefs root with an events/ directory, or an error saying tracefs is not mounted. */
export function tracefsRoot(): string {
  for (const r of TRACEFS_ROOTS) if (existsSync(`${r}/events`)) return r;
  throw new Error(
    'tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing; scripts/setup.sh does it)',
  );
}

/** The id of tracepoint GROUP/NAME from tracefs. */
export function tracepointId(group: string, name: string): number {
  if (!/^[\w.-]+$/.test(group) || !/^[\w.-]+$/.test(name))
    throw new Error(`invalid tracepoint name ${group}/${name}`);
  const root = tracefsRoot();
  const p = `${root}/events/${group}/${name}/id`;
  try {
    return Number(readFileSync(p, 'utf8').trim());
  } catch {
    throw new Error(`no tracepoint ${group}/${name} (${p} does not exist)`);
  }
}

function openPerf(attr: PerfEventAttr, pid: number, cpu: number): FD {
  const fd = sys().perfEventOpen(encodePerfAttr(attr), pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  return new FD(fd, 'perf event');
}

/**
 * Puts `prog` on the perf event `pfd`: a perf link when the kernel has them, else the ioctl.
 * Takes ownership of `pfd`.
 */
export function attachToPerfEvent(
  prog: Program,
  pfd: FD,
  hook: string,
  target: string,
): Attachment {
  try {
    const fd = linkCreate(prog.fd.raw, pfd.raw, AttachType.PerfEvent);
    return new PerfEventLink(fd, hook, pfd);
  } catch (err) {
    // EINVAL: no perf links (before 5.15). Anything else is a real refusal.
    if (!isErrno(err, 'EINVAL')) {
      pfd.close();
      throw attachError(hook, target, err);
    }
  }
  try {
    sys().ioctl(pfd.raw, PERF_EVENT_IOC.SET_BPF, prog.fd.raw);
    sys().ioctl(pfd.raw, PERF_EVENT_IOC.ENABLE, 0);
  } catch (err) {
    pfd.close();
    throw attachError(hook, target, err);
  }
  return new LegacyAttachment(hook, () => {
    try {
      sys().ioctl(pfd.raw, PERF_EVENT_IOC.DISABLE, 0);
    } finally {
      pfd.close();
    }
  });
}

/**
 * A bpf_link over a perf event (tracepoint, kprobe, uprobe, perf sampling). It keeps the perf
 * event's fd, which must live as long as the link. The kernel has no BPF_LINK_DETACH for
 * these links, so detach() disables the event instead: the program stops running now, even
 * while the link is pinned.
 */
export class PerfEventLink extends Link {
  constructor(
    fd: number,
    hook: string,
    /** The perf event the program is attached to. */
    readonly event: FD,
  ) {
    super(fd, hook);
  }

  /** Stops the program now by disabling its perf event. */
  override detach(): void {
    try {
      sys().ioctl(this.event.raw, PERF_EVENT_IOC.DISABLE, 0);
    } catch (err) {
      throw new Error(`link ${this.hook}: detach: ${kernelReason(err)}`, { cause: err });
    }
  }

  /** Closes the link and its perf event. */
  override close(): void {
    super.close();
    this.event.close();
  }
}

/** Attaches a TRACEPOINT program to tracepoint GROUP/NAME. */
export function attachTracepoint(prog: Program, group: string, name: string): Attachment {
  const hook = `tracepoint ${group}/${name}`;
  let pfd: FD;
  try {
    const id = tracepointId(group, name);
    pfd = openPerf({ type: PerfType.Tracepoint, config: id, sample: 1, wakeup: 1 }, -1, 0);
  } catch (err) {
    throw attachError(hook, '', err);
  }
  return attachToPerfEvent(prog, pfd, hook, '');
}

function readPmu(pmu: string): { type: number; retprobeBit?: number } {
  const dir = `/sys/bus/event_source/devices/${pmu}`;
  let type: number;
  try {
    type = Number(readFileSync(`${dir}/type`, 'utf8').trim());
  } catch {
    throw new Error(
      `the kernel has no ${pmu} PMU (${dir} is missing; CONFIG_${pmu.toUpperCase()}_EVENTS off?)`,
    );
  }
  let retprobeBit: number | undefined;
  try {
    const m = /config:(\d+)/.exec(readFileSync(`${dir}/format/retprobe`, 'utf8'));
    if (m) retprobeBit = Number(m[1]);
  } catch {
    // no retprobe support
  }
  return { type, retprobeBit };
}

/** Options for {@link attachUprobe}. */
export interface UprobeOptions {
  /** The ELF symbol to probe (a function name). */
  symbol?: string;
  /** Or a file offset directly; added to the symbol's when both are given. */
  offset?: number;
  /** Fire on return instead of entry. */
  retprobe?: boolean;
  /** Only this process (default: every process running the binary). */
  pid?: number;
}

/** Attaches a KPROBE-type program as a uprobe (or uretprobe) on a function of an ELF binary. */
export function attachUprobe(prog: Program, binary: string, opts: UprobeOptions): Attachment {
  const kind = opts.retprobe ? 'uretprobe' : 'uprobe';
  const hook = `${kind} ${binary}:${opts.symbol ?? '0x' + (opts.offset ?? 0).toString(16)}`;
  let pfd: FD;
  try {
    let off = opts.offset ?? 0;
    if (opts.symbol !== undefined) off += symbolFileOffset(binary, opts.symbol);
    const pmu = readPmu('uprobe');
    let config = 0n;
    if (opts.retprobe) {
      if (pmu.retprobeBit === undefined) throw new Error('the uprobe PMU has no retprobe format');
      config = 1n << BigInt(pmu.retprobeBit);
    }
    const path = new TextEncoder().encode(binary + '\0');
    // config1 carries a pointer to the path; the kernel copies it during the call.
    pfd = openPerf(
      {
        type: pmu.type,
        config,
        sample: 1,
        wakeup: 1,
        config1: sys().address(path),
        config2: BigInt(off),
      },
      opts.pid ?? -1,
      opts.pid === undefined ? 0 : -1,
    );
  } catch (err) {
    throw attachError(hook, '', err);
  }
  return attachToPerfEvent(prog, pfd, hook, '');
}

/** True when the kernel has kprobes (the kprobe PMU or kprobe_events in tracefs). */
export function haveKprobes(): boolean {
  if (existsSync('/sys/bus/event_source/devices/kprobe/type')) return true;
  return TRACEFS_ROOTS.some((r) => existsSync(`${r}/kprobe_events`));
}

/**
 * Kprobes are not supported by this library's attach path on kernels built without them;
 * this throws an AttachError saying so, and otherwise attaches through the kprobe PMU.
 */
export function attachKprobe(
  prog: Program,
  symbol: string,
  opts: { retprobe?: boolean } = {},
): Attachment {
  const hook = `${opts.retprobe ? 'kretprobe' : 'kprobe'} ${symbol}`;
  if (!haveKprobes())
    throw attachError(
      hook,
      '',
      new Error('this kernel has no kprobes (built without CONFIG_KPROBES / CONFIG_KPROBE_EVENTS)'),
    );
  let pfd: FD;
  try {
    const pmu = readPmu('kprobe');
    const sym = new TextEncoder().encode(symbol + '\0');
    let config = 0n;
    if (opts.retprobe && pmu.retprobeBit !== undefined) config = 1n << BigInt(pmu.retprobeBit);
    pfd = openPerf(
      { type: pmu.type, config, sample: 1, wakeup: 1, config1: sys().address(sym), config2: 0n },
      -1,
      0,
    );
  } catch (err) {
    throw attachError(hook, '', err);
  }
  return attachToPerfEvent(prog, pfd, hook, '');
}

/** Options for {@link attachPerfEvent}. */
export interface PerfSamplingOptions {
  /** PERF_TYPE_HARDWARE or PERF_TYPE_SOFTWARE (see {@link PerfType}). */
  type: number;
  /** The counter, e.g. PerfSwConfig.CpuClock. */
  config: number | bigint;
  /** Sample every N events... */
  samplePeriod?: number | bigint;
  /** ...or N times a second (default 49 Hz when neither is given). */
  frequency?: number;
  /** CPUs to sample on (default: every online CPU). */
  cpus?: number[];
}

/** A set of per-CPU attachments that detach together. */
export class AttachmentGroup implements Attachment {
  constructor(
    readonly hook: string,
    readonly members: Attachment[],
  ) {}
  /** Detaches every member. */
  detach(): void {
    for (const m of this.members) m.detach();
  }
  /** Closes every member. */
  close(): void {
    for (const m of this.members) m.close();
  }
  /** The member bpf_links (empty when the kernel only offered the ioctl). */
  links(): Link[] {
    return this.members.filter((m): m is Link => m instanceof Link);
  }
}

/** Attaches a PERF_EVENT program to a sampling counter on each CPU. */
export function attachPerfEvent(prog: Program, opts: PerfSamplingOptions): AttachmentGroup {
  const hook = `perf_event type ${opts.type} config ${opts.config}`;
  const freq = opts.samplePeriod === undefined;
  const members: Attachment[] = [];
  try {
    for (const cpu of opts.cpus ?? onlineCpus()) {
      let pfd: FD;
      try {
        pfd = openPerf(
          {
            type: opts.type,
            config: opts.config,
            sample: freq ? (opts.frequency ?? 49) : opts.samplePeriod!,
            flags: freq ? 1 << 10 : 0,
          },
          -1,
          cpu,
        );
      } catch (err) {
        const hint = isErrno(err, 'ENOENT', 'EOPNOTSUPP')
          ? 'no such counter on this machine (hardware counters are often absent in VMs)'
          : undefined;
        throw attachError(hook, `cpu ${cpu}`, err, hint);
      }
      members.push(attachToPerfEvent(prog, pfd, hook, `cpu ${cpu}`));
    }
  } catch (err) {
    for (const m of members) m.close();
    throw err;
  }
  return new AttachmentGroup(hook, members);
}
