/**
 * `extern ... __kconfig` support: lays out the externs of the `.kconfig` DATASEC and fills their
 * values from the running kernel (version from uname, CONFIG_* from its config file).
 */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import type { Btf } from '../btf/btf.js';
import { BtfKind } from '../btf/types.js';

/** One extern variable's place in the .kconfig map. */
export interface KconfigVar {
  name: string;
  type: number;
  offset: number;
  size: number;
  weak: boolean;
}

/**
 * The .kconfig DATASEC's variables at the offsets BTF fix-up gave them (libbpf's layout).
 * `weakNames` are the externs whose ELF symbols are weak: BTF linkage cannot say, because the
 * fix-up must mark every extern allocated for the kernel to accept it.
 */
export function kconfigLayout(
  btf: Btf,
  weakNames: ReadonlySet<string> = new Set(),
): { datasec?: number; size: number; vars: KconfigVar[] } {
  const ids = btf.findByName('.kconfig', BtfKind.Datasec);
  if (ids.length === 0) return { size: 0, vars: [] };
  const ds = btf.type(ids[0]!);
  if (ds.kind !== BtfKind.Datasec) return { size: 0, vars: [] };
  const vars: KconfigVar[] = [];
  let end = 0;
  for (const v of ds.vars) {
    const vt = btf.type(v.type);
    if (vt.kind !== BtfKind.Var) continue;
    const size = v.size || btf.sizeof(vt.type);
    vars.push({
      name: vt.name,
      type: vt.type,
      offset: v.offset,
      size,
      weak: weakNames.has(vt.name),
    });
    end = Math.max(end, v.offset + size);
  }
  return { datasec: ids[0], size: Math.max(ds.size, end), vars };
}

let cachedConfig: Map<string, string> | undefined;

/** The running kernel's config as NAME → raw value ("y", "m", "250", "\"str\""). */
export function kernelConfig(): Map<string, string> {
  if (cachedConfig) return cachedConfig;
  let text = '';
  const boot = `/boot/config-${release()}`;
  if (existsSync('/proc/config.gz'))
    text = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  else if (existsSync(boot)) text = readFileSync(boot, 'utf8');
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (line.startsWith('CONFIG_') && eq > 0) m.set(line.slice(0, eq), line.slice(eq + 1));
  }
  cachedConfig = m;
  return m;
}

/** LINUX_KERNEL_VERSION as the kernel computes KERNEL_VERSION(a, b, c). */
export function linuxKernelVersion(rel = release()): number {
  const [a = 0, b = 0, c = 0] = rel.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  return (a << 16) + (b << 8) + Math.min(c, 255);
}

/** Fills `data` (the .kconfig map value) for each extern. Throws for a missing strong extern. */
export function fillKconfig(btf: Btf, vars: KconfigVar[], data: Uint8Array): void {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const write = (v: KconfigVar, n: bigint): void => {
    if (v.size === 1) dv.setUint8(v.offset, Number(n & 0xffn));
    else if (v.size === 2) dv.setUint16(v.offset, Number(n & 0xffffn), true);
    else if (v.size === 4) dv.setUint32(v.offset, Number(n & 0xffffffffn), true);
    else if (v.size === 8) dv.setBigUint64(v.offset, BigInt.asUintN(64, n), true);
    else throw new Error(`kconfig ${v.name}: unsupported size ${v.size}`);
  };
  for (const v of vars) {
    if (v.name === 'LINUX_KERNEL_VERSION') {
      write(v, BigInt(linuxKernelVersion()));
      continue;
    }
    if (v.name === 'LINUX_HAS_SYSCALL_WRAPPER') {
      write(v, process.arch === 'x64' || process.arch === 'arm64' ? 1n : 0n);
      continue;
    }
    if (v.name === 'LINUX_HAS_BPF_COOKIE') {
      write(v, 1n);
      continue;
    }
    if (!v.name.startsWith('CONFIG_')) {
      if (v.weak) continue;
      throw new Error(`unknown kconfig extern ${v.name}`);
    }
    const raw = kernelConfig().get(v.name);
    if (raw === undefined) {
      if (v.weak) continue;
      throw new Error(
        `kconfig ${v.name} is not set in the running kernel's config (declare it __weak to allow that)`,
      );
    }
    const t = btf.type(btf.resolve(v.type));
    if (t.kind === BtfKind.Array) {
      const s = raw.replace(/^"|"$/g, '');
      data.set(new TextEncoder().encode(s).subarray(0, v.size - 1), v.offset);
      continue;
    }
    if (raw === 'y' || raw === 'm' || raw === 'n') {
      const isChar = t.kind === BtfKind.Int && t.char;
      const isBool = t.kind === BtfKind.Int && t.bool;
      if (isChar) write(v, BigInt(raw.charCodeAt(0)));
      else if (isBool) write(v, raw === 'n' ? 0n : 1n);
      else if (t.kind === BtfKind.Enum) write(v, raw === 'y' ? 1n : raw === 'm' ? 2n : 0n);
      else write(v, raw === 'n' ? 0n : 1n);
      continue;
    }
    try {
      write(v, BigInt(raw));
    } catch {
      throw new Error(`kconfig ${v.name}: value ${raw} does not fit an integer`);
    }
  }
}
