/**
 * Symbol lookup in native ELF binaries for uprobes. The uprobe PMU wants a file offset, so a
 * symbol's virtual address is translated through the PT_LOAD segment that contains it:
 * offset = st_value - p_vaddr + p_offset (libbpf's elf_sym_offset does the same).
 */
import { readFileSync } from 'node:fs';

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const PT_LOAD = 1;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHN_UNDEF = 0;

/** A function symbol of an ELF file. */
export interface ElfSymbol {
  name: string;
  value: bigint;
  size: bigint;
  /** The file offset a uprobe needs. */
  offset: number;
}

/** Reads the defined function symbols of a 64-bit little-endian ELF file (.symtab and .dynsym). */
export function elfFunctionSymbols(path: string): Map<string, ElfSymbol> {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (err) {
    throw new Error(`read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46)
    throw new Error(`${path}: not an ELF file`);
  if (b[4] !== 2 || b[5] !== 1)
    throw new Error(`${path}: only 64-bit little-endian ELF is supported`);
  const phoff = Number(b.readBigUInt64LE(32));
  const shoff = Number(b.readBigUInt64LE(40));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  const shentsize = b.readUInt16LE(58);
  const shnum = b.readUInt16LE(60);

  const segs: { vaddr: bigint; memsz: bigint; off: bigint }[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (b.readUInt32LE(o) !== PT_LOAD) continue;
    segs.push({
      off: b.readBigUInt64LE(o + 8),
      vaddr: b.readBigUInt64LE(o + 16),
      memsz: b.readBigUInt64LE(o + 40),
    });
  }
  const toOffset = (v: bigint): number | undefined => {
    for (const s of segs)
      if (v >= s.vaddr && v < s.vaddr + s.memsz) return Number(v - s.vaddr + s.off);
    return undefined;
  };

  const sh = (i: number) => {
    const o = shoff + i * shentsize;
    return {
      type: b.readUInt32LE(o + 4),
      offset: Number(b.readBigUInt64LE(o + 24)),
      size: Number(b.readBigUInt64LE(o + 32)),
      link: b.readUInt32LE(o + 40),
      entsize: Number(b.readBigUInt64LE(o + 56)),
    };
  };
  const out = new Map<string, ElfSymbol>();
  for (let i = 0; i < shnum; i++) {
    const s = sh(i);
    if (s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) continue;
    const strtab = sh(s.link);
    const n = s.entsize ? Math.floor(s.size / s.entsize) : 0;
    for (let j = 1; j < n; j++) {
      const o = s.offset + j * s.entsize;
      const info = b[o + 4]!;
      const type = info & 0xf;
      const shndx = b.readUInt16LE(o + 6);
      if ((type !== STT_FUNC && type !== STT_GNU_IFUNC) || shndx === SHN_UNDEF) continue;
      const nameOff = strtab.offset + b.readUInt32LE(o);
      const end = b.indexOf(0, nameOff);
      let name = b.toString('utf8', nameOff, end < 0 ? undefined : end);
      // Versioned dynamic names ("memcpy@@GLIBC_2.14") are looked up without the version.
      const at = name.indexOf('@');
      if (at > 0) name = name.slice(0, at);
      if (out.has(name)) continue;
      const value = b.readBigUInt64LE(o + 8);
      const offset = toOffset(value);
      if (offset === undefined) continue;
      out.set(name, { name, value, size: b.readBigUInt64LE(o + 16), offset });
    }
  }
  return out;
}

/** The file offset of function `symbol` in ELF `path`, for a uprobe. */
export function symbolFileOffset(path: string, symbol: string): number {
  const sym = elfFunctionSymbols(path).get(symbol);
  if (!sym) throw new Error(`${path}: no function symbol ${symbol} in .symtab or .dynsym`);
  return sym.offset;
}
