/**
 * Specs: pure descriptions of maps and programs parsed from an object file, before anything
 * touches the kernel. A {@link CollectionSpec} becomes live objects in one explicit step
 * (`Collection.load`), as in cilium/ebpf.
 */
import { decodeWords, type RawInsn } from './asm/raw.js';
import type { Btf } from './btf/btf.js';
import { lineInfo4, type CoreRelo, type LineInfo } from './btf/ext.js';
import type { AttachType, MapType, ProgramType } from './types.js';

/** How a map is pinned, from the BTF `pinning` attribute (LIBBPF_PIN_*). */
export type PinType = 'none' | 'by_name';

/** A static initial entry of a map: a program (prog arrays), a map (map-in-map) or raw bytes. */
export type MapContent =
  | { key: number; program: string }
  | { key: number; map: string }
  | { key: Uint8Array; value: Uint8Array };

/** A map as declared in an object. */
export interface MapSpec {
  /** The name used for the kernel object, pins and lookups. */
  name: string;
  type: MapType;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  mapExtra: bigint;
  numaNode?: number;
  pinning: PinType;
  /** BTF and the ids of the key and value types, when declared through BTF. */
  btf?: Btf;
  keyType?: number;
  valueType?: number;
  /** The template of inner maps, for map-in-map types. */
  innerMap?: MapSpec;
  /** Entries written right after creation. */
  contents: MapContent[];
  /** For global-data maps (.data, .rodata, .bss, .kconfig): the section's initial bytes. */
  data?: Uint8Array;
  /** The ELF section a global-data map came from. */
  dataSection?: string;
  /** Freeze after initialisation (.rodata, .kconfig). */
  freeze: boolean;
  /** For the .kconfig map: the externs to fill from the running kernel at load time. */
  kconfig?: { name: string; type: number; offset: number; size: number; weak: boolean }[];
}

/**
 * A MapSpec with every field present, in one order: specs of every origin (BTF, legacy,
 * global data) then share one object shape, which keeps the loader's reads of them fast.
 */
export function mapSpec(
  init: Pick<MapSpec, 'name' | 'type' | 'keySize' | 'valueSize' | 'maxEntries'> & Partial<MapSpec>,
): MapSpec {
  return {
    name: init.name,
    type: init.type,
    keySize: init.keySize,
    valueSize: init.valueSize,
    maxEntries: init.maxEntries,
    flags: init.flags ?? 0,
    mapExtra: init.mapExtra ?? 0n,
    numaNode: init.numaNode,
    pinning: init.pinning ?? 'none',
    btf: init.btf,
    keyType: init.keyType,
    valueType: init.valueType,
    innerMap: init.innerMap,
    contents: init.contents ?? [],
    data: init.data,
    dataSection: init.dataSection,
    freeze: init.freeze ?? false,
    kconfig: init.kconfig,
  };
}

/** A variable in a global-data section, settable before load and live after. */
export interface VariableSpec {
  name: string;
  /** The map backing the section. */
  map: string;
  offset: number;
  size: number;
  /** BTF type of the variable. */
  type?: number;
  /** Read-only to programs once loaded (.rodata): set only before load. */
  constant: boolean;
}

/** A reference from an instruction slot to something resolved at load time. */
export type Reference =
  | { slot: number; kind: 'map'; map: string }
  | { slot: number; kind: 'map_value'; map: string; offset: number }
  | { slot: number; kind: 'kfunc'; name: string }
  | { slot: number; kind: 'ksym'; name: string };

/** A program as declared in an object, with its subprograms already linked in. */
export interface ProgramSpec {
  /** Function name of the entry point. */
  name: string;
  /** The ELF section, e.g. "xdp" or "tracepoint/syscalls/sys_enter_openat". */
  sectionName: string;
  type: ProgramType;
  attachType?: AttachType;
  /** What to attach to, from the section name (e.g. "sched_process_exec" for tp_btf). */
  attachTo: string;
  /** Load flags (BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS). */
  flags: number;
  license: string;
  kernelVersion: number;
  /** Instruction slots, entry point first, called subprograms appended. */
  insns: RawInsn[];
  references: Reference[];
  /** Function-start slots with their BTF FUNC ids (for func_info). */
  funcInfo: { slot: number; typeId: number }[];
  /** Source lines by slot (for line_info and error messages). */
  lineInfo: (LineInfo & { slot: number })[];
  /** CO-RE relocations by slot. */
  coreRelos: { slot: number; relo: CoreRelo }[];
  /** Function names starting at each slot (entry point and subprograms), for disassembly. */
  symbols: Map<number, string>;
  btf?: Btf;
}

/**
 * What {@link EncodedProgramSpec} is made from: a ProgramSpec whose instructions, func_info and
 * line_info are words as the kernel takes them (32-bit, held as signed numbers in plain
 * arrays, which cost far less to make than typed arrays or an object each).
 */
