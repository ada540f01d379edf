/**
 * A minimal, defensive ELF64 little-endian reader: sections, symbols and relocations, which is
 * all an eBPF object needs. Every offset read from the file is bounds-checked, so garbage gives
 * an {@link ElfError} naming what was wrong and where, never a crash or a hang.
 */

import { isAscii } from 'node:buffer';

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
  /** The low 32 bits of `flags` as a number, for tests without BigInt arithmetic. */
  flagBits: number;
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
  /**
   * Relocations keyed by the index of the section they apply to, all of them checked and
   * decoded on first access (throws ElfError for a malformed one).
   */
  relocations: Map<number, ElfRelocation[]>;
  /**
   * The relocations that apply to one section (empty when there are none): what a loader
   * needs, without checking or decoding the many relocations of debug sections it never
   * looks at. Throws ElfError when one of them is malformed.
   */
  relocationsFor(index: number): ElfRelocation[];
  sectionByName(name: string): ElfSection | undefined;
}

const MAX_SECTIONS = 65535;

const utf8 = new TextDecoder();
const EMPTY = new Uint8Array(0);

/**
 * Reads a u64 as a number without going through BigInt (hot: every section and symbol), or -1
 * when it does not fit a safe integer; callers turn -1 into an error naming the field.
 */
function u64(dv: DataView, off: number): number {
  const hi = dv.getUint32(off + 4, true);
  if (hi > 0x1fffff) return -1;
  return hi * 2 ** 32 + dv.getUint32(off, true);
}

function tooLarge(what: string): never {
  throw new ElfError(`${what}: value too large`);
}

/**
 * A string table decoded once as latin1, so each name is one native indexOf and slice instead
 * of a byte loop (a view or a TextDecoder call per name costs more than the rest of the parse).
 * Tables with bytes >= 0x80 decode those names as UTF-8.
 */
class StrTab {
  private text: string | undefined;
  private highBytes = false;
  constructor(
    private readonly file: Uint8Array,
    private readonly start: number,
    private readonly length: number,
  ) {}
  private decode(): string {
    if (this.text !== undefined) return this.text;
    const { file, start, length } = this;
    const view = Buffer.from(file.buffer, file.byteOffset + start, length);
    const text = view.toString('latin1');
    this.highBytes = !isAscii(view);
    this.text = text;
    return text;
  }
  /** The string at `off`; errors name `what` and its index `i` ("section 3 name"). */
  get(off: number, what: string, i: number): string {
    if (off < 0 || off >= this.length) {
      if (off === 0 && this.length === 0) return '';
      throw new ElfError(
        `${what} ${i} name: string offset ${off} outside string table of ${this.length} bytes`,
      );
    }
    const text = this.decode();
    const end = text.indexOf('\0', off);
    if (end < 0) throw new ElfError(`${what} ${i} name: unterminated string at offset ${off}`);
    const s = text.slice(off, end);
    // eslint-disable-next-line no-control-regex
    if (this.highBytes && /[^\x00-\x7f]/.test(s))
      return utf8.decode(this.file.subarray(this.start + off, this.start + end));
    return s;
  }
}

/** `what` is a section index (named "section N") or a description; no closure per call. */
function checkRange(file: Uint8Array, off: number, size: number, what: number | string): void {
  if (
    !Number.isSafeInteger(off) ||
    !Number.isSafeInteger(size) ||
    off < 0 ||
    size < 0 ||
    off + size > file.byteLength
  ) {
    throw new ElfError(
      `${typeof what === 'number' ? `section ${what}` : what}: range ${off}+${size} lies outside the file (${file.byteLength} bytes)`,
    );
  }
}

