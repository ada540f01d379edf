/**
 * A minimal, defensive ELF64 little-endian reader: sections, symbols and relocations, which is
 * all an eBPF object needs. Every offset read from the file is bounds-checked, so garbage gives
 * an {@link ElfError} naming what was wrong and where, never a crash or a hang.
 */

/** A malformed ELF file. */
export class ElfError extends Error {
  constructor(message: string) {
    super(`ELF: ${message}`);
    this.name = 'ElfError';
  }
}

/** Section header types (SHT_*). */
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
/** Section flags (SHF_*). */
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
/** Symbol binding and type. */
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const SHN_UNDEF = 0;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
/** The ELF machine number of eBPF. */
export const EM_BPF = 247;

/** One section. `data` is empty for NOBITS sections (.bss); use `size`. */
export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: bigint;
  size: number;
  link: number;
  info: number;
  entsize: number;
  data: Uint8Array;
}

/** One symbol-table entry. */
export interface ElfSymbol {
  index: number;
  name: string;
  bind: number;
  type: number;
  visibility: number;
  sectionIndex: number;
  value: number;
  size: number;
}

/** One relocation: `offset` within the target section, against symbol `symbol`. */
export interface ElfRelocation {
  offset: number;
  type: number;
  symbol: ElfSymbol;
  addend: bigint;
}

/** A parsed ELF file. */
export interface ElfFile {
  machine: number;
  sections: ElfSection[];
  symbols: ElfSymbol[];
  /** Relocations keyed by the index of the section they apply to. */
  relocations: Map<number, ElfRelocation[]>;
  sectionByName(name: string): ElfSection | undefined;
}

const MAX_SECTIONS = 65535;

const utf8 = new TextDecoder();

/** Error context built only when an error is thrown: building it eagerly costs more than parsing. */
type Lazy = () => string;

/** Reads a u64 as a number without going through BigInt (hot: every section and symbol). */
function u64(dv: DataView, off: number, what: Lazy): number {
  const hi = dv.getUint32(off + 4, true);
  if (hi > 0x1fffff) throw new ElfError(`${what()}: value too large`);
  return hi * 2 ** 32 + dv.getUint32(off, true);
}

function cstring(bytes: Uint8Array, off: number, what: Lazy): string {
  if (off < 0 || off >= bytes.byteLength) {
    if (off === 0 && bytes.byteLength === 0) return '';
    throw new ElfError(
      `${what()}: string offset ${off} outside string table of ${bytes.byteLength} bytes`,
    );
  }
  let end = off;
  while (end < bytes.byteLength && bytes[end] !== 0) end++;
  if (end >= bytes.byteLength)
    throw new ElfError(`${what()}: unterminated string at offset ${off}`);
  // Symbol and section names are ASCII: build them directly, TextDecoder costs ~1us per call.
  let ascii = '';
  for (let i = off; i < end; i++) {
    const c = bytes[i]!;
    if (c >= 0x80) return utf8.decode(bytes.subarray(off, end));
    ascii += String.fromCharCode(c);
  }
  return ascii;
}

function slice(file: Uint8Array, off: number, size: number, what: Lazy): Uint8Array {
  if (
    !Number.isSafeInteger(off) ||
    !Number.isSafeInteger(size) ||
    off < 0 ||
    size < 0 ||
    off + size > file.byteLength
  ) {
    throw new ElfError(
      `${what()}: range ${off}+${size} lies outside the file (${file.byteLength} bytes)`,
    );
  }
  return file.subarray(off, off + size);
}

