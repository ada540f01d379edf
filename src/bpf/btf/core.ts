/**
 * CO-RE (compile once, run everywhere) relocations: recompute field offsets, sizes, type ids
 * and enum values against the target kernel's BTF and patch the instructions. The algorithm
 * follows libbpf's relo_core.c: candidates are target types whose essential name (flavor
 * suffix `___x` stripped) equals the local one; each candidate is matched along the access
 * string; all matching candidates must agree; no match poisons the instruction so the verifier
 * rejects it only if it is reachable.
 */
import type { RawInsn } from '../asm/raw.js';
import { OP_LD_IMM64 } from '../asm/raw.js';
import { Btf, BtfError, essentialName } from './btf.js';
import { CoreReloKind } from './core-kind.js';
import type { CoreRelo } from './ext.js';
import { BtfKind, type BtfType } from './types.js';

export { CoreReloKind } from './core-kind.js';

/** The helper id libbpf writes into a poisoned instruction (`call 0xbad2310`, "bad relo"). */
export const CORE_POISON_IMM = 0xbad2310;

/** What one relocation did, for diagnostics. */
export interface CoreFixup {
  /** Instruction slot patched. */
  slot: number;
  kind: CoreReloKind;
  /** The local type and access, e.g. `struct task_struct.pid`. */
  local: string;
  /** The matched target type and access, when a candidate matched. */
  target?: string;
  /** The value written (0 when poisoned). */
  value: bigint;
  /** True when the instruction was replaced by an invalid call because nothing matched. */
  poisoned: boolean;
}

/** Max accessors in a spec (libbpf's BPF_CORE_SPEC_MAX_LEN). */
const SPEC_MAX_LEN = 64;
const MAX_DEPTH = 32;

interface Accessor {
  /** For a named field: the containing composite's id; for an array index: the element type id. */
  typeId: number;
  idx: number;
  name?: string;
}

interface Spec {
  btf: Btf;
  rootTypeId: number;
  kind: CoreReloKind;
  /** Named-field and array accessors (anonymous members skipped). */
  spec: Accessor[];
  /** Raw access indices, anonymous members included. */
  raw: number[];
  bitOffset: number;
}

interface CalcResult {
  origVal: bigint;
  newVal: bigint;
  poison: boolean;
  validate: boolean;
  failMemszAdjust: boolean;
  origSz: number;
  newSz: number;
  origTypeId: number;
  newTypeId: number;
}

const isFieldBased = (k: CoreReloKind): boolean => k <= CoreReloKind.FieldRShiftU64;
const isTypeBased = (k: CoreReloKind): boolean =>
  k === CoreReloKind.TypeIdLocal ||
  k === CoreReloKind.TypeIdTarget ||
  k === CoreReloKind.TypeExists ||
  k === CoreReloKind.TypeSize ||
  k === CoreReloKind.TypeMatches;
const isEnumvalBased = (k: CoreReloKind): boolean =>
  k === CoreReloKind.EnumvalExists || k === CoreReloKind.EnumvalValue;

const isComposite = (t: BtfType): t is Extract<BtfType, { kind: BtfKind.Struct | BtfKind.Union }> =>
  t.kind === BtfKind.Struct || t.kind === BtfKind.Union;
const isAnyEnum = (t: BtfType): t is Extract<BtfType, { kind: BtfKind.Enum | BtfKind.Enum64 }> =>
  t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64;

/** Same kind, or both enums of either width (libbpf's btf_kind_core_compat). */
function kindsCompat(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));
}

/** Thrown internally to request poisoning (libbpf's -EUCLEAN). */
class Poison {}

/** Skips modifiers and typedefs; returns [id, type]. */
function skipMods(btf: Btf, id: number): [number, BtfType] {
  const r = btf.resolve(id);
  return [r, btf.type(r)];
}

function namesMatch(a: string, b: string): boolean {
  if (b === '') return a === '';
  return essentialName(a) === essentialName(b);
}

function parseAccessString(s: string, where: string): number[] {
  if (s === '' || s.startsWith(':') || !/^\d+(:\d+)*$/.test(s)) {
    throw new BtfError(`${where}: malformed access string "${s}"`);
  }
  const raw = s.split(':').map((x) => Number(x));
  if (raw.length > SPEC_MAX_LEN) throw new BtfError(`${where}: access string "${s}" too long`);
  for (const x of raw) {
    if (!Number.isSafeInteger(x) || x > 0x7fffffff)
      throw new BtfError(`${where}: access index ${x} too large`);
  }
  return raw;
}

