/**
 * Test helpers: compile C with clang into a BPF object and pull sections and symbols out of the
 * ELF. The real ELF loader lives elsewhere; this reader is the smallest stand-in the BTF tests
 * need and handles only little-endian ELF64.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One ELF section. */
export interface ElfSection {
  name: string;
  type: number;
  flags: bigint;
  data: Uint8Array;
  size: number;
}

/** One ELF symbol. */
export interface ElfSymbol {
  name: string;
  section: string;
  value: number;
  size: number;
  bind: number;
  type: number;
}

/** A compiled object: its sections, symbols, and where its source lives. */
export interface CompiledObject {
  sections: Map<string, ElfSection>;
  symbols: ElfSymbol[];
  source: string;
  path: string;
}

/** Compiles `source` with `clang -O2 -g -target bpf -c`. Fails (never skips) when clang is missing. */
export function compileBpf(
  source: string,
  name = 'prog',
  extraArgs: string[] = [],
): CompiledObject {
  const dir = mkdtempSync(join(tmpdir(), 'iovisor-btf-'));
  const src = join(dir, `${name}.bpf.c`);
  const obj = join(dir, `${name}.bpf.o`);
  writeFileSync(src, source);
  try {
    execFileSync(
      'clang',
      [
        '-O2',
        '-g',
        '-target',
        'bpf',
        '-D__TARGET_ARCH_x86',
        '-I',
        dir,
        ...extraArgs,
        '-c',
        src,
        '-o',
        obj,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    if (err.code === 'ENOENT')
      throw new Error(
        'clang is not installed: the BTF tests need clang 14 (apt-get install clang)',
      );
    throw new Error(`clang failed:\n${err.stderr?.toString() ?? String(e)}`);
  }
  const bytes = readFileSync(obj);
  const parsed = readElf(new Uint8Array(bytes));
  rmSync(dir, { recursive: true, force: true });
  return { ...parsed, source: src, path: obj };
}

/** Reads section headers and the symbol table of a little-endian ELF64 file. */
export function readElf(bytes: Uint8Array): {
  sections: Map<string, ElfSection>;
  symbols: ElfSymbol[];
} {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, false) !== 0x7f454c46) throw new Error('not an ELF file');
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    raw.push({
      nameOff: dv.getUint32(o, true),
      type: dv.getUint32(o + 4, true),
      flags: dv.getBigUint64(o + 8, true),
      offset: Number(dv.getBigUint64(o + 0x18, true)),
      size: Number(dv.getBigUint64(o + 0x20, true)),
      link: dv.getUint32(o + 0x28, true),
    });
  }
  const cstr = (base: number, off: number): string => {
    let e = base + off;
    while (bytes[e] !== 0) e++;
    return Buffer.from(bytes.subarray(base + off, e)).toString('utf8');
  };
  const shstr = raw[shstrndx].offset;
  const names = raw.map((s) => cstr(shstr, s.nameOff));
  const sections = new Map<string, ElfSection>();
  raw.forEach((s, i) => {
    const data = s.type === 8 ? new Uint8Array(s.size) : bytes.slice(s.offset, s.offset + s.size);
    sections.set(names[i], { name: names[i], type: s.type, flags: s.flags, data, size: s.size });
  });
  const symbols: ElfSymbol[] = [];
  const symtab = raw.findIndex((s) => s.type === 2);
  if (symtab >= 0) {
    const st = raw[symtab];
    const strBase = raw[st.link].offset;
    for (let o = st.offset + 24; o < st.offset + st.size; o += 24) {
      const info = bytes[o + 4];
      const shndx = dv.getUint16(o + 6, true);
      symbols.push({
        name: cstr(strBase, dv.getUint32(o, true)),
        section: shndx < names.length ? names[shndx] : '',
        value: Number(dv.getBigUint64(o + 8, true)),
        size: Number(dv.getBigUint64(o + 16, true)),
        bind: info >> 4,
        type: info & 0xf,
      });
    }
  }
  return { sections, symbols };
}

/** The section's bytes; throws naming the section when absent. */
export function section(obj: CompiledObject, name: string): Uint8Array {
  const s = obj.sections.get(name);
  if (!s)
    throw new Error(`object has no ${name} section (have ${[...obj.sections.keys()].join(', ')})`);
  return s.data;
}
