/**
 * Run statistics of loaded eBPF programs for `iovisor top`: BPF_ENABLE_STATS turns on the
 * kernel's per-program run_cnt/run_time_ns accounting for as long as the returned fd is open,
 * and BPF_OBJ_GET_INFO_BY_FD reads the counters; rates come from two snapshots.
 */
import { BpfCmd, isErrno, sys } from '../sys/index.js';
import { Attr } from '../bpf/attr.js';
import { Program } from '../bpf/program.js';

/** BPF_STATS_RUN_TIME. */
const BPF_STATS_RUN_TIME = 0;

/** Keeps run-time statistics enabled until closed. */
export class StatsHandle {
  private fd: number;
  constructor(fd: number) {
    this.fd = fd;
  }
  /** Turns statistics off again (unless another holder keeps them on, or the sysctl does). */
  close(): void {
    if (this.fd < 0) return;
    sys().close(this.fd);
    this.fd = -1;
  }
}

/** Enables run-time statistics (BPF_ENABLE_STATS, type BPF_STATS_RUN_TIME). */
export function enableStats(): StatsHandle {
  try {
    return new StatsHandle(
      sys().bpf(BpfCmd.ENABLE_STATS, new Attr().u32(0, BPF_STATS_RUN_TIME).bytes),
    );
  } catch (err) {
    throw new Error(`enable BPF run-time stats (BPF_ENABLE_STATS): ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** One program's counters at one moment. */
export interface ProgCounters {
  id: number;
  name: string;
  type: string;
  runCount: bigint;
  runTimeNs: bigint;
}

/** The counters of every loaded program (those that vanish while listing are skipped). */
export function programCounters(): ProgCounters[] {
  const out: ProgCounters[] = [];
  for (const id of Program.ids()) {
    let p: Program;
    try {
      p = Program.fromId(id);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || /ENOENT/.test(String(err))) continue;
      throw err;
    }
    try {
      const i = p.info();
      out.push({
        id,
        name: i.name,
        type: i.typeName,
        runCount: i.runCount,
        runTimeNs: i.runTimeNs,
      });
    } finally {
      p.close();
    }
  }
  return out;
}

/** A program's rates over an interval. */
export interface ProgRate {
  id: number;
  name: string;
  type: string;
  /** Runs per second. */
  runsPerSec: number;
  /** Nanoseconds of run time per second (divide by 1e7 for % of one CPU). */
  runTimeNsPerSec: number;
  /** Average nanoseconds per run over the interval (0 when it did not run). */
  avgNs: number;
  /** Totals since load (while stats were enabled). */
  runCount: number;
  runTimeNs: number;
}

/** Rates between two snapshots taken `seconds` apart; programs new in `b` count from zero. */
export function progRates(a: ProgCounters[], b: ProgCounters[], seconds: number): ProgRate[] {
  const prev = new Map(a.map((p) => [p.id, p]));
  return b
    .map((p) => {
      const q = prev.get(p.id);
      const runs = Number(p.runCount - (q?.runCount ?? 0n));
      const ns = Number(p.runTimeNs - (q?.runTimeNs ?? 0n));
      return {
        id: p.id,
        name: p.name,
        type: p.type,
        runsPerSec: seconds > 0 ? runs / seconds : 0,
        runTimeNsPerSec: seconds > 0 ? ns / seconds : 0,
        avgNs: runs > 0 ? ns / runs : 0,
        runCount: Number(p.runCount),
        runTimeNs: Number(p.runTimeNs),
      };
    })
    .sort(
      (x, y) => y.runTimeNsPerSec - x.runTimeNsPerSec || y.runsPerSec - x.runsPerSec || x.id - y.id,
    );
}