function isFlexArray(btf: Btf, parent: Accessor | undefined, nelems: number): boolean {
  if (!parent || !parent.name || nelems > 0) return false;
  const t = btf.type(parent.typeId);
  return isComposite(t) && parent.idx === t.members.length - 1;
}

/** Parses a relocation's access string against the local BTF (libbpf's bpf_core_parse_spec). */
function parseSpec(btf: Btf, relo: CoreRelo, where: string): Spec {
  const raw = parseAccessString(relo.accessStr, where);
  const spec: Spec = { btf, rootTypeId: relo.typeId, kind: relo.kind, spec: [], raw, bitOffset: 0 };
  if (isTypeBased(relo.kind)) {
    if (relo.accessStr !== '0') {
      throw new BtfError(
        `${where}: type-based relocation needs access string "0", got "${relo.accessStr}"`,
      );
    }
    return spec;
  }
  let [id, t] = skipMods(btf, relo.typeId);
  spec.spec.push({ typeId: id, idx: raw[0] });
  if (isEnumvalBased(relo.kind)) {
    if (!isAnyEnum(t) || raw.length > 1 || raw[0] >= t.values.length) {
      throw new BtfError(
        `${where}: enum relocation access "${relo.accessStr}" does not name an enumerator`,
      );
    }
    spec.spec[0].name = t.values[raw[0]].name;
    return spec;
  }
  if (!isFieldBased(relo.kind))
    throw new BtfError(`${where}: unknown relocation kind ${relo.kind}`);
  spec.bitOffset = raw[0] * btf.sizeof(id) * 8;
  for (let i = 1; i < raw.length; i++) {
    [id, t] = skipMods(btf, id);
    const idx = raw[i];
    if (isComposite(t)) {
      if (idx >= t.members.length) {
        throw new BtfError(
          `${where}: access "${relo.accessStr}": member ${idx} out of range in ${btf.typeName(id)}`,
        );
      }
      const m = t.members[idx];
      spec.bitOffset += m.bitOffset;
      if (m.name !== '') spec.spec.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === BtfKind.Array) {
      const [elem] = skipMods(btf, t.type);
      const flex = isFlexArray(btf, spec.spec[spec.spec.length - 1], t.nelems);
      if (!flex && idx >= t.nelems) {
        throw new BtfError(
          `${where}: access "${relo.accessStr}": index ${idx} out of bounds of ${btf.typeName(id)}`,
        );
      }
      spec.spec.push({ typeId: elem, idx });
      spec.bitOffset += idx * btf.sizeof(elem) * 8;
      id = elem;
    } else {
      throw new BtfError(
        `${where}: access "${relo.accessStr}" step ${i} reaches ${btf.typeName(id)}, neither struct, union nor array`,
      );
    }
  }
  return spec;
}

/** libbpf's bpf_core_fields_are_compat. */
function fieldsCompat(lb: Btf, lid: number, tb: Btf, tid: number): boolean {
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const [, lt] = skipMods(lb, lid);
    const [, tt] = skipMods(tb, tid);
    if (isComposite(lt) && isComposite(tt)) return true;
    if (!kindsCompat(lt, tt)) return false;
    switch (lt.kind) {
      case BtfKind.Ptr:
      case BtfKind.Float:
        return true;
      case BtfKind.Fwd:
      case BtfKind.Enum:
      case BtfKind.Enum64: {
        const ln = essentialName(lt.name);
        const tn = essentialName(tt.name);
        return ln === '' || tn === '' || ln === tn;
      }
      case BtfKind.Int:
        return lt.bitOffset === 0 && (tt as { bitOffset: number }).bitOffset === 0;
      case BtfKind.Array:
        lid = lt.type;
        tid = (tt as { type: number }).type;
        continue;
      default:
        return false;
    }
  }
  throw new BtfError('CO-RE: field type nesting too deep');
}