/** Parses an ELF64 little-endian file. */
export function parseElf(file: Uint8Array): ElfFile {
  if (file.byteLength < 64)
    throw new ElfError(`file is ${file.byteLength} bytes, too short for an ELF header`);
  if (file[0] !== 0x7f || file[1] !== 0x45 || file[2] !== 0x4c || file[3] !== 0x46) {
    throw new ElfError('not an ELF file (bad magic)');
  }
  if (file[4] !== 2) throw new ElfError('not a 64-bit ELF file (EI_CLASS != ELFCLASS64)');
  if (file[5] !== 1)
    throw new ElfError('not a little-endian ELF file (big-endian eBPF objects are not supported)');
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const machine = dv.getUint16(18, true);
  const shoff = u64(dv, 40, () => 'e_shoff');
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);
  const shstrndx = dv.getUint16(62, true);
  if (shnum === 0) throw new ElfError('no section headers');
  if (shentsize < 64) throw new ElfError(`section header size ${shentsize} < 64`);
  if (shnum > MAX_SECTIONS) throw new ElfError(`too many sections (${shnum})`);
  slice(file, shoff, shnum * shentsize, () => 'section header table');

  const sections: ElfSection[] = [];
  const nameOffs: number[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    const type = dv.getUint32(o + 4, true);
    const offset = u64(dv, o + 24, () => `section ${i} offset`);
    const size = u64(dv, o + 32, () => `section ${i} size`);
    nameOffs.push(dv.getUint32(o, true));
    sections.push({
      index: i,
      name: '',
      type,
      flags: dv.getBigUint64(o + 8, true),
      size,
      link: dv.getUint32(o + 40, true),
      info: dv.getUint32(o + 44, true),
      entsize: u64(dv, o + 56, () => `section ${i} entsize`),
      data:
        type === SHT_NOBITS || i === 0
          ? new Uint8Array(0)
          : slice(file, offset, size, () => `section ${i}`),
    });
  }
  if (shstrndx >= shnum) throw new ElfError(`section name table index ${shstrndx} out of range`);
  const shstr = sections[shstrndx]!.data;
  for (let i = 1; i < shnum; i++)
    sections[i]!.name = cstring(shstr, nameOffs[i]!, () => `section ${i} name`);

  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  const symbols: ElfSymbol[] = [];
  if (symtab) {
    if (symtab.link >= sections.length)
      throw new ElfError(`symbol table links to missing section ${symtab.link}`);
    const strtab = sections[symtab.link]!.data;
    const sdv = new DataView(symtab.data.buffer, symtab.data.byteOffset, symtab.data.byteLength);
    const n = Math.floor(symtab.data.byteLength / 24);
    for (let i = 0; i < n; i++) {
      const o = i * 24;
      const info = sdv.getUint8(o + 4);
      symbols.push({
        index: i,
        name: cstring(strtab, sdv.getUint32(o, true), () => `symbol ${i} name`),
        bind: info >> 4,
        type: info & 0xf,
        visibility: sdv.getUint8(o + 5) & 3,
        sectionIndex: sdv.getUint16(o + 6, true),
        value: u64(sdv, o + 8, () => `symbol ${i} value`),
        size: u64(sdv, o + 16, () => `symbol ${i} size`),
      });
    }
  }

  const relocations = new Map<number, ElfRelocation[]>();
  for (const s of sections) {
    if (s.type !== SHT_REL && s.type !== SHT_RELA) continue;
    const entsize = s.type === SHT_REL ? 16 : 24;
    if (s.info >= sections.length)
      throw new ElfError(`relocation section ${s.name} targets missing section ${s.info}`);
    const rdv = new DataView(s.data.buffer, s.data.byteOffset, s.data.byteLength);
    const list: ElfRelocation[] = [];
    for (let i = 0; i + entsize <= s.data.byteLength; i += entsize) {
      const symIdx = rdv.getUint32(i + 12, true);
      const symbol = symbols[symIdx];
      if (!symbol)
        throw new ElfError(
          `${s.name}: relocation ${i / entsize} refers to missing symbol ${symIdx}`,
        );
      list.push({
        offset: u64(rdv, i, () => `${s.name} relocation offset`),
        type: rdv.getUint32(i + 8, true),
        symbol,
        addend: s.type === SHT_RELA ? rdv.getBigInt64(i + 16, true) : 0n,
      });
    }
    const prev = relocations.get(s.info) ?? [];
    relocations.set(s.info, prev.concat(list));
  }

  const byName = new Map<string, ElfSection>();
  for (const s of sections) if (!byName.has(s.name)) byName.set(s.name, s);
  return { machine, sections, symbols, relocations, sectionByName: (n) => byName.get(n) };
}
