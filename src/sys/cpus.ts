import { readFileSync } from 'node:fs';

/** Parses a kernel CPU list like "0-3,5" into the count of CPUs it names. */
export function parseCpuList(text: string): number {
  let n = 0;
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - a! + 1;
  }
  return n;
}

let possible: number | undefined;

/** Number of possible CPUs: the stride of per-CPU map values. */
export function possibleCpus(): number {
  possible ??= parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
  return possible;
}

/** The online CPU ids (perf buffers open one ring per online CPU). */
export function onlineCpus(): number[] {
  const out: number[] = [];
  for (const part of readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let i = a!; i <= (b ?? a!); i++) out.push(i);
  }
  return out;
}