/** libbpf's bpf_core_types_are_compat. */
function typesCompat(lb: Btf, lid: number, tb: Btf, tid: number, level = MAX_DEPTH): boolean {
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const [, lt] = skipMods(lb, lid);
    const [, tt] = skipMods(tb, tid);
    if (!kindsCompat(lt, tt)) return false;
    switch (lt.kind) {
      case BtfKind.Void:
      case BtfKind.Struct:
      case BtfKind.Union:
      case BtfKind.Enum:
      case BtfKind.Enum64:
      case BtfKind.Fwd:
        return true;
      case BtfKind.Int:
        return lt.bitOffset === 0 && (tt as { bitOffset: number }).bitOffset === 0;
      case BtfKind.Ptr:
      case BtfKind.Array:
        lid = lt.type;
        tid = (tt as { type: number }).type;
        continue;
      case BtfKind.FuncProto: {
        const tp = tt as Extract<BtfType, { kind: BtfKind.FuncProto }>;
        if (lt.params.length !== tp.params.length) return false;
        if (level <= 0) throw new BtfError('CO-RE: func_proto nesting too deep');
        for (let i = 0; i < lt.params.length; i++) {
          if (!typesCompat(lb, lt.params[i].type, tb, tp.params[i].type, level - 1)) return false;
        }
        lid = lt.returnType;
        tid = tp.returnType;
        continue;
      }
      default:
        return false;
    }
  }
  throw new BtfError('CO-RE: type nesting too deep');
}

/** libbpf's __bpf_core_types_match (the stricter TYPE_MATCHES relation). */
function typesMatch(
  lb: Btf,
  lid: number,
  tb: Btf,
  tid: number,
  behindPtr: boolean,
  level: number,
): boolean {
  if (level <= 0) throw new BtfError('CO-RE: type nesting too deep');
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const [, lt] = skipMods(lb, lid);
    const [, tt] = skipMods(tb, tid);
    if (!namesMatch(lt.name, tt.name)) return false;
    switch (lt.kind) {
      case BtfKind.Void:
        return tt.kind === BtfKind.Void;
      case BtfKind.Fwd:
        if (behindPtr) {
          if (tt.kind === BtfKind.Fwd) return lt.union === tt.union;
          return (
            (tt.kind === BtfKind.Struct && !lt.union) || (tt.kind === BtfKind.Union && lt.union)
          );
        }
        return tt.kind === BtfKind.Fwd && lt.union === tt.union;
      case BtfKind.Enum:
      case BtfKind.Enum64: {
        if (!isAnyEnum(tt) || lt.size !== tt.size) return false;
        return lt.values.every((lv) => tt.values.some((tv) => namesMatch(lv.name, tv.name)));
      }
      case BtfKind.Struct:
      case BtfKind.Union: {
        if (behindPtr) {
          if (tt.kind === lt.kind) return true;
          if (tt.kind !== BtfKind.Fwd) return false;
          return (lt.kind === BtfKind.Union) === tt.union;
        }
        if (tt.kind !== lt.kind) return false;
        if (lt.members.length > tt.members.length) return false;
        return lt.members.every((lm) =>
          tt.members.some(
            (tm) =>
              namesMatch(lm.name, tm.name) &&
              typesMatch(lb, lm.type, tb, tm.type, behindPtr, level - 1),
          ),
        );
      }
      case BtfKind.Int:
        return tt.kind === BtfKind.Int && lt.size === tt.size && lt.signed === tt.signed;
      case BtfKind.Ptr:
        if (tt.kind !== BtfKind.Ptr) return false;
        behindPtr = true;
        lid = lt.type;
        tid = tt.type;
        continue;
      case BtfKind.Array:
        if (tt.kind !== BtfKind.Array || lt.nelems !== tt.nelems) return false;
        lid = lt.type;
        tid = tt.type;
        continue;
      case BtfKind.FuncProto: {
        if (tt.kind !== BtfKind.FuncProto || lt.params.length !== tt.params.length) return false;
        for (let i = 0; i < lt.params.length; i++) {
          if (!typesMatch(lb, lt.params[i].type, tb, tt.params[i].type, behindPtr, level - 1))
            return false;
        }
        lid = lt.returnType;
        tid = tt.returnType;
        continue;
      }
      default:
        return false;
    }
  }
  throw new BtfError('CO-RE: type nesting too deep');
}

