/**
 * Address → symbol for stack traces: kernel addresses through /proc/kallsyms, user addresses
 * through the process's /proc/PID/maps and the ELF function symbols (.symtab, .dynsym) of the
 * mapped file. User processes must still be running when their stacks are resolved.
 */
import { readFileSync } from 'node:fs';
import { elfFunctionSymbols } from '../bpf/link/index.js';

interface Sym {
  addr: bigint;
  name: string;
}

function lowerBound<T>(arr: T[], key: bigint, get: (t: T) => bigint): number {
  // Index of the last element with get(e) <= key, or -1.
  let lo = 0;
  let hi = arr.length - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (get(arr[mid]!) <= key) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

/** Parses /proc/kallsyms text into sorted (address, name) pairs (text symbols only). */
export function parseKallsyms(text: string): Sym[] {
  const out: Sym[] = [];
  for (const line of text.split('\n')) {
    const sp1 = line.indexOf(' ');
    if (sp1 < 0) continue;
    const type = line[sp1 + 1];
    if (type !== 't' && type !== 'T' && type !== 'W' && type !== 'w') continue;
    const rest = line.slice(sp1 + 3);
    const tab = rest.indexOf('\t');
    const name = tab < 0 ? rest : rest.slice(0, tab);
    out.push({ addr: BigInt('0x' + line.slice(0, sp1)), name });
  }
  out.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
  return out;
}

/** Kernel symbolizer over /proc/kallsyms (root sees real addresses). */
export class KernelSymbols {
  private readonly syms: Sym[];
  constructor(text = readFileSync('/proc/kallsyms', 'utf8')) {
    this.syms = parseKallsyms(text);
    if (this.syms.length > 0 && this.syms.every((s) => s.addr === 0n))
      throw new Error('/proc/kallsyms shows zero addresses (needs root or kptr_restrict=0)');
  }
  /** "name" (or "name+0xoff" with offsets), or the hex address when unknown. */
  resolve(addr: bigint, offsets = false): string {
    const i = lowerBound(this.syms, addr, (s) => s.addr);
    if (i < 0) return `0x${addr.toString(16)}`;
    const s = this.syms[i]!;
    return offsets ? `${s.name}+0x${(addr - s.addr).toString(16)}` : s.name;
  }
}

interface Mapping {
  start: bigint;
  end: bigint;
  pgoff: bigint;
  path: string;
}

/** Parses /proc/PID/maps text into executable file mappings. */
export function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s*(.*)$/.exec(line);
    if (!m || !m[3]!.includes('x')) continue;
    out.push({
      start: BigInt('0x' + m[1]),
      end: BigInt('0x' + m[2]),
      pgoff: BigInt('0x' + m[4]),
      path: m[5] ?? '',
    });
  }
  return out;
}

interface FileSyms {
  /** Sorted by file offset. */
  syms: { off: bigint; size: bigint; name: string }[];
}

/** User-space symbolizer with per-file and per-process caches. */
export class UserSymbols {
  private readonly files = new Map<string, FileSyms | undefined>();
  private readonly procs = new Map<number, Mapping[]>();

  private mappings(pid: number): Mapping[] {
    let m = this.procs.get(pid);
    if (!m) {
      try {
        m = parseMaps(readFileSync(`/proc/${pid}/maps`, 'utf8'));
      } catch {
        m = [];
      }
      this.procs.set(pid, m);
    }
    return m;
  }

  private fileSyms(path: string, pid: number): FileSyms | undefined {
    if (this.files.has(path)) return this.files.get(path);
    let fs: FileSyms | undefined;
    // Through /proc/PID/root so binaries in other mount namespaces resolve too.
    for (const p of [`/proc/${pid}/root${path}`, path]) {
      try {
        const syms = [...elfFunctionSymbols(p).values()]
          .map((s) => ({ off: BigInt(s.offset), size: s.size, name: s.name }))
          .sort((a, b) => (a.off < b.off ? -1 : a.off > b.off ? 1 : 0));
        fs = { syms };
        break;
      } catch {
        // try the next path
      }
    }
    this.files.set(path, fs);
    return fs;
  }

  /** The function containing `addr` in process `pid`, "[unknown]" or "[module]" when unknown. */
  resolve(pid: number, addr: bigint): string {
    const maps = this.mappings(pid);
    const m = maps.find((x) => addr >= x.start && addr < x.end);
    if (!m) return '[unknown]';
    if (!m.path.startsWith('/')) return m.path || '[anon]';
    const fs = this.fileSyms(m.path, pid);
    const base = m.path.slice(m.path.lastIndexOf('/') + 1);
    if (!fs) return `[${base}]`;
    const off = addr - m.start + m.pgoff;
    const i = lowerBound(fs.syms, off, (s) => s.off);
    if (i < 0) return `[${base}]`;
    const s = fs.syms[i]!;
    if (s.size > 0n && off >= s.off + s.size) return `[${base}]`;
    return s.name;
  }

  /** Forgets cached process mappings (call when pids may have been reused). */
  forgetProcesses(): void {
    this.procs.clear();
  }
}
