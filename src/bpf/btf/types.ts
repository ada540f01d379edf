/**
 * The BTF type model. A type's id is its index in {@link Btf.types}; id 0 is void. Kinds and
 * field meanings follow include/uapi/linux/btf.h.
 */

/** BTF kind numbers (BTF_KIND_*). */
export enum BtfKind {
  Void = 0,
  Int = 1,
  Ptr = 2,
  Array = 3,
  Struct = 4,
  Union = 5,
  Enum = 6,
  Fwd = 7,
  Typedef = 8,
  Volatile = 9,
  Const = 10,
  Restrict = 11,
  Func = 12,
  FuncProto = 13,
  Var = 14,
  Datasec = 15,
  Float = 16,
  DeclTag = 17,
  TypeTag = 18,
  Enum64 = 19,
}

/** A struct or union member. `bitOffset` counts from the start of the aggregate. */
export interface BtfMember {
  name: string;
  type: number;
  bitOffset: number;
  /** Non-zero for a bitfield (kind_flag set). */
  bitfieldSize: number;
}

/** One enumerator. */
export interface BtfEnumValue {
  name: string;
  value: bigint;
}

/** A function parameter. */
export interface BtfParam {
  name: string;
  type: number;
}

/** A variable placed in a data section. */
export interface BtfVarSecinfo {
  type: number;
  offset: number;
  size: number;
}

/** A BTF type, discriminated by `kind`. */
export type BtfType =
  | { kind: BtfKind.Void; name: '' }
  | {
      kind: BtfKind.Int;
      name: string;
      size: number;
      signed: boolean;
      char: boolean;
      bool: boolean;
      bits: number;
      bitOffset: number;
    }
  | { kind: BtfKind.Ptr; name: ''; type: number }
  | { kind: BtfKind.Array; name: ''; type: number; indexType: number; nelems: number }
  | { kind: BtfKind.Struct | BtfKind.Union; name: string; size: number; members: BtfMember[] }
  | {
      kind: BtfKind.Enum | BtfKind.Enum64;
      name: string;
      size: number;
      signed: boolean;
      values: BtfEnumValue[];
    }
  | { kind: BtfKind.Fwd; name: string; union: boolean }
  | {
      kind: BtfKind.Typedef | BtfKind.Volatile | BtfKind.Const | BtfKind.Restrict | BtfKind.TypeTag;
      name: string;
      type: number;
    }
  | { kind: BtfKind.Func; name: string; type: number; linkage: number }
  | { kind: BtfKind.FuncProto; name: ''; returnType: number; params: BtfParam[] }
  | { kind: BtfKind.Var; name: string; type: number; linkage: number }
  | { kind: BtfKind.Datasec; name: string; size: number; vars: BtfVarSecinfo[] }
  | { kind: BtfKind.Float; name: string; size: number }
  | { kind: BtfKind.DeclTag; name: string; type: number; componentIdx: number };