/** Finds the local member among the target's members, descending into anonymous ones. */
function matchMember(
  lb: Btf,
  lacc: Accessor,
  tb: Btf,
  targId: number,
  spec: Spec,
): { found: boolean; nextId: number } {
  const [tid, tt] = skipMods(tb, targId);
  if (!isComposite(tt)) return { found: false, nextId: 0 };
  const lt = lb.type(lacc.typeId) as Extract<BtfType, { kind: BtfKind.Struct | BtfKind.Union }>;
  const lm = lt.members[lacc.idx];
  for (let i = 0; i < tt.members.length; i++) {
    const m = tt.members[i];
    if (spec.raw.length >= SPEC_MAX_LEN)
      throw new BtfError('CO-RE: struct/union/array nesting too deep');
    spec.bitOffset += m.bitOffset;
    spec.raw.push(i);
    if (m.name === '') {
      const r = matchMember(lb, lacc, tb, m.type, spec);
      if (r.found) return r;
    } else if (m.name === lm.name) {
      if (!fieldsCompat(lb, lm.type, tb, m.type)) {
        spec.bitOffset -= m.bitOffset;
        spec.raw.pop();
        return { found: false, nextId: 0 };
      }
      spec.spec.push({ typeId: tid, idx: i, name: m.name });
      return { found: true, nextId: m.type };
    }
    spec.bitOffset -= m.bitOffset;
    spec.raw.pop();
  }
  return { found: false, nextId: 0 };
}

/** Matches the local spec against one candidate (libbpf's bpf_core_spec_match). */
function specMatch(local: Spec, tb: Btf, targId: number): Spec | undefined {
  const targ: Spec = {
    btf: tb,
    rootTypeId: targId,
    kind: local.kind,
    spec: [],
    raw: [],
    bitOffset: 0,
  };
  if (isTypeBased(local.kind)) {
    const ok =
      local.kind === CoreReloKind.TypeMatches
        ? typesMatch(local.btf, local.rootTypeId, tb, targId, false, MAX_DEPTH)
        : typesCompat(local.btf, local.rootTypeId, tb, targId);
    return ok ? targ : undefined;
  }
  if (isEnumvalBased(local.kind)) {
    const [eid, et] = skipMods(tb, targId);
    if (!isAnyEnum(et)) return undefined;
    const want = essentialName(local.spec[0].name ?? '');
    for (let i = 0; i < et.values.length; i++) {
      if (essentialName(et.values[i].name) === want) {
        targ.spec.push({ typeId: eid, idx: i, name: et.values[i].name });
        targ.raw.push(i);
        return targ;
      }
    }
    return undefined;
  }
  let tid = targId;
  for (let i = 0; i < local.spec.length; i++) {
    const lacc = local.spec[i];
    const [rid, tt] = skipMods(tb, tid);
    tid = rid;
    if (lacc.name !== undefined) {
      const r = matchMember(local.btf, lacc, tb, tid, targ);
      if (!r.found) return undefined;
      tid = r.nextId;
    } else {
      if (i > 0) {
        if (tt.kind !== BtfKind.Array) return undefined;
        const flex = isFlexArray(tb, targ.spec[targ.spec.length - 1], tt.nelems);
        if (!flex && lacc.idx >= tt.nelems) return undefined;
        [tid] = skipMods(tb, tt.type);
      }
      if (targ.raw.length >= SPEC_MAX_LEN)
        throw new BtfError('CO-RE: struct/union/array nesting too deep');
      targ.spec.push({ typeId: tid, idx: lacc.idx });
      targ.raw.push(lacc.idx);
      targ.bitOffset += lacc.idx * tb.sizeof(tid) * 8;
    }
  }
  return targ;
}

interface FieldCalc {
  val: bigint;
  fieldSz: number;
  typeId: number;
  validate: boolean;
}