export interface EncodedProgramParts extends Omit<ProgramSpec, 'insns' | 'funcInfo' | 'lineInfo'> {
  /** `struct bpf_insn` slots, two words each. */
  code: number[];
  /** `struct bpf_func_info`: (slot, type id) pairs. */
  funcInfo: number[];
  /** `struct bpf_line_info`: (slot, file_name_off, line_off, line_col) quadruples. */
  lineInfo: number[];
  /** For each line_info record, its byte offset within the ELF section. */
  lineInsnOffs: number[];
}

/**
 * The ProgramSpec the ELF reader makes. Instructions, func_info and line_info stay words until
 * someone reads `insns`, `funcInfo` or `lineInfo`: loading straight from an object file then
 * makes no object per instruction or source line (most of what a parse allocated, and the
 * allocation, more than the work, is what a load paid for). Reading one of them hands out an
 * ordinary array that is from then on the truth (edit it freely; the loader encodes it), as
 * with a plain ProgramSpec; {@link encoded} gives the words while they still are.
 */
export class EncodedProgramSpec implements ProgramSpec {
  name: string;
  sectionName: string;
  type: ProgramType;
  attachType?: AttachType;
  attachTo: string;
  flags: number;
  license: string;
  kernelVersion: number;
  references: Reference[];
  coreRelos: { slot: number; relo: CoreRelo }[];
  symbols: Map<number, string>;
  btf?: Btf;
  private code: number[] | undefined;
  private insnObjects: RawInsn[] | undefined;
  private fiWords: number[] | undefined;
  private fiObjects: { slot: number; typeId: number }[] | undefined;
  private liWords: number[] | undefined;
  private liObjects: (LineInfo & { slot: number })[] | undefined;
  private readonly lineInsnOffs: number[];

  constructor(parts: EncodedProgramParts) {
    this.name = parts.name;
    this.sectionName = parts.sectionName;
    this.type = parts.type;
    this.attachType = parts.attachType;
    this.attachTo = parts.attachTo;
    this.flags = parts.flags;
    this.license = parts.license;
    this.kernelVersion = parts.kernelVersion;
    this.references = parts.references;
    this.coreRelos = parts.coreRelos;
    this.symbols = parts.symbols;
    this.btf = parts.btf;
    this.code = parts.code;
    this.fiWords = parts.funcInfo;
    this.liWords = parts.lineInfo;
    this.lineInsnOffs = parts.lineInsnOffs;
  }

  get insns(): RawInsn[] {
    if (this.insnObjects === undefined) {
      this.insnObjects = decodeWords(this.code!);
      this.code = undefined;
    }
    return this.insnObjects;
  }
  set insns(v: RawInsn[]) {
    this.insnObjects = v;
    this.code = undefined;
  }

  get funcInfo(): { slot: number; typeId: number }[] {
    if (this.fiObjects === undefined) {
      const w = this.fiWords!;
      const list: { slot: number; typeId: number }[] = [];
      for (let i = 0; i < w.length; i += 2) list.push({ slot: w[i]!, typeId: w[i + 1]! });
      this.fiObjects = list;
      this.fiWords = undefined;
    }
    return this.fiObjects;
  }
  set funcInfo(v: { slot: number; typeId: number }[]) {
    this.fiObjects = v;
    this.fiWords = undefined;
  }

  get lineInfo(): (LineInfo & { slot: number })[] {
    if (this.liObjects === undefined) {
      const w = this.liWords!;
      const list: (LineInfo & { slot: number })[] = [];
      for (let i = 0, r = 0; i < w.length; i += 4, r++) {
        // Records exist only with BTF: the reader makes none without it.
        const li = lineInfo4(this.lineInsnOffs[r]!, w[i + 1]!, w[i + 2]!, w[i + 3]!, this.btf!);
        list.push({ ...li, slot: w[i]! });
      }
      this.liObjects = list;
      this.liWords = undefined;
    }
    return this.liObjects;
  }
  set lineInfo(v: (LineInfo & { slot: number })[]) {
    this.liObjects = v;
    this.liWords = undefined;
  }

  /**
   * The words of the parts nobody has asked for as objects yet (undefined for those that
   * were): instruction words (two per slot), func_info pairs, line_info quadruples.
   */
  encoded(): { code?: number[]; funcInfo?: number[]; lineInfo?: number[] } {
    return { code: this.code, funcInfo: this.fiWords, lineInfo: this.liWords };
  }

  /** A plain ProgramSpec (JSON has no getters). */
  toJSON(): ProgramSpec {
    return {
      name: this.name,
      sectionName: this.sectionName,
      type: this.type,
      attachType: this.attachType,
      attachTo: this.attachTo,
      flags: this.flags,
      license: this.license,
      kernelVersion: this.kernelVersion,
      insns: this.insns,
      references: this.references,
      funcInfo: this.funcInfo,
      lineInfo: this.lineInfo,
      coreRelos: this.coreRelos,
      symbols: this.symbols,
      btf: this.btf,
    };
  }
}

/** Everything in one object file. */
export interface CollectionSpec {
  /** A short name for the object (the file name without .o / .bpf.o). */
  name: string;
  maps: Map<string, MapSpec>;
  programs: Map<string, ProgramSpec>;
  variables: Map<string, VariableSpec>;
  btf?: Btf;
  license: string;
  kernelVersion: number;
}
