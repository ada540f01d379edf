/**
 * Log2 histograms as the tools' programs keep them (struct hist in bpf/trace.h) and drawn in
 * the terminal the way bcc and libbpf-tools print them.
 */
import { cstr, view } from './core.js';

/** Slots in struct hist. */
export const MAX_SLOTS = 27;
/** sizeof(struct hist). */
export const HIST_SIZE = 144;

/** A log2 histogram: slots[i] counts values in [2^i, 2^(i+1)) (slot 0 holds 0 and 1). */
export interface Log2Histogram {
  /** What a value means: "usecs", "msecs", "nsecs". */
  unit: string;
  slots: number[];
  /** Number of values recorded. */
  count: number;
  /** Sum of the values recorded, in `unit`. */
  sum: number;
  /** The task's comm, for per-process or per-thread histograms. */
  comm?: string;
}

/** Decodes struct hist. */
export function decodeHist(b: Uint8Array, unit: string): Log2Histogram {
  const dv = view(b);
  const slots: number[] = [];
  for (let i = 0; i < MAX_SLOTS; i++) slots.push(dv.getUint32(i * 4, true));
  const comm = cstr(b, 128, 16);
  return {
    unit,
    slots,
    count: Number(dv.getBigUint64(112, true)),
    sum: Number(dv.getBigUint64(120, true)),
    ...(comm ? { comm } : {}),
  };
}

/** An empty histogram. */
export function emptyHist(unit: string): Log2Histogram {
  return { unit, slots: new Array<number>(MAX_SLOTS).fill(0), count: 0, sum: 0 };
}

/** Adds `b` into `a` (same unit). */
export function mergeHist(a: Log2Histogram, b: Log2Histogram): Log2Histogram {
  return {
    unit: a.unit,
    slots: a.slots.map((v, i) => v + (b.slots[i] ?? 0)),
    count: a.count + b.count,
    sum: a.sum + b.sum,
  };
}

/** The [low, high] range of slot i, as bcc labels it. */
export function slotRange(i: number): [number, number] {
  const high = 2 ** (i + 1) - 1;
  let low = 2 ** (i + 1) / 2;
  if (low === high) low -= 1;
  return [low, high];
}

/** Draws a histogram like libbpf-tools' print_log2_hist (empty string when nothing was seen). */
export function drawLog2(h: Log2Histogram, label = h.unit): string {
  let last = -1;
  h.slots.forEach((v, i) => {
    if (v > 0) last = i;
  });
  if (last < 0) return '';
  const max = Math.max(...h.slots);
  const wide = last > 32;
  const stars = 40;
  const lines = [
    `${' '.repeat(wide ? 15 : 5)}${label.padEnd(wide ? 29 : 19)} : count    distribution`,
  ];
  const width = wide ? 20 : 10;
  for (let i = 0; i <= last; i++) {
    const [low, high] = slotRange(i);
    const v = h.slots[i]!;
    const n = max > 0 ? Math.floor((v * stars) / max) : 0;
    const bar = '*'.repeat(n) + ' '.repeat(stars - n);
    lines.push(
      `${String(low).padStart(width)} -> ${String(high).padEnd(width)} : ${String(v).padEnd(8)} |${bar}|`,
    );
  }
  return lines.join('\n');
}