/** libbpf's bpf_core_calc_field_relo. Throws Poison when there is no spec. */
function calcField(kind: CoreReloKind, spec: Spec | undefined, where: string): FieldCalc {
  const out: FieldCalc = { val: 0n, fieldSz: 0, typeId: 0, validate: true };
  if (kind === CoreReloKind.FieldExists) {
    out.val = spec ? 1n : 0n;
    return out;
  }
  if (!spec) throw new Poison();
  const btf = spec.btf;
  const acc = spec.spec[spec.spec.length - 1];
  if (acc.name === undefined) {
    if (kind === CoreReloKind.FieldByteOffset) {
      out.val = BigInt(spec.bitOffset / 8);
      out.fieldSz = btf.sizeof(acc.typeId);
      out.typeId = acc.typeId;
    } else if (kind === CoreReloKind.FieldByteSize) {
      out.val = BigInt(btf.sizeof(acc.typeId));
    } else {
      throw new BtfError(`${where}: ${CoreReloKind[kind]} cannot be applied to an array access`);
    }
    return out;
  }
  const parent = btf.type(acc.typeId) as Extract<BtfType, { kind: BtfKind.Struct | BtfKind.Union }>;
  const m = parent.members[acc.idx];
  const [fieldTypeId, mt] = skipMods(btf, m.type);
  const bitOff = spec.bitOffset;
  let bitSz = m.bitfieldSize;
  const bitfield = bitSz > 0;
  let byteSz: number;
  let byteOff: number;
  if (bitfield) {
    byteSz = (mt as { size?: number }).size ?? 0;
    if (byteSz <= 0) throw new BtfError(`${where}: bitfield ${m.name} has a type without size`);
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8)
        throw new BtfError(`${where}: bitfield ${m.name} cannot be read with a 64-bit load`);
      byteSz *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    }
  } else {
    byteSz = btf.sizeof(fieldTypeId);
    byteOff = spec.bitOffset / 8;
    bitSz = byteSz * 8;
  }
  // Bitfield layout is ambiguous between compiler and BTF; only sign and shift are checked.
  out.validate = !bitfield;
  switch (kind) {
    case CoreReloKind.FieldByteOffset: {
      out.val = BigInt(byteOff);
      if (!bitfield) {
        let [eid, et] = [fieldTypeId, mt];
        while (et.kind === BtfKind.Array) [eid, et] = skipMods(btf, et.type);
        out.fieldSz = btf.sizeof(eid);
        out.typeId = fieldTypeId;
      }
      break;
    }
    case CoreReloKind.FieldByteSize:
      out.val = BigInt(byteSz);
      break;
    case CoreReloKind.FieldSigned:
      out.val = (isAnyEnum(mt) && mt.signed) || (mt.kind === BtfKind.Int && mt.signed) ? 1n : 0n;
      out.validate = true;
      break;
    case CoreReloKind.FieldLShiftU64:
      out.val = BigInt(64 - (bitOff + bitSz - byteOff * 8));
      break;
    case CoreReloKind.FieldRShiftU64:
      out.val = BigInt(64 - bitSz);
      out.validate = true;
      break;
    default:
      throw new BtfError(`${where}: unsupported field relocation ${kind}`);
  }
  return out;
}

function calcType(kind: CoreReloKind, spec: Spec | undefined): { val: bigint; validate: boolean } {
  if (!spec) return { val: 0n, validate: true };
  switch (kind) {
    case CoreReloKind.TypeIdTarget:
      // Type ids change during linking; checking the compiled-in one is pointless.
      return { val: BigInt(spec.rootTypeId), validate: false };
    case CoreReloKind.TypeExists:
    case CoreReloKind.TypeMatches:
      return { val: 1n, validate: true };
    case CoreReloKind.TypeSize:
      return { val: BigInt(spec.btf.sizeof(spec.rootTypeId)), validate: true };
    default:
      throw new BtfError(`CO-RE: unsupported type relocation ${kind}`);
  }
}

function calcEnumval(kind: CoreReloKind, spec: Spec | undefined): bigint {
  if (kind === CoreReloKind.EnumvalExists) return spec ? 1n : 0n;
  if (!spec) throw new Poison();
  const t = spec.btf.type(spec.spec[0].typeId) as Extract<
    BtfType,
    { kind: BtfKind.Enum | BtfKind.Enum64 }
  >;
  return t.values[spec.spec[0].idx].value;
}

function calcRelo(
  kind: CoreReloKind,
  local: Spec,
  targ: Spec | undefined,
  where: string,
): CalcResult {
  const res: CalcResult = {
    origVal: 0n,
    newVal: 0n,
    poison: false,
    validate: true,
    failMemszAdjust: false,
    origSz: 0,
    newSz: 0,
    origTypeId: 0,
    newTypeId: 0,
  };
  try {
    if (isFieldBased(kind)) {
      const o = calcField(kind, local, where);
      res.origVal = o.val;
      res.origSz = o.fieldSz;
      res.origTypeId = o.typeId;
      res.validate = o.validate;
      const n = calcField(kind, targ, where);
      res.newVal = n.val;
      res.newSz = n.fieldSz;
      res.newTypeId = n.typeId;
      if (res.origSz !== res.newSz && targ) {
        const ot = local.btf.type(res.origTypeId);
        const nt = targ.btf.type(res.newTypeId);
        // Narrowing is safe only for pointers and unsigned ints (zero extension keeps the value).
        const safe =
          (ot.kind === BtfKind.Ptr && nt.kind === BtfKind.Ptr) ||
          (ot.kind === BtfKind.Int && nt.kind === BtfKind.Int && !ot.signed && !nt.signed);
        res.failMemszAdjust = !safe;
      }
    } else if (isTypeBased(kind)) {
      const o = calcType(kind, local);
      res.origVal = o.val;
      res.validate = o.validate;
      res.newVal = calcType(kind, targ).val;
    } else {
      res.origVal = calcEnumval(kind, local);
      res.newVal = calcEnumval(kind, targ);
    }
  } catch (e) {
    if (!(e instanceof Poison)) throw e;
    res.poison = true;
  }
  return res;
}