/** A section whose bytes are viewed only when asked for: most sections' data is never read. */
class Section implements ElfSection {
  name = '';
  private view: Uint8Array | undefined;
  constructor(
    private readonly file: Uint8Array,
    readonly index: number,
    readonly type: number,
    private readonly flagsHi: number,
    readonly flagBits: number,
    readonly size: number,
    readonly link: number,
    readonly info: number,
    readonly entsize: number,
    private readonly offset: number,
  ) {}
  /** As a BigInt only when asked for: a loader tests `flagBits`, and each BigInt is an allocation. */
  get flags(): bigint {
    return (BigInt(this.flagsHi) << 32n) | BigInt(this.flagBits);
  }
  get data(): Uint8Array {
    if (this.view === undefined) {
      this.view =
        this.type === SHT_NOBITS || this.index === 0
          ? EMPTY
          : this.file.subarray(this.offset, this.offset + this.size);
    }
    return this.view;
  }
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
  const shoff = u64(dv, 40);
  if (shoff < 0) tooLarge('e_shoff');
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);
  const shstrndx = dv.getUint16(62, true);
  if (shnum === 0) throw new ElfError('no section headers');
  if (shentsize < 64) throw new ElfError(`section header size ${shentsize} < 64`);
  if (shnum > MAX_SECTIONS) throw new ElfError(`too many sections (${shnum})`);
  checkRange(file, shoff, shnum * shentsize, 'section header table');

  const sections: Section[] = new Array<Section>(shnum);
  const offsets: number[] = new Array<number>(shnum);
  let symtab: Section | undefined;
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    const type = dv.getUint32(o + 4, true);
    const offset = u64(dv, o + 24);
    if (offset < 0) tooLarge(`section ${i} offset`);
    const size = u64(dv, o + 32);
    if (size < 0) tooLarge(`section ${i} size`);
    const entsize = u64(dv, o + 56);
    if (entsize < 0) tooLarge(`section ${i} entsize`);
    if (type !== SHT_NOBITS && i !== 0) checkRange(file, offset, size, i);
    const flagsHi = dv.getUint32(o + 12, true);
    const flagsLo = dv.getUint32(o + 8, true);
    const s = new Section(
      file,
      i,
      type,
      flagsHi,
      flagsLo,
      size,
      dv.getUint32(o + 40, true),
      dv.getUint32(o + 44, true),
      entsize,
      offset,
    );
    sections[i] = s;
    offsets[i] = offset;
    if (type === SHT_SYMTAB && symtab === undefined) symtab = s;
  }
  if (shstrndx >= shnum) throw new ElfError(`section name table index ${shstrndx} out of range`);
  const shstrSec = sections[shstrndx]!;
  const shstr =
    shstrSec.type === SHT_NOBITS || shstrndx === 0
      ? new StrTab(file, 0, 0)
      : new StrTab(file, offsets[shstrndx]!, shstrSec.size);
  for (let i = 1; i < shnum; i++) {
    const s = sections[i]!;
    s.name = shstr.get(dv.getUint32(shoff + i * shentsize, true), 'section', i);
  }

  const symbols: ElfSymbol[] = [];
  if (symtab) {
    if (symtab.link >= sections.length)
      throw new ElfError(`symbol table links to missing section ${symtab.link}`);
    const strSec = sections[symtab.link]!;
    // clang keeps section and symbol names in one table: decode it once.
    const strtab =
      symtab.link === shstrndx
        ? shstr
        : strSec.type === SHT_NOBITS || strSec.index === 0
          ? new StrTab(file, 0, 0)
          : new StrTab(file, offsets[strSec.index]!, strSec.size);
    const base = offsets[symtab.index]!;
    // Section 0 has no bytes, whatever its header says.
    const n = symtab.index === 0 ? 0 : Math.floor(symtab.size / 24);
    for (let i = 0; i < n; i++) {
      const o = base + i * 24;
      const info = dv.getUint8(o + 4);
      const value = u64(dv, o + 8);
      if (value < 0) tooLarge(`symbol ${i} value`);
      const size = u64(dv, o + 16);
      if (size < 0) tooLarge(`symbol ${i} size`);
      symbols.push({
        index: i,
        name: strtab.get(dv.getUint32(o, true), 'symbol', i),
        bind: info >> 4,
        type: info & 0xf,
        visibility: dv.getUint8(o + 5) & 3,
        sectionIndex: dv.getUint16(o + 6, true),
        value,
        size,
      });
    }
  }

  // Relocation sections are grouped by the section they apply to, and checked and decoded only
  // when asked for (ElfFile.relocationsFor): a loader reads those of code and .maps, never the
  // many of debug sections (libbpf ignores those too).
  const relocSections = new Array<Section[] | undefined>(shnum).fill(undefined);
  for (let si = 0; si < shnum; si++) {
    const s = sections[si]!;
    if (s.type !== SHT_REL && s.type !== SHT_RELA) continue;
    if (s.info >= sections.length)
      throw new ElfError(`relocation section ${s.name} targets missing section ${s.info}`);
    const list = relocSections[s.info];
    if (list === undefined) relocSections[s.info] = [s];
    else list.push(s);
  }
  return new File(machine, sections, symbols, relocSections, dv, offsets);
}

/** A parsed file; relocations are decoded per target section on first use. */
class File implements ElfFile {
  private decoded: (ElfRelocation[] | undefined)[] = [];
  private all: Map<number, ElfRelocation[]> | undefined;
  constructor(
    readonly machine: number,
    readonly sections: Section[],
    readonly symbols: ElfSymbol[],
    /** Relocation sections by the index of the section they apply to. */
    private readonly relocSections: (Section[] | undefined)[],
    private readonly dv: DataView,
    private readonly offsets: number[],
  ) {}

  get relocations(): Map<number, ElfRelocation[]> {
    if (this.all === undefined) {
      const all = new Map<number, ElfRelocation[]>();
      this.relocSections.forEach((list, target) => {
        if (list !== undefined) all.set(target, this.relocationsFor(target));
      });
      this.all = all;
    }
    return this.all;
  }

  relocationsFor(index: number): ElfRelocation[] {
    const hit = this.decoded[index];
    if (hit !== undefined) return hit;
    const list: ElfRelocation[] = [];
    const { dv, symbols } = this;
    for (const s of this.relocSections[index] ?? []) {
      const rela = s.type === SHT_RELA;
      const entsize = rela ? 24 : 16;
      const base = this.offsets[s.index]!;
      const size = s.index === 0 ? 0 : s.size;
      for (let i = 0; i + entsize <= size; i += entsize) {
        const symIdx = dv.getUint32(base + i + 12, true);
        const symbol = symbols[symIdx];
        if (symbol === undefined)
          throw new ElfError(
            `${s.name}: relocation ${i / entsize} refers to missing symbol ${symIdx}`,
          );
        const offset = u64(dv, base + i);
        if (offset < 0) tooLarge(`${s.name} relocation offset`);
        list.push({
          offset,
          type: dv.getUint32(base + i + 8, true),
          symbol,
          addend: rela ? dv.getBigInt64(base + i + 16, true) : 0n,
        });
      }
    }
    this.decoded[index] = list;
    return list;
  }

  sectionByName(name: string): ElfSection | undefined {
    // A scan beats building a map: a loader asks for a handful of names.
    for (const s of this.sections) if (s.name === name) return s;
    return undefined;
  }
}
