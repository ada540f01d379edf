/**
 * Turns an eBPF ELF object (what `clang -target bpf -g -O2` produces) into a CollectionSpec,
 * following libbpf's conventions. Pure: no kernel calls. Every failure names the object and
 * the thing being read.
 */
import { isAscii } from 'node:buffer';
import path from 'node:path';
import { sys } from '../../sys/index.js';
import {
  INSN_SIZE,
  OP_CALL,
  OP_LD_IMM64,
  PSEUDO_CALL,
  PSEUDO_FUNC,
  PSEUDO_KFUNC_CALL,
  readInsnImm,
  writeInsnImm,
  writeInsnSrc,
} from '../asm/raw.js';
import { Btf } from '../btf/btf.js';
import { indexBtfExt, type BtfExtIndex, type ExtBlock } from '../btf/ext.js';
import { fixupForKernel } from '../btf/fixup.js';
import { BtfKind } from '../btf/types.js';
import {
  EncodedProgramSpec,
  mapSpec,
  type CollectionSpec,
  type EncodedProgramParts,
  type MapSpec,
  type ProgramSpec,
  type Reference,
  type VariableSpec,
} from '../spec.js';
import { MapType } from '../types.js';
import {
  ElfError,
  EM_BPF,
  parseElf,
  SHF_EXECINSTR,
  SHF_ALLOC,
  SHN_UNDEF,
  SHT_NOBITS,
  SHT_PROGBITS,
  STB_LOCAL,
  STB_WEAK,
  STT_FUNC,
  STT_SECTION,
  type ElfFile,
  type ElfRelocation,
  type ElfSection,
  type ElfSymbol,
} from './elf.js';
import { slabBytes, slabCopy } from '../scratch.js';
import { sectionDef } from './sections.js';
import { parseBtfMaps } from './btf-maps.js';
import { kconfigLayout } from './kconfig.js';

const utf8 = new TextDecoder();

/**
 * The text before the first NUL (all of it without one), as UTF-8. A 0 byte is never part of a
 * UTF-8 sequence, so this is the decode-then-cut it replaces, without a regex per load.
 */
function cString(b: Uint8Array): string {
  let end = b.indexOf(0);
  if (end < 0) end = b.byteLength;
  const head = Buffer.from(b.buffer, b.byteOffset, end);
  return isAscii(head) ? head.toString('latin1') : utf8.decode(head);
}
const NO_SYMBOLS: ElfSymbol[] = [];
const NO_BLOCKS: ExtBlock[] = [];

/** An object file that cannot be turned into a spec. */
export class ObjectError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ObjectError';
  }
}

const BPF_F_SLEEPABLE = 1 << 4;
const BPF_F_XDP_HAS_FRAGS = 1 << 5;
const BPF_F_RDONLY_PROG = 1 << 7;
const BPF_F_MMAPABLE = 1 << 10;

/** A function inside an executable section. */
interface Func {
  name: string;
  section: ElfSection;
  start: number; // byte offset in section
  end: number;
  global: boolean;
  /** Where the current link() placed it (first slot), valid when `linkId` is that link's id. */
  base: number;
  linkId: number;
}

/** An executable section's bytes and its relocations by byte offset. */
interface SectionCode {
  bytes: Uint8Array;
  /** Sorted by offset (stable: of several at one offset, the last one counts). */
  relocs: ElfRelocation[];
}

/** Bytes at most this large stay around as {@link linkScratch} for the next link. */
const KEEP_SCRATCH = 1 << 20;
/** Where link() assembles a program's bytes; only used synchronously, never handed out. */
let linkScratch = new Uint8Array(4096);
/** The same bytes as 32-bit words (host order), to hand instructions out as words. */
let linkWords = new Int32Array(linkScratch.buffer);

/** True when relocations are already in offset order (what clang writes). */
function sortedByOffset(list: ElfRelocation[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i - 1]!.offset > list[i]!.offset) return false;
  return true;
}

/**
 * Index of the first .BTF.ext record of `b` at or after instruction byte `off` (0 when the block
 * is not sorted): a function's records are found without reading the whole section's.
 */