/** `struct task_struct.pid`, `enum foo::BAR`, from a spec. */
function describe(spec: Spec): string {
  const btf = spec.btf;
  let s = btf.typeName(spec.rootTypeId);
  if (isTypeBased(spec.kind)) return s;
  if (isEnumvalBased(spec.kind)) return `${s}::${spec.spec[0]?.name ?? '?'}`;
  if (spec.raw[0] !== 0) s += `[${spec.raw[0]}]`;
  for (const acc of spec.spec.slice(1))
    s += acc.name !== undefined ? `.${acc.name}` : `[${acc.idx}]`;
  return s;
}

const BPF_CLASS = (code: number): number => code & 0x07;
const CLASS_LD = 0x00;
const CLASS_LDX = 0x01;
const CLASS_ST = 0x02;
const CLASS_STX = 0x03;
const CLASS_ALU = 0x04;
const CLASS_ALU64 = 0x07;
const SRC_K = 0x00;
const SIZE_BYTES: Record<number, number> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };
const BYTES_SIZE: Record<number, number> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };

function poisonSlot(insn: RawInsn): void {
  insn.code = 0x85; // BPF_JMP | BPF_CALL
  insn.dst = 0;
  insn.src = 0;
  insn.off = 0;
  insn.imm = CORE_POISON_IMM;
}

function patchInsn(insns: RawInsn[], slot: number, res: CalcResult, where: string): void {
  const insn = insns[slot];
  if (res.poison) {
    if (insn.code === OP_LD_IMM64 && insns[slot + 1]) poisonSlot(insns[slot + 1]);
    poisonSlot(insn);
    return;
  }
  const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
  switch (BPF_CLASS(insn.code)) {
    case CLASS_ALU:
    case CLASS_ALU64: {
      if ((insn.code & 0x08) !== SRC_K)
        throw new BtfError(`${where}: ALU instruction does not take an immediate`);
      if (res.validate && u64(BigInt(insn.imm)) !== u64(res.origVal)) {
        throw new BtfError(
          `${where}: unexpected ALU immediate ${insn.imm}, expected ${res.origVal}`,
        );
      }
      insn.imm = Number(BigInt.asIntN(32, res.newVal));
      return;
    }
    case CLASS_LDX:
    case CLASS_ST:
    case CLASS_STX: {
      if (res.validate && BigInt(insn.off) !== res.origVal) {
        throw new BtfError(
          `${where}: unexpected memory offset ${insn.off}, expected ${res.origVal}`,
        );
      }
      if (res.newVal > 0x7fffn)
        throw new BtfError(`${where}: offset ${res.newVal} does not fit the instruction`);
      if (res.failMemszAdjust) {
        // libbpf poisons rather than load a field whose size changed in a way zero-extension cannot fix.
        poisonSlot(insn);
        return;
      }
      insn.off = Number(res.newVal);
      if (res.newSz !== res.origSz) {
        const cur = SIZE_BYTES[insn.code & 0x18];
        if (cur !== res.origSz) {
          throw new BtfError(
            `${where}: instruction accesses ${cur} bytes, field has ${res.origSz}`,
          );
        }
        const sz = BYTES_SIZE[res.newSz];
        if (sz === undefined)
          throw new BtfError(`${where}: field size ${res.newSz} cannot be loaded`);
        insn.code = (insn.code & ~0x18) | sz;
      }
      return;
    }
    case CLASS_LD: {
      const hi = insns[slot + 1];
      if (
        insn.code !== OP_LD_IMM64 ||
        !hi ||
        insn.src !== 0 ||
        insn.off !== 0 ||
        hi.code !== 0 ||
        hi.dst !== 0
      ) {
        throw new BtfError(`${where}: LD instruction is not a plain 64-bit immediate load`);
      }
      const imm = BigInt(insn.imm >>> 0) | (BigInt(hi.imm >>> 0) << 32n);
      if (res.validate && imm !== u64(res.origVal)) {
        throw new BtfError(`${where}: unexpected 64-bit immediate ${imm}, expected ${res.origVal}`);
      }
      const v = u64(res.newVal);
      insn.imm = Number(BigInt.asIntN(32, v & 0xffffffffn));
      hi.imm = Number(BigInt.asIntN(32, v >> 32n));
      return;
    }
    default:
      throw new BtfError(
        `${where}: instruction class ${BPF_CLASS(insn.code)} cannot carry a CO-RE relocation`,
      );
  }
}

