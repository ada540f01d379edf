/**
 * Specs: pure descriptions of maps and programs parsed from an object file, before anything
 * touches the kernel. A {@link CollectionSpec} becomes live objects in one explicit step
 * (`Collection.load`), as in cilium/ebpf.
 */
import type { RawInsn } from './asm/raw.js';
import type { Btf } from './btf/btf.js';
import type { CoreRelo, LineInfo } from './btf/ext.js';
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