function firstRecord(dv: DataView, b: ExtBlock, off: number): number {
  if (!b.sorted) return 0;
  let lo = 0;
  let hi = b.num;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (dv.getUint32(b.p + mid * b.recSize, true) < off) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Calls `visit(recordOffset, insnOff)` for each .BTF.ext record of `blocks` whose instruction
 * offset lies in [start, end).
 */
function recordsIn(
  dv: DataView,
  blocks: ExtBlock[] | undefined,
  start: number,
  end: number,
  visit: (q: number, insnOff: number) => void,
): void {
  for (const b of blocks ?? NO_BLOCKS) {
    const { num, recSize } = b;
    for (let i = firstRecord(dv, b, start), q = b.p + i * recSize; i < num; i++, q += recSize) {
      const off = dv.getUint32(q, true);
      if (off >= end && b.sorted) break;
      if (off >= start && off < end) visit(q, off);
    }
  }
}

/** Index of the first relocation at or after byte `off` in a list sorted by offset. */
function firstAtOrAfter(list: ElfRelocation[], off: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.offset < off) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Sorts records of `width` words by their first word (a slot), stably; `tag` moves along. */
function sortRecords(w: number[], width: number, tag?: number[]): void {
  const n = w.length / width;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => w[a * width]! - w[b * width]! || a - b,
  );
  const copy = w.slice();
  const tags = tag?.slice();
  order.forEach((r, i) => {
    for (let k = 0; k < width; k++) w[i * width + k] = copy[r * width + k]!;
    if (tag) tag[i] = tags![r]!;
  });
}