/**
 * Applies CO-RE relocations in place. `slot` is the instruction index within `insns` (the
 * loader converts the record's byte offset). Returns what each relocation did.
 */
export function applyCoreRelocations(
  insns: RawInsn[],
  relos: { slot: number; relo: CoreRelo }[],
  local: Btf,
  target: Btf,
): CoreFixup[] {
  const out: CoreFixup[] = [];
  const candCache = new Map<number, number[]>();
  for (const { slot, relo } of relos) {
    const where = `CO-RE relocation at insn ${slot} (${CoreReloKind[relo.kind] ?? relo.kind}, type ${relo.typeId}, access "${relo.accessStr}")`;
    if (!Number.isInteger(slot) || slot < 0 || slot >= insns.length) {
      throw new BtfError(`${where}: instruction slot out of range (program has ${insns.length})`);
    }
    local.type(relo.typeId);
    const lspec = parseSpec(local, relo, where);
    const localDesc = describe(lspec);
    if (relo.kind === CoreReloKind.TypeIdLocal) {
      const v = BigInt(relo.typeId);
      patchInsn(insns, slot, { ...emptyRes(), origVal: v, newVal: v, validate: false }, where);
      out.push({
        slot,
        kind: relo.kind,
        local: localDesc,
        target: localDesc,
        value: v,
        poisoned: false,
      });
      continue;
    }
    const localType = local.type(relo.typeId);
    if (localType.name === '') {
      throw new BtfError(`${where}: CO-RE cannot find candidates for anonymous type ${localDesc}`);
    }
    let cands = candCache.get(relo.typeId);
    if (!cands) {
      cands = target
        .findByEssentialName(essentialName(localType.name))
        .filter((id) => kindsCompat(target.type(id), localType));
      candCache.set(relo.typeId, cands);
    }
    let best: { res: CalcResult; spec: Spec } | undefined;
    for (const cid of cands) {
      const cspec = specMatch(lspec, target, cid);
      if (!cspec) continue;
      const res = calcRelo(relo.kind, lspec, cspec, where);
      if (!best) {
        best = { res, spec: cspec };
      } else if (cspec.bitOffset !== best.spec.bitOffset) {
        throw new BtfError(
          `${where}: field offset ambiguity between ${describe(best.spec)} (type ${best.spec.rootTypeId}) and ${describe(cspec)} (type ${cid}): ${best.spec.bitOffset} != ${cspec.bitOffset} bits`,
        );
      } else if (
        res.poison !== best.res.poison ||
        (!res.poison && res.newVal !== best.res.newVal)
      ) {
        throw new BtfError(
          `${where}: relocation decision ambiguity: type ${best.spec.rootTypeId} gives ${best.res.newVal}, type ${cid} gives ${res.newVal}`,
        );
      }
    }
    const res = best ? best.res : calcRelo(relo.kind, lspec, undefined, where);
    patchInsn(insns, slot, res, where);
    out.push({
      slot,
      kind: relo.kind,
      local: localDesc,
      target: best ? describe(best.spec) : undefined,
      value: res.poison ? 0n : res.newVal,
      poisoned: res.poison,
    });
  }
  return out;
}

function emptyRes(): CalcResult {
  return {
    origVal: 0n,
    newVal: 0n,
    poison: false,
    validate: true,
    failMemszAdjust: false,
    origSz: 0,
    newSz: 0,
    origTypeId: 0,
    newTypeId: 0,
  };
}