/** Reads an object file from disk; see {@link parseCollectionSpec}. */
export function loadCollectionSpec(file: string): CollectionSpec {
  let bytes: Uint8Array;
  try {
    // Into a reused buffer: the reader copies out the little a spec keeps (see Reader).
    bytes = sys().readFileScratch(file);
  } catch (err) {
    throw new ObjectError(`read object ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parse(bytes, objectName(file), file, false);
}

/** The short name of an object from its path: "dir/xdp_fw.bpf.o" → "xdp_fw". */
export function objectName(file: string): string {
  return path
    .basename(file)
    .replace(/\.o$/, '')
    .replace(/\.bpf$/, '');
}

/** Parses object bytes into a spec. `where` names the object in errors. */
export function parseCollectionSpec(
  bytes: Uint8Array,
  name = 'object',
  where = name,
): CollectionSpec {
  return parse(bytes, name, where, true);
}

/** `owned`: the spec may keep views of `bytes`; else it copies what it keeps. */
function parse(bytes: Uint8Array, name: string, where: string, owned: boolean): CollectionSpec {
  try {
    return new Reader(bytes, name, owned).read();
  } catch (err) {
    if (err instanceof ObjectError)
      throw new ObjectError(`${where}: ${err.message}`, { cause: err.cause ?? err });
    if (err instanceof Error) throw new ObjectError(`${where}: ${err.message}`, { cause: err });
    throw new ObjectError(`${where}: ${String(err)}`);
  }
}

class Reader {
  private readonly elf: ElfFile;
  private btf?: Btf;
  private ext?: BtfExtIndex;
  private readonly maps = new Map<string, MapSpec>();
  private readonly variables = new Map<string, VariableSpec>();
  /** Map name for each data-like section index (.data, .rodata*, .bss, .kconfig). */
  private readonly dataMaps: (string | undefined)[] = [];
  private kconfigMap?: string;
  /** Byte offset of the `values` member inside each BTF map definition that has one. */
  private readonly valuesOffsets = new Map<string, number>();
  private kconfigOffsets = new Map<string, number>();
  private license = '';
  /** Count of link() calls, to tell which functions the current one has placed. */
  private links = 0;
  private kernelVersion = 0;

  constructor(
    bytes: Uint8Array,
    private readonly name: string,
    /**
     * Whether the spec may keep views of `bytes`. When not (a reused read buffer), the .BTF
     * section is copied: the parsed Btf reads its blob, types and strings from it for as long
     * as the spec lives. Everything else a spec keeps is decoded or copied already (program
     * words, data section images, names).
     */
    private readonly owned: boolean,
  ) {
    this.elf = parseElf(bytes);
    if (this.elf.machine !== EM_BPF) {
      throw new ElfError(
        `machine ${this.elf.machine} is not eBPF (${EM_BPF}): compile with clang -target bpf`,
      );
    }
  }

  read(): CollectionSpec {
    const { elf } = this;
    const lic = elf.sectionByName('license');
    if (lic) this.license = cString(lic.data);
    const ver = elf.sectionByName('version');
    if (ver && ver.data.byteLength >= 4)
      this.kernelVersion = new DataView(ver.data.buffer, ver.data.byteOffset).getUint32(0, true);

    const btfSec = elf.sectionByName('.BTF');
    if (btfSec) {
      try {
        this.btf = Btf.parse(this.owned ? btfSec.data : slabCopy(btfSec.data));
      } catch (err) {
        throw new ObjectError(`section .BTF: ${(err as Error).message}`, { cause: err });
      }
      const extSec = elf.sectionByName('.BTF.ext');
      if (extSec) {
        try {
          this.ext = indexBtfExt(extSec.data, this.btf);
        } catch (err) {
          throw new ObjectError(`section .BTF.ext: ${(err as Error).message}`, { cause: err });
        }
      }
      // Sections already have the name and size the fix-up wants; symbols get their section
      // name. Only data symbols: a DATASEC never names a code section.
      const syms: { name: string; section: string; offset: number }[] = [];
      for (const sym of elf.symbols) {
        if (
          sym.sectionIndex !== SHN_UNDEF &&
          sym.sectionIndex < elf.sections.length &&
          sym.type !== STT_SECTION &&
          sym.type !== STT_FUNC
        )
          syms.push({
            name: sym.name,
            section: elf.sections[sym.sectionIndex]!.name,
            offset: sym.value,
          });
      }
      fixupForKernel(this.btf, elf.sections, syms);
    }

    this.readLegacyMaps();
    this.readBtfMaps();
    this.readDataSections();
    this.readKconfig();
    const programs = this.readPrograms();
    this.readMapContents(programs);
    return {
      name: this.name,
      maps: this.maps,
      programs,
      variables: this.variables,
      btf: this.btf,
      license: this.license,
      kernelVersion: this.kernelVersion,
    };
  }

  private bySection: (ElfSymbol[] | undefined)[] | undefined;

  /** Symbols defined in one section, in symbol-table order (grouped once, in one pass). */
  private symbolsIn(index: number): ElfSymbol[] {
    if (this.bySection === undefined) {
      // An array by section index (a Map here cost more than the grouping). Special indices
      // (SHN_ABS, SHN_COMMON) are no section: left out, or the array would turn sparse.
      const n = this.elf.sections.length;
      const by = new Array<ElfSymbol[] | undefined>(n).fill(undefined);
      for (const sym of this.elf.symbols) {
        if (sym.sectionIndex >= n) continue;
        const list = by[sym.sectionIndex];
        if (list === undefined) by[sym.sectionIndex] = [sym];
        else list.push(sym);
      }
      this.bySection = by;
    }
    return this.bySection[index] ?? NO_SYMBOLS;
  }

  private addMap(spec: MapSpec, where: string): void {
    if (this.maps.has(spec.name))
      throw new ObjectError(`${where}: map ${spec.name} declared twice`);
    this.maps.set(spec.name, spec);
  }

  /** The old `SEC("maps") struct bpf_map_def` layout, plus iproute2's extra fields. */
  private readLegacyMaps(): void {
    for (const sec of this.elf.sections) {
      if (sec.name !== 'maps' && !sec.name.startsWith('maps/')) continue;
      const syms = this.symbolsIn(sec.index).filter((s) => s.type !== STT_SECTION && s.name);
      if (syms.length === 0 && sec.size > 0)
        throw new ObjectError(`section ${sec.name}: map definitions without symbols`);
      for (const sym of syms) {
        const size = sym.size || Math.floor(sec.size / syms.length);
        if (size < 20 || sym.value + size > sec.data.byteLength) {
          throw new ObjectError(
            `legacy map ${sym.name}: definition of ${size} bytes at ${sym.value} is malformed`,
          );
        }
        const dv = new DataView(sec.data.buffer, sec.data.byteOffset + sym.value, size);
        this.addMap(
          mapSpec({
            name: sym.name,
            type: dv.getUint32(0, true),
            keySize: dv.getUint32(4, true),
            valueSize: dv.getUint32(8, true),
            maxEntries: dv.getUint32(12, true),
            flags: dv.getUint32(16, true),
            mapExtra: 0n,
            pinning: size >= 28 && dv.getUint32(24, true) === 2 ? 'by_name' : 'none',
          }),
          `section ${sec.name}`,
        );
      }
    }
  }

  private readBtfMaps(): void {
    const sec = this.elf.sectionByName('.maps');
    if (!sec) return;
    if (!this.btf) throw new ObjectError('section .maps needs BTF: compile with -g');
    const offsets = new Map<string, number>();
    for (const s of this.symbolsIn(sec.index))
      if (s.type !== STT_SECTION) offsets.set(s.name, s.value);
    for (const { spec, valuesOffset } of parseBtfMaps(this.btf, offsets)) {
      this.addMap(spec, 'section .maps');
      if (valuesOffset !== undefined) this.valuesOffsets.set(spec.name, valuesOffset);
    }
  }

  private readDataSections(): void {
    for (const sec of this.elf.sections) {
      const isData =
        sec.type === SHT_PROGBITS &&
        (sec.name === '.data' ||
          sec.name.startsWith('.data.') ||
          sec.name === '.rodata' ||
          sec.name.startsWith('.rodata.'));
      const isBss =
        sec.type === SHT_NOBITS && (sec.name === '.bss' || sec.name.startsWith('.bss.'));
      if (!(isData || isBss) || (sec.flagBits & SHF_ALLOC) === 0 || sec.size === 0) continue;
      const readonly = sec.name.startsWith('.rodata');
      const mapName = internalMapName(this.name, sec.name);
      const datasec = this.btf?.findByName(sec.name, BtfKind.Datasec)[0];
      this.dataMaps[sec.index] = mapName;
      // Variables: BTF's (types and statics) in section order, then ELF symbols BTF lacks. The
      // fix-up already took each BTF variable's offset from its symbol, so the two agree.
      const vars: VariableSpec[] = [];
      const btf = this.btf;
      const ds = datasec !== undefined ? btf?.type(datasec) : undefined;
      if (btf !== undefined && ds?.kind === BtfKind.Datasec) {
        for (const v of ds.vars) {
          const vt = btf.type(v.type);
          if (vt.kind !== BtfKind.Var) continue;
          vars.push({
            name: vt.name,
            map: mapName,
            offset: v.offset,
            size: v.size || btf.sizeof(vt.type),
            type: vt.type,
            constant: readonly,
          });
        }
      }
      const fromBtf = vars.length;
      for (const sym of this.symbolsIn(sec.index)) {
        if (sym.type === STT_SECTION || !sym.name || sym.name.startsWith('.')) continue;
        // Offsets first: a number compare rules out all but the variable's own entry.
        let known = false;
        for (let i = 0; i < fromBtf && !known; i++)
          known = vars[i]!.offset === sym.value && vars[i]!.name === sym.name;
        if (known) continue;
        vars.push({
          name: sym.name,
          map: mapName,
          offset: sym.value,
          size: sym.size,
          constant: readonly,
        });
      }
      this.addMap(
        mapSpec({
          name: mapName,
          type: MapType.Array,
          keySize: 4,
          valueSize: sec.size,
          maxEntries: 1,
          // Mapped into user space only when it has variables to read and write live (libbpf
          // too): a mmap-able array is vmalloc'ed page by page, 3x the kernel time of a plain
          // one, and string-literal sections such as .rodata.str1.1 are never read from JS.
          flags: (vars.length > 0 ? BPF_F_MMAPABLE : 0) | (readonly ? BPF_F_RDONLY_PROG : 0),
          mapExtra: 0n,
          pinning: 'none',
          btf: datasec !== undefined ? this.btf : undefined,
          valueType: datasec,
          contents: [],
          data: isBss ? slabBytes(sec.size) : slabCopy(sec.data),
          dataSection: sec.name,
          freeze: readonly,
        }),
        `section ${sec.name}`,
      );
      for (const v of vars) {
        if (v.offset + v.size > sec.size)
          throw new ObjectError(`variable ${v.name} lies outside section ${sec.name}`);
        if (!this.variables.has(v.name)) this.variables.set(v.name, v);
      }
    }
  }

  /** `extern ... __kconfig` variables: a read-only map filled at load time. */
  private readKconfig(): void {
    const externs = this.elf.symbols.filter(
      (s) => s.sectionIndex === SHN_UNDEF && s.bind !== STB_LOCAL && s.name && s.type !== STT_FUNC,
    );
    if (externs.length === 0 || !this.btf) return;
    const weak = new Set(externs.filter((s) => s.bind === STB_WEAK).map((s) => s.name));
    const layout = kconfigLayout(this.btf, weak);
    if (layout.vars.length === 0) return;
    const mapName = internalMapName(this.name, '.kconfig');
    this.kconfigMap = mapName;
    this.addMap(
      mapSpec({
        name: mapName,
        type: MapType.Array,
        keySize: 4,
        valueSize: layout.size,
        maxEntries: 1,
        flags: BPF_F_MMAPABLE | BPF_F_RDONLY_PROG,
        mapExtra: 0n,
        pinning: 'none',
        btf: this.btf,
        valueType: layout.datasec,
        contents: [],
        data: slabBytes(layout.size),
        dataSection: '.kconfig',
        freeze: true,
        kconfig: layout.vars,
      }),
      'section .kconfig',
    );
    for (const v of layout.vars) {
      this.kconfigOffsets.set(v.name, v.offset);
      this.variables.set(v.name, {
        name: v.name,
        map: mapName,
        offset: v.offset,
        size: v.size,
        type: v.type,
        constant: true,
      });
    }
  }

  private functions(): Func[] {
    const out: Func[] = [];
    for (const sec of this.elf.sections) {
      if (sec.type !== SHT_PROGBITS || (sec.flagBits & SHF_EXECINSTR) === 0 || sec.size === 0)
        continue;
      if (sec.size % INSN_SIZE !== 0)
        throw new ObjectError(`section ${sec.name}: size ${sec.size} is not a multiple of 8`);
      const syms = this.symbolsIn(sec.index).filter((s) => s.type === STT_FUNC);
      // Usually in address order already: check before paying for a sort with a comparator.
      let sorted = true;
      for (let i = 1; i < syms.length; i++) if (syms[i - 1]!.value > syms[i]!.value) sorted = false;
      if (!sorted) syms.sort((a, b) => a.value - b.value);
      if (syms.length === 0) {
        out.push({
          name: sec.name.replace(/[^A-Za-z0-9_]/g, '_'),
          section: sec,
          start: 0,
          end: sec.size,
          global: true,
          base: 0,
          linkId: -1,
        });
        continue;
      }
      syms.forEach((s, i) => {
        const end = s.size > 0 ? s.value + s.size : (syms[i + 1]?.value ?? sec.size);
        if (s.value % INSN_SIZE !== 0 || end > sec.size || end <= s.value) {
          throw new ObjectError(`function ${s.name} in ${sec.name}: bad bounds ${s.value}..${end}`);
        }
        out.push({
          name: s.name,
          section: sec,
          start: s.value,
          end,
          global: s.bind !== STB_LOCAL,
          base: 0,
          linkId: -1,
        });
      });
    }
    return out;
  }

  private readPrograms(): Map<string, ProgramSpec> {
    const funcs = this.functions();
    const code: (SectionCode | undefined)[] = [];
    for (const f of funcs) {
      if (code[f.section.index] === undefined) {
        // A sorted list walked alongside the instructions: building a map of every relocation
        // cost more than the whole link.
        let relocs = this.elf.relocationsFor(f.section.index);
        if (!sortedByOffset(relocs)) relocs = [...relocs].sort((a, b) => a.offset - b.offset);
        code[f.section.index] = { bytes: f.section.data, relocs };
      }
    }
    const programs = new Map<string, ProgramSpec>();
    for (const f of funcs) {
      if (f.section.name === '.text') continue;
      const def = sectionDef(f.section.name);
      if (!def) {
        throw new ObjectError(
          `program ${f.name}: unknown section name "${f.section.name}" (see libbpf's SEC() names)`,
        );
      }
      if (programs.has(f.name)) throw new ObjectError(`program ${f.name} defined twice`);
      try {
        const linked = this.link(f, funcs, code);
        // Field by field: a spread of `linked` here cost more than the rest of the spec.
        const spec = new EncodedProgramSpec({
          name: f.name,
          sectionName: f.section.name,
          type: def.programType,
          attachType: def.attachType,
          attachTo: def.target,
          flags: (def.sleepable ? BPF_F_SLEEPABLE : 0) | (def.xdpFrags ? BPF_F_XDP_HAS_FRAGS : 0),
          license: this.license,
          kernelVersion: this.kernelVersion,
          btf: this.btf,
          code: linked.code,
          references: linked.references,
          funcInfo: linked.funcInfo,
          lineInfo: linked.lineInfo,
          lineInsnOffs: linked.lineInsnOffs,
          coreRelos: linked.coreRelos,
          symbols: linked.symbols,
        });
        programs.set(f.name, spec);
      } catch (err) {
        throw new ObjectError(`program ${f.name}: ${(err as Error).message}`, { cause: err });
      }
    }
    return programs;
  }

  /**
   * Copies a program and every function it calls into one instruction stream (libbpf's
   * reloc_code). The stream is assembled and relocated as bytes in a reused scratch buffer,
   * and func_info/line_info are gathered as the words the kernel takes: no object per
   * instruction or per source line (see EncodedProgramSpec).
   */
  private link(
    entry: Func,
    funcs: Func[],
    code: (SectionCode | undefined)[],
  ): Pick<
    EncodedProgramParts,
    'code' | 'references' | 'funcInfo' | 'lineInfo' | 'lineInsnOffs' | 'coreRelos' | 'symbols'
  > {
    let out = linkScratch;
    let words = linkWords;
    let n = 0; // slots placed so far
    const references: Reference[] = [];
    const funcInfo: number[] = [];
    const lineInfo: number[] = [];
    const lineInsnOffs: number[] = [];
    const coreRelos: ProgramSpec['coreRelos'] = [];
    const symbols = new Map<number, string>();
    // Functions placed by this link carry its id (no map from function to slot per program).
    const linkId = ++this.links;
    const queue: Func[] = [];
    const calls: { slot: number; target: Func; targetSlot: number }[] = [];
    const ext = this.ext;
    // Records are appended function by function; a function placed after one that starts
    // later (a callee) leaves them out of slot order, and the kernel wants them sorted.
    let fiSorted = true;
    let liSorted = true;

    const funcAt = (sec: ElfSection, byteOff: number): Func => {
      for (const g of funcs)
        if (g.section === sec && byteOff >= g.start && byteOff < g.end) return g;
      throw new ObjectError(`call target ${sec.name}+${byteOff} is not inside any function`);
    };
    // Appends a function's instruction bytes and the .BTF.ext records that fall inside it.
    const place = (f: Func): number => {
      if (f.linkId === linkId) return f.base;
      const base = n;
      f.linkId = linkId;
      f.base = base;
      queue.push(f);
      const size = f.end - f.start;
      if (base * INSN_SIZE + size > out.byteLength) {
        const bigger = new Uint8Array(Math.max(out.byteLength * 2, base * INSN_SIZE + size));
        bigger.set(out.subarray(0, base * INSN_SIZE));
        out = bigger;
        words = new Int32Array(bigger.buffer);
        if (bigger.byteLength <= KEEP_SCRATCH) {
          linkScratch = bigger;
          linkWords = words;
        }
      }
      out.set(code[f.section.index]!.bytes.subarray(f.start, f.end), base * INSN_SIZE);
      n += size / INSN_SIZE;
      symbols.set(base, f.name);
      if (ext === undefined) return base;
      const secName = f.section.name;
      const { start, end } = f;
      const { dv } = ext;
      // Records of [start, end) as kernel words, the instruction offset turned into a slot.
      recordsIn(dv, ext.funcInfo.get(secName), start, end, (q, off) => {
        const slot = base + (off - start) / INSN_SIZE;
        if (funcInfo.length > 0 && funcInfo[funcInfo.length - 2]! > slot) fiSorted = false;
        funcInfo.push(slot, dv.getUint32(q + 4, true));
      });
      recordsIn(dv, ext.lineInfo.get(secName), start, end, (q, off) => {
        const slot = base + (off - start) / INSN_SIZE;
        if (lineInfo.length > 0 && lineInfo[lineInfo.length - 4]! > slot) liSorted = false;
        lineInfo.push(
          slot,
          dv.getInt32(q + 4, true),
          dv.getInt32(q + 8, true),
          dv.getInt32(q + 12, true),
        );
        lineInsnOffs.push(off);
      });
      const crs = ext.coreRelos.get(secName);
      if (crs !== undefined) {
        for (const cr of crs) {
          if (cr.insnOff >= start && cr.insnOff < end)
            coreRelos.push({ slot: base + (cr.insnOff - start) / INSN_SIZE, relo: cr });
        }
      }
      return base;
    };

    place(entry);
    let f: Func | undefined;
    while ((f = queue.shift()) !== undefined) {
      const base = f.base;
      const relocs = code[f.section.index]!.relocs;
      const count = (f.end - f.start) / INSN_SIZE;
      let ri = relocs.length === 0 ? 0 : firstAtOrAfter(relocs, f.start);
      for (let i = 0; i < count; i++) {
        const slot = base + i;
        const o = slot * INSN_SIZE;
        const byteOff = f.start + i * INSN_SIZE;
        let rel: ElfRelocation | undefined;
        while (ri < relocs.length && relocs[ri]!.offset < byteOff) ri++;
        if (ri < relocs.length && relocs[ri]!.offset === byteOff) {
          while (ri + 1 < relocs.length && relocs[ri + 1]!.offset === byteOff) ri++;
          rel = relocs[ri];
        }
        if (rel) {
          const call = this.applyRelocation(rel, out, slot, n, references);
          if (call !== undefined) {
            const target = funcAt(call.section, call.offset);
            place(target);
            calls.push({ slot, target, targetSlot: (call.offset - target.start) / INSN_SIZE });
          }
        } else if (out[o] === OP_CALL && out[o + 1]! >> 4 === PSEUDO_CALL) {
          // A call inside the same section needs no relocation: the offset is already relative.
          const targetOff = byteOff + (readInsnImm(out, o) + 1) * INSN_SIZE;
          const target = funcAt(f.section, targetOff);
          place(target);
          calls.push({ slot, target, targetSlot: (targetOff - target.start) / INSN_SIZE });
        }
        if (out[o] === OP_LD_IMM64) i++;
      }
    }
    for (const c of calls) {
      writeInsnImm(out, c.slot * INSN_SIZE, c.target.base + c.targetSlot - (c.slot + 1));
    }
    if (!fiSorted) sortRecords(funcInfo, 2);
    if (!liSorted) sortRecords(lineInfo, 4, lineInsnOffs);
    const linked = new Array<number>(n * 2);
    for (let i = 0; i < linked.length; i++) linked[i] = words[i]!;
    return { code: linked, references, funcInfo, lineInfo, lineInsnOffs, coreRelos, symbols };
  }

  /**
   * Applies one relocation to the instruction at `slot` of `insns` (encoded bytes, `n` slots
   * placed so far); returns the code location a call or function pointer refers to.
   */
  private applyRelocation(
    rel: ElfRelocation,
    insns: Uint8Array,
    slot: number,
    n: number,
    references: Reference[],
  ): { section: ElfSection; offset: number } | undefined {
    const sym = rel.symbol;
    const o = slot * INSN_SIZE;
    const opcode = insns[o]!;
    const imm = readInsnImm(insns, o);
    const where = (): string =>
      `relocation at insn ${slot} against ${sym.name || `section symbol ${sym.sectionIndex}`}`;
    if (sym.sectionIndex === SHN_UNDEF) {
      // An extern: kconfig variable, ksym or kfunc.
      if (opcode === OP_CALL) {
        writeInsnSrc(insns, o, PSEUDO_KFUNC_CALL);
        references.push({ slot, kind: 'kfunc', name: sym.name });
        return undefined;
      }
      if (opcode !== OP_LD_IMM64)
        throw new ObjectError(`${where()}: extern used by a non-ld_imm64 instruction`);
      const off = this.kconfigOffsets.get(sym.name);
      if (off !== undefined && this.kconfigMap) {
        references.push({ slot, kind: 'map_value', map: this.kconfigMap, offset: off + imm });
        return undefined;
      }
      references.push({ slot, kind: 'ksym', name: sym.name });
      return undefined;
    }
    const sec = this.elf.sections[sym.sectionIndex];
    if (!sec) throw new ObjectError(`${where()}: symbol in missing section ${sym.sectionIndex}`);
    if ((sec.flagBits & SHF_EXECINSTR) !== 0) {
      if (opcode === OP_CALL && insns[o + 1]! >> 4 === PSEUDO_CALL) {
        return { section: sec, offset: sym.value + (imm + 1) * INSN_SIZE };
      }
      if (opcode === OP_LD_IMM64) {
        // A function pointer (callbacks for bpf_loop, bpf_for_each_map_elem, ...).
        writeInsnSrc(insns, o, PSEUDO_FUNC);
        return { section: sec, offset: sym.value + imm };
      }
      throw new ObjectError(
        `${where()}: unexpected instruction 0x${opcode.toString(16)} referring to code`,
      );
    }
    if (opcode !== OP_LD_IMM64)
      throw new ObjectError(
        `${where()}: only ld_imm64 may refer to maps or data (opcode 0x${opcode.toString(16)})`,
      );
    if (slot + 1 >= n) throw new ObjectError(`${where()}: truncated ld_imm64`);
    if (sec.name === '.maps' || sec.name === 'maps' || sec.name.startsWith('maps/')) {
      const map = sym.type === STT_SECTION ? undefined : this.maps.get(sym.name);
      if (!map) throw new ObjectError(`${where()}: no map named ${sym.name}`);
      references.push({ slot, kind: 'map', map: map.name });
      return undefined;
    }
    const dataMap = this.dataMaps[sec.index];
    if (dataMap) {
      const offset = (sym.type === STT_SECTION ? 0 : sym.value) + imm;
      references.push({ slot, kind: 'map_value', map: dataMap, offset });
      return undefined;
    }
    throw new ObjectError(
      `${where()}: refers to section ${sec.name}, which is neither a map nor global data`,
    );
  }

  /** Static initialisers of prog arrays and maps of maps: relocations inside `.maps`. */
  private readMapContents(programs: Map<string, ProgramSpec>): void {
    const sec = this.elf.sectionByName('.maps');
    if (!sec) return;
    const rels = this.elf.relocationsFor(sec.index);
    if (rels.length === 0) return;
    const starts = this.elf.symbols
      .filter(
        (s) => s.sectionIndex === sec.index && s.type !== STT_SECTION && this.maps.has(s.name),
      )
      .map((s) => ({
        map: this.maps.get(s.name)!,
        start: s.value,
        valuesOff: this.valuesOffsets.get(s.name),
      }));
    for (const r of rels) {
      const owner = starts.filter((s) => s.start <= r.offset).sort((a, b) => b.start - a.start)[0];
      if (!owner || owner.valuesOff === undefined)
        throw new ObjectError(`.maps: relocation at ${r.offset} is not inside a map's values`);
      const key = (r.offset - owner.start - owner.valuesOff) / 8;
      if (!Number.isInteger(key) || key < 0 || key >= owner.map.maxEntries) {
        throw new ObjectError(
          `map ${owner.map.name}: static value at index ${key} is out of range (max_entries ${owner.map.maxEntries})`,
        );
      }
      const target = r.symbol.name;
      if (owner.map.type === MapType.ProgArray) {
        if (!programs.has(target))
          throw new ObjectError(
            `map ${owner.map.name}: slot ${key} refers to unknown program ${target}`,
          );
        owner.map.contents.push({ key, program: target });
      } else {
        if (!this.maps.has(target))
          throw new ObjectError(
            `map ${owner.map.name}: slot ${key} refers to unknown map ${target}`,
          );
        owner.map.contents.push({ key, map: target });
      }
    }
  }
}

const mapNames = new Map<string, string>();

/** libbpf's name for a global-data map: a prefix of the object name plus the section name. */
export function internalMapName(objName: string, section: string): string {
  // Three regex passes per data section on every load, for the same few names: remembered.
  const key = `${objName}\0${section}`;
  let name = mapNames.get(key);
  if (name === undefined) {
    const sfx = section.replace(/[^A-Za-z0-9_.]/g, '_');
    const pfxLen = Math.max(0, Math.min(8, 15 - sfx.length));
    const pfx = objName.replace(/[^A-Za-z0-9_]/g, '_').slice(0, pfxLen);
    name = (pfx + sfx).slice(0, 15);
    if (mapNames.size >= 1024) mapNames.clear();
    mapNames.set(key, name);
  }
  return name;
}
