/**
 * Raw BTF: parsing (including split BTF on top of a base such as vmlinux), queries over the
 * type graph, marshalling back to bytes and BPF_BTF_LOAD. Layout follows
 * include/uapi/linux/btf.h; validation follows what the kernel's btf.c checks, so that a
 * malformed blob fails here with an offset rather than later in the kernel.
 */
import { isAscii } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { BpfCmd, BPF_ATTR_SIZE, sys, isErrno } from '../../sys/index.js';
import {
  BtfKind,
  type BtfEnumValue,
  type BtfMember,
  type BtfParam,
  type BtfType,
  type BtfVarSecinfo,
} from './types.js';
import { cDeclarator } from './cdecl.js';
import { align8, arena } from '../scratch.js';

/** A malformed BTF blob, a bad type id or a failed BTF operation. */
export class BtfError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BtfError';
  }
}

/** BTF magic number (little-endian on the wire for little-endian targets). */
export const BTF_MAGIC = 0xeb9f;
const HEADER_LEN = 24;
const TYPE_HEADER = 12;
/** The kernel's limit on type ids (BTF_MAX_TYPE). */
const MAX_TYPE = 0x000fffff;
/** How deep typedef/modifier chains may go before we call the BTF cyclic (libbpf uses 32). */
const MAX_RESOLVE_DEPTH = 32;
/** Up to this many types, {@link Btf.findByName} scans instead of building an index. */
const SCAN_LIMIT = 512;
/** Pointer size of the BPF target. */
const PTR_SIZE = 8;

const INT_SIGNED = 1;
const INT_CHAR = 2;
const INT_BOOL = 4;

/** Kinds whose `type` field names another type. */
const MODIFIERS = new Set<BtfKind>([
  BtfKind.Typedef,
  BtfKind.Volatile,
  BtfKind.Const,
  BtfKind.Restrict,
  BtfKind.TypeTag,
]);

const VOID: BtfType = { kind: BtfKind.Void, name: '' };

/** A string section decoded once as latin1, so an offset is an index into one JS string. */
class StringTable {
  readonly latin1: string;
  private readonly bytes: Uint8Array;
  /** True when some byte is >= 0x80: only then can a name need UTF-8 decoding. */
  private readonly highBytes: boolean;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.latin1 = view.toString('latin1');
    this.highBytes = !isAscii(view);
  }
  get length(): number {
    return this.bytes.byteLength;
  }
  /** The raw table, so an encoder can keep every original offset valid. */
  raw(): Uint8Array {
    return this.bytes;
  }
  /** The string at `off`, or undefined when `off` is outside the table or not terminated. */
  get(off: number): string | undefined {
    if (off === 0) return '';
    if (off < 0 || off >= this.latin1.length) return undefined;
    const end = this.latin1.indexOf('\0', off);
    if (end < 0) return undefined;
    const s = this.latin1.slice(off, end);
    // eslint-disable-next-line no-control-regex
    if (this.highBytes && /[^\x00-\x7f]/.test(s))
      return Buffer.from(this.bytes.subarray(off, end)).toString('utf8');
    return s;
  }
  /**
   * An offset where `s` already lies NUL-terminated (possibly as the tail of a longer string,
   * which the kernel reads just the same), or -1. ASCII only; other names take the encoder.
   */
  find(s: string): number {
    if (s === '') return 0;
    // eslint-disable-next-line no-control-regex
    if (/[^\x01-\x7f]/.test(s)) return -1;
    return this.latin1.indexOf(s + '\0', 1);
  }
}

/** Parsed BTF. Type ids index {@link types}; for split BTF the base's types come first. */
export class Btf {
  /** All types, base types included for split BTF. `types[0]` is void. */
  readonly types: BtfType[];
  /** The base this BTF was split from, if any. */
  readonly base: Btf | undefined;
  /** Number of ids owned by the base (0 for standalone BTF): own types start at this id. */
  readonly firstId: number;
  private readonly strings: StringTable;
  /** Length of the base's string section as the kernel sees it (split string offsets start here). */
  private readonly baseStrLen: number;
  /**
   * Kind and name of every type, by id, beside {@link types}: scans over all types (by name, by
   * kind) read these small arrays instead of loading a field from objects of a dozen shapes.
   */
  private readonly kinds: BtfKind[];
  private readonly names: string[];
  private nameIndex: Map<string, number[]> | undefined;
  private essentialIndex: Map<string, number[]> | undefined;
  /**
   * The blob this BTF was parsed from, when {@link encode} may start from a copy of it: a
   * standalone blob laid out as the encoder would lay it out (header, types, strings, no gaps)
   * with nothing the encoder would normalise.
   */
  private raw: Uint8Array | undefined;
  /** Number of types when parsed: any {@link add} since means the raw blob no longer suffices. */
  private rawCount = 0;
  /** Ids replaced with {@link set} since parsing, patched into the copy of the raw blob. */
  private dirty: Set<number> | undefined;

  private constructor(
    types: BtfType[],
    strings: StringTable,
    base: Btf | undefined,
    kinds?: BtfKind[],
    names?: string[],
  ) {
    this.types = types;
    this.kinds = kinds ?? types.map((t) => t.kind);
    this.names = names ?? types.map((t) => t.name);
    this.strings = strings;
    this.base = base;
    this.firstId = base ? base.types.length : 0;
    this.baseStrLen = base ? base.stringsLength() : 0;
  }

  /** An empty BTF (only void), or an empty split BTF on top of `base`, to build with {@link add}. */
  static empty(base?: Btf): Btf {
    const types = base ? base.types.slice() : [VOID];
    return new Btf(types, new StringTable(new Uint8Array(1)), base);
  }

  /** Length of the string section as the kernel sees it (the base's included for split BTF). */
  stringsLength(): number {
    return this.baseStrLen + this.strings.length;
  }

  /**
   * Parses raw BTF (header, type and string sections). With `base`, the blob is split BTF:
   * its ids continue after the base's and string offsets below the base's string length
   * refer to the base.
   */
  static parse(bytes: Uint8Array, base?: Btf): Btf {
    try {
      const parsed = parseRaw(bytes, base);
      const btf = new Btf(parsed.types, parsed.strings, base, parsed.kinds, parsed.names);
      if (parsed.raw) {
        btf.raw = parsed.raw;
        btf.rawCount = parsed.types.length;
      }
      return btf;
    } catch (e) {
      if (e instanceof BtfError) throw e;
      // Anything else is a parser bug on hostile input; keep the contract of throwing BtfError.
      throw new BtfError(`parse BTF: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
  }

  private static kernelCache: Btf | undefined;

  /** The running kernel's BTF from /sys/kernel/btf/vmlinux, parsed once. */
  static kernel(): Btf {
    if (Btf.kernelCache === undefined) {
      let bytes: Uint8Array;
      try {
        bytes = readFileSync('/sys/kernel/btf/vmlinux');
      } catch (e) {
        throw new BtfError(
          `kernel BTF: cannot read /sys/kernel/btf/vmlinux (kernel built without CONFIG_DEBUG_INFO_BTF?): ${(e as Error).message}`,
          { cause: e },
        );
      }
      Btf.kernelCache = Btf.parse(bytes);
    }
    return Btf.kernelCache;
  }

  /** The type with this id. Throws BtfError for an id out of range. */
  type(id: number): BtfType {
    if (!Number.isInteger(id) || id < 0 || id >= this.types.length) {
      throw new BtfError(`BTF: type id ${id} out of range (have ${this.types.length} types)`);
    }
    return this.types[id];
  }

  /** The kind of the type with this id (undefined when out of range), without loading the type. */
  kindOf(id: number): BtfKind | undefined {
    return this.kinds[id];
  }

  /** Skips typedef, const, volatile, restrict and type_tag; returns the id of what is underneath. */
  resolve(id: number): number {
    let cur = id;
    for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
      const t = this.type(cur);
      if (!MODIFIERS.has(t.kind)) return cur;
      cur = (t as { type: number }).type;
    }
    throw new BtfError(`BTF: type ${id}: modifier/typedef chain too deep or cyclic`);
  }

  /** Size in bytes of a value of this type (what `sizeof` gives in C). */
  sizeof(id: number): number {
    let cur = id;
    let mult = 1;
    for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
      const t = this.type(cur);
      switch (t.kind) {
        case BtfKind.Int:
        case BtfKind.Struct:
        case BtfKind.Union:
        case BtfKind.Enum:
        case BtfKind.Enum64:
        case BtfKind.Datasec:
        case BtfKind.Float:
          return mult * t.size;
        case BtfKind.Ptr:
          return mult * PTR_SIZE;
        case BtfKind.Typedef:
        case BtfKind.Volatile:
        case BtfKind.Const:
        case BtfKind.Restrict:
        case BtfKind.TypeTag:
        case BtfKind.Var:
          cur = t.type;
          break;
        case BtfKind.Array:
          mult *= t.nelems;
          cur = t.type;
          break;
        default:
          throw new BtfError(`BTF: type ${id}: ${BtfKind[t.kind]} has no size`);
      }
    }
    throw new BtfError(`BTF: type ${id}: type chain too deep or cyclic`);
  }

  /** Natural alignment in bytes, as libbpf's btf__align_of computes it (1 for packed structs). */
  alignof(id: number, depth = 0): number {
    if (depth > MAX_RESOLVE_DEPTH) throw new BtfError(`BTF: type ${id}: alignment chain too deep`);
    const t = this.type(this.resolve(id));
    switch (t.kind) {
      case BtfKind.Int:
      case BtfKind.Enum:
      case BtfKind.Enum64:
      case BtfKind.Float:
        return Math.max(1, Math.min(t.size, PTR_SIZE));
      case BtfKind.Ptr:
        return PTR_SIZE;
      case BtfKind.Array:
        return this.alignof(t.type, depth + 1);
      case BtfKind.Struct:
      case BtfKind.Union: {
        let max = 1;
        for (const m of t.members) {
          const a = this.alignof(m.type, depth + 1);
          // A naturally aligned member at a misaligned offset means the struct was packed.
          if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return 1;
          max = Math.max(max, a);
        }
        return t.size % max === 0 ? max : 1;
      }
      default:
        throw new BtfError(`BTF: type ${id}: ${BtfKind[t.kind]} has no alignment`);
    }
  }

  /** Ids of the types with exactly this name (and kind, if given). The index is built on first use. */
  findByName(name: string, kind?: BtfKind): number[] {
    if (this.nameIndex === undefined && this.types.length <= SCAN_LIMIT) {
      // An object's BTF is small and asked a few names while loading: scanning it costs less
      // than building the index (a map entry and an array per name).
      const out: number[] = [];
      if (name === '') return out;
      const { names, kinds } = this;
      for (let id = 1; id < names.length; id++) {
        if (names[id] === name && (kind === undefined || kinds[id] === kind)) out.push(id);
      }
      return out;
    }
    if (this.nameIndex === undefined) {
      const idx = new Map<string, number[]>();
      for (let id = 1; id < this.names.length; id++) {
        const n = this.names[id]!;
        if (n === '') continue;
        const list = idx.get(n);
        if (list) list.push(id);
        else idx.set(n, [id]);
      }
      this.nameIndex = idx;
    }
    const ids = this.nameIndex.get(name) ?? [];
    return kind === undefined ? ids.slice() : ids.filter((id) => this.kinds[id] === kind);
  }

  /**
   * Ids of named types whose essential name (the name without a `___flavor` suffix) is
   * `essential`: the CO-RE candidate set. Built on first use.
   */
  findByEssentialName(essential: string): number[] {
    if (this.essentialIndex === undefined) {
      const idx = new Map<string, number[]>();
      for (let id = 1; id < this.names.length; id++) {
        const n = this.names[id]!;
        if (n === '') continue;
        const e = essentialName(n);
        const list = idx.get(e);
        if (list) list.push(id);
        else idx.set(e, [id]);
      }
      this.essentialIndex = idx;
    }
    return this.essentialIndex.get(essential) ?? [];
  }

  /** Appends a type and returns its id. */
  add(t: BtfType): number {
    if (this.types.length > MAX_TYPE) throw new BtfError(`BTF: too many types (max ${MAX_TYPE})`);
    this.types.push(t);
    this.kinds.push(t.kind);
    this.names.push(t.name);
    this.invalidate();
    return this.types.length - 1;
  }

  /** Replaces the type with this id (fixups rewrite DATASECs and VARs in place). */
  set(id: number, t: BtfType): void {
    this.type(id);
    if (id === 0) throw new BtfError('BTF: cannot replace void (type 0)');
    if (id < this.firstId) throw new BtfError(`BTF: type ${id} belongs to the base BTF`);
    this.types[id] = t;
    this.kinds[id] = t.kind;
    this.names[id] = t.name;
    (this.dirty ??= new Set()).add(id);
    this.invalidate();
  }

  private invalidate(): void {
    this.nameIndex = undefined;
    this.essentialIndex = undefined;
  }

  /** The string at `off` in the string section as parsed (split offsets reach into the base). */
  string(off: number): string {
    if (this.base && off < this.baseStrLen) return this.base.string(off);
    const s = this.strings.get(off - this.baseStrLen);
    if (s === undefined) throw new BtfError(`BTF: string offset ${off} out of range`);
    return s;
  }

  /** A C-like spelling of the type: `struct foo`, `unsigned int`, `char[16]`, `u64 *`. */
  typeName(id: number): string {
    return cDeclarator(this, id, '', { inlineAnon: false });
  }

  /**
   * Marshals back to raw BTF. The string table is rebuilt on top of the parsed one: the original
   * table stays as a prefix (so .BTF.ext line_info offsets into it stay valid for the kernel),
   * strings already in it are reused, and names added since are appended once each. For split
   * BTF only the own types are written, with string offsets continuing after the base's.
   */
  encode(): Uint8Array {
    const raw = this.raw;
    if (raw !== undefined && this.types.length === this.rawCount) {
      const out = new Uint8Array(raw.byteLength);
      if (this.patchRaw(raw, out)) return out;
    }
    return encodeRaw(this);
  }

  /**
   * The common case for an object's BTF: the fix-ups before load only rewrite fixed-size fields
   * (DATASEC sizes and offsets, linkage), so a copy of the parsed blob with those types
   * re-encoded in place is what a full encode would give, for a fraction of the cost. Writes
   * the copy into `out` (raw's length); false when that does not hold (a type's size changed,
   * a name not in the table), and the caller encodes from scratch.
   */
  private patchRaw(raw: Uint8Array, out: Uint8Array): boolean {
    out.set(raw);
    if (this.dirty === undefined || this.dirty.size === 0) return true;
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const typeLen = dv.getUint32(12, true);
    const offsets = typeOffsets(dv, HEADER_LEN, HEADER_LEN + typeLen, this.types.length);
    if (offsets === undefined) return false;
    const words: number[] = [];
    for (const id of this.dirty) {
      words.length = 0;
      const at = offsets[id]!;
      // Fix-ups keep names: the type's own name is usually where it was, no table search.
      const origName = dv.getUint32(at, true);
      const nameOf = (n: string): number =>
        n !== '' && this.strings.get(origName) === n ? origName : this.strings.find(n);
      if (!encodeType(this.types[id]!, id, nameOf, words)) return false;
      if (words.length * 4 !== offsets[id + 1]! - at) return false;
      for (let i = 0; i < words.length; i++) dv.setUint32(at + i * 4, words[i]!, true);
    }
    return true;
  }

  /**
   * Loads the encoded BTF with BPF_BTF_LOAD and returns the fd. On failure retries with a
   * verifier log so the error carries the kernel's explanation.
   */
  load(): number {
    const s = sys();
    const raw = this.raw;
    if (raw !== undefined && this.types.length === this.rawCount) {
      // The blob and the attr in the shared arena: no copy to allocate, no address to look up.
      const blobOff = align8(BPF_ATTR_SIZE);
      arena.reserve(blobOff + raw.byteLength);
      if (this.patchRaw(raw, arena.bytes.subarray(blobOff, blobOff + raw.byteLength))) {
        const { bytes, dv } = arena;
        bytes.fill(0, 0, BPF_ATTR_SIZE);
        arena.setAddress(0, blobOff);
        dv.setUint32(16, raw.byteLength, true);
        try {
          return s.bpfAt(BpfCmd.BTF_LOAD, arena.baseNumber, BPF_ATTR_SIZE);
        } catch {
          // Retried below with a verifier log, so the error carries the kernel's explanation.
        } finally {
          arena.shrink();
        }
      }
    }
    const blob = this.encode();
    const attempt = (logSize: number): { fd?: number; err?: unknown; log?: Uint8Array } => {
      const attr = new Uint8Array(BPF_ATTR_SIZE);
      const dv = new DataView(attr.buffer);
      const log = logSize > 0 ? new Uint8Array(logSize) : undefined;
      dv.setBigUint64(0, s.address(blob), true);
      dv.setBigUint64(8, log ? s.address(log) : 0n, true);
      dv.setUint32(16, blob.byteLength, true);
      dv.setUint32(20, logSize, true);
      dv.setUint32(24, log ? 1 : 0, true);
      try {
        return { fd: s.bpf(BpfCmd.BTF_LOAD, attr), log };
      } catch (err) {
        return { err, log };
      }
    };
    let r = attempt(0);
    if (r.fd !== undefined) return r.fd;
    const first = r.err;
    for (let size = 1 << 16; size <= 1 << 26; size *= 4) {
      r = attempt(size);
      if (r.fd !== undefined) return r.fd; // transient failure; the load went through
      if (!isErrno(r.err, 'ENOSPC')) break;
    }
    let text = '';
    if (r.log) {
      const end = r.log.indexOf(0);
      text = Buffer.from(r.log.subarray(0, end < 0 ? r.log.length : end))
        .toString('utf8')
        .trim();
    }
    const why = (r.err as Error)?.message ?? String(r.err);
    throw new BtfError(`load BTF: ${why}${text ? `\n${tailLines(text, 40)}` : ''}`, {
      cause: r.err ?? first,
    });
  }
}

function tailLines(text: string, n: number): string {
  const lines = text.split('\n');
  return lines.length <= n ? text : ['...', ...lines.slice(-n)].join('\n');
}

/** True when `s[i..]` starts a flavor separator: `x___y` with x, y not '_' (libbpf's rule). */
function isFlavorSep(s: string, i: number): boolean {
  return (
    s[i] !== '_' &&
    s[i + 1] === '_' &&
    s[i + 2] === '_' &&
    s[i + 3] === '_' &&
    s[i + 4] !== '_' &&
    i + 4 < s.length
  );
}

/** The name without a CO-RE flavor suffix: `task_struct___old` → `task_struct`. */
export function essentialName(name: string): string {
  for (let i = name.length - 5; i >= 0; i--) {
    if (isFlavorSep(name, i)) return name.slice(0, i + 1);
  }
  return name;
}

/** Sizes the kernel accepts for INT types. */
function intSizeOk(n: number): boolean {
  return n === 1 || n === 2 || n === 4 || n === 8 || n === 16;
}

/** Sizes the kernel accepts for ENUM and ENUM64 types. */
function enumSizeOk(n: number): boolean {
  return n === 1 || n === 2 || n === 4 || n === 8;
}

/** Sizes the kernel accepts for FLOAT types. */
function floatSizeOk(n: number): boolean {
  return n === 2 || n === 4 || n === 8 || n === 12 || n === 16;
}

/** A BtfError naming the type being parsed; built only when something is wrong. */
function typeError(off: number, id: number, kind: number, msg: string): BtfError {
  return new BtfError(
    `parse BTF: offset ${off}: type ${id} (${BtfKind[kind] ?? `kind ${kind}`}): ${msg}`,
  );
}

/** Byte length of a type's data after its 12-byte header, from its kind and vlen. */
function bodyLength(kind: number, vlen: number): number {
  switch (kind) {
    case BtfKind.Int:
    case BtfKind.Var:
    case BtfKind.DeclTag:
      return 4;
    case BtfKind.Array:
      return 12;
    case BtfKind.Struct:
    case BtfKind.Union:
    case BtfKind.Datasec:
    case BtfKind.Enum64:
      return vlen * 12;
    case BtfKind.Enum:
    case BtfKind.FuncProto:
      return vlen * 8;
    default:
      return 0;
  }
}

/**
 * Byte offset of each type in a type section (ids 1..count-1, then the section end at index
 * `count`), or undefined when the walk does not land exactly on the end.
 */
function typeOffsets(
  dv: DataView,
  start: number,
  end: number,
  count: number,
): number[] | undefined {
  const out = new Array<number>(count + 1);
  out[0] = start;
  let off = start;
  for (let id = 1; id < count; id++) {
    if (off + TYPE_HEADER > end) return undefined;
    out[id] = off;
    const info = dv.getUint32(off + 4, true);
    off += TYPE_HEADER + bodyLength((info >>> 24) & 0x1f, info & 0xffff);
  }
  if (off !== end) return undefined;
  out[count] = end;
  return out;
}

/** The reference fields of the BTF type shapes, for the reference check (by kind). */
interface TypeRefs {
  name: string;
  type: number;
  indexType: number;
  returnType: number;
  members: { type: number }[];
  params: { type: number }[];
  vars: { type: number }[];
}

/** What parsing yields: the types, the strings and, when encode may patch it, the blob. */
interface Parsed {
  types: BtfType[];
  kinds: BtfKind[];
  names: string[];
  strings: StringTable;
  raw: Uint8Array | undefined;
}

function parseRaw(bytes: Uint8Array, base: Btf | undefined): Parsed {
  if (!(bytes instanceof Uint8Array)) throw new BtfError('parse BTF: input is not bytes');
  if (bytes.byteLength < HEADER_LEN) {
    throw new BtfError(`parse BTF: offset 0: ${bytes.byteLength} bytes is too short for a header`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (off: number, what: string): number => {
    if (off + 4 > bytes.byteLength) {
      throw new BtfError(`parse BTF: offset ${off}: ${what} runs past the end`);
    }
    return dv.getUint32(off, true);
  };
  const magic = dv.getUint16(0, true);
  if (magic !== BTF_MAGIC) {
    if (magic === 0x9feb)
      throw new BtfError('parse BTF: offset 0: big-endian BTF is not supported');
    throw new BtfError(`parse BTF: offset 0: bad magic 0x${magic.toString(16)}`);
  }
  const version = dv.getUint8(2);
  if (version !== 1) throw new BtfError(`parse BTF: offset 2: unsupported version ${version}`);
  const hdrLen = u32(4, 'hdr_len');
  if (hdrLen < HEADER_LEN || hdrLen > bytes.byteLength) {
    throw new BtfError(`parse BTF: offset 4: bad header length ${hdrLen}`);
  }
  // A longer header is fine as long as the fields we do not know are zero (the kernel's rule).
  for (let i = HEADER_LEN; i < hdrLen; i++) {
    if (bytes[i] !== 0) throw new BtfError(`parse BTF: offset ${i}: unknown non-zero header byte`);
  }
  const typeOff = u32(8, 'type_off');
  const typeLen = u32(12, 'type_len');
  const strOff = u32(16, 'str_off');
  const strLen = u32(20, 'str_len');
  const dataLen = bytes.byteLength - hdrLen;
  if (typeOff % 4 !== 0) throw new BtfError(`parse BTF: offset 8: type_off ${typeOff} not aligned`);
  if (typeOff + typeLen > dataLen) {
    throw new BtfError(`parse BTF: offset 12: type section [${typeOff}, +${typeLen}) past the end`);
  }
  if (strOff + strLen > dataLen) {
    throw new BtfError(`parse BTF: offset 20: string section [${strOff}, +${strLen}) past the end`);
  }
  if (typeLen % 4 !== 0)
    throw new BtfError(`parse BTF: offset 12: type_len ${typeLen} not aligned`);
  if (typeOff < strOff ? typeOff + typeLen > strOff : strOff + strLen > typeOff) {
    throw new BtfError('parse BTF: offset 8: type and string sections overlap');
  }
  const strAbs = hdrLen + strOff;
  const strBytes = bytes.subarray(strAbs, strAbs + strLen);
  if (!base && (strLen === 0 || strBytes[0] !== 0)) {
    throw new BtfError(`parse BTF: offset ${strAbs}: string section must start with NUL`);
  }
  if (strLen > 0 && strBytes[strLen - 1] !== 0) {
    throw new BtfError(
      `parse BTF: offset ${strAbs + strLen - 1}: string section not NUL-terminated`,
    );
  }
  const strings = new StringTable(strBytes);
  const baseStrLen = base ? base.stringsLength() : 0;
  const str = (off: number, where: number): string => {
    if (base && off < baseStrLen) {
      try {
        return base.string(off);
      } catch {
        throw new BtfError(`parse BTF: offset ${where}: name offset ${off} not a base string`);
      }
    }
    const s = strings.get(off - baseStrLen);
    if (s === undefined) {
      throw new BtfError(
        `parse BTF: offset ${where}: name offset ${off} outside the string section`,
      );
    }
    return s;
  };

  // Whether encode() may start from these bytes: standalone, laid out as the encoder lays it
  // out, and (checked per type below) no kind_flag the encoder would drop.
  let canonical =
    !base &&
    hdrLen === HEADER_LEN &&
    typeOff === 0 &&
    strOff === typeLen &&
    hdrLen + strOff + strLen === bytes.byteLength;
  const types: BtfType[] = base ? base.types.slice() : [VOID];
  const kinds: BtfKind[] = base ? base.types.map((t) => t.kind) : [BtfKind.Void];
  const names: string[] = base ? base.types.map((t) => t.name) : [''];
  const firstId = types.length;
  const start = hdrLen + typeOff;
  const end = start + typeLen;
  let off = start;
  while (off < end) {
    const id = types.length;
    if (id > MAX_TYPE) throw new BtfError(`parse BTF: offset ${off}: more than ${MAX_TYPE} types`);
    if (off + TYPE_HEADER > end) {
      throw new BtfError(`parse BTF: offset ${off}: type ${id}: header runs past the type section`);
    }
    const nameOff = dv.getUint32(off, true);
    const info = dv.getUint32(off + 4, true);
    const sizeType = dv.getUint32(off + 8, true);
    const vlen = info & 0xffff;
    const kind = (info >>> 24) & 0x1f;
    const kflag = info >>> 31 !== 0;
    if ((info & 0x60ff0000) !== 0) throw typeError(off, id, kind, 'reserved info bits set');
    const name = nameOff === 0 ? '' : str(nameOff, off);
    const body = off + TYPE_HEADER;
    const len = bodyLength(kind, vlen);
    if (body + len > end)
      throw typeError(off, id, kind, `${len} bytes of data run past the type section`);
    let t: BtfType;
    switch (kind) {
      case BtfKind.Int: {
        const enc = dv.getUint32(body, true);
        const encoding = (enc >>> 24) & 0x0f;
        const bitOffset = (enc >>> 16) & 0xff;
        const bits = enc & 0xff;
        if (vlen !== 0 || kflag) throw typeError(off, id, kind, 'vlen/kind_flag must be 0');
        if (!intSizeOk(sizeType)) throw typeError(off, id, kind, `bad size ${sizeType}`);
        if (bits > 128 || bits === 0 || bitOffset + bits > sizeType * 8) {
          throw typeError(off, id, kind, `bad bits ${bits} at bit offset ${bitOffset}`);
        }
        if ((enc & 0xf000ff00) !== 0) throw typeError(off, id, kind, 'reserved encoding bits set');
        if (
          encoding === (INT_SIGNED | INT_CHAR) ||
          encoding === (INT_SIGNED | INT_BOOL) ||
          encoding === (INT_CHAR | INT_BOOL) ||
          encoding === 7
        ) {
          throw typeError(off, id, kind, `bad encoding ${encoding}`);
        }
        t = {
          kind,
          name,
          size: sizeType,
          signed: (encoding & INT_SIGNED) !== 0,
          char: (encoding & INT_CHAR) !== 0,
          bool: (encoding & INT_BOOL) !== 0,
          bits,
          bitOffset,
        };
        break;
      }
      case BtfKind.Ptr:
        if (vlen !== 0 || kflag || nameOff !== 0)
          throw typeError(off, id, kind, 'ptr must have no name, vlen or kind_flag');
        t = { kind, name: '', type: sizeType };
        break;
      case BtfKind.Array: {
        if (vlen !== 0 || kflag || nameOff !== 0 || sizeType !== 0) {
          throw typeError(off, id, kind, 'array must have no name, vlen, kind_flag or size');
        }
        t = {
          kind,
          name: '',
          type: dv.getUint32(body, true),
          indexType: dv.getUint32(body + 4, true),
          nelems: dv.getUint32(body + 8, true),
        };
        break;
      }
      case BtfKind.Struct:
      case BtfKind.Union: {
        const members: BtfMember[] = new Array<BtfMember>(vlen);
        for (let i = 0; i < vlen; i++) {
          const m = body + i * 12;
          const o = dv.getUint32(m + 8, true);
          const mNameOff = dv.getUint32(m, true);
          const member: BtfMember = {
            name: mNameOff === 0 ? '' : str(mNameOff, m),
            type: dv.getUint32(m + 4, true),
            bitOffset: kflag ? o & 0xffffff : o,
            bitfieldSize: kflag ? o >>> 24 : 0,
          };
          if (member.bitOffset + member.bitfieldSize > sizeType * 8) {
            throw typeError(
              off,
              id,
              kind,
              `member ${i} at bit ${member.bitOffset} lies past size ${sizeType}`,
            );
          }
          members[i] = member;
        }
        t = { kind, name, size: sizeType, members };
        break;
      }
      case BtfKind.Enum: {
        if (!enumSizeOk(sizeType)) throw typeError(off, id, kind, `bad enum size ${sizeType}`);
        const values = new Array<BtfEnumValue>(vlen);
        for (let i = 0; i < vlen; i++) {
          const e = body + i * 8;
          const v = kflag ? dv.getInt32(e + 4, true) : dv.getUint32(e + 4, true);
          values[i] = { name: str(dv.getUint32(e, true), e), value: BigInt(v) };
        }
        t = { kind, name, size: sizeType, signed: kflag, values };
        break;
      }
      case BtfKind.Enum64: {
        if (!enumSizeOk(sizeType)) throw typeError(off, id, kind, `bad enum size ${sizeType}`);
        const values = new Array<BtfEnumValue>(vlen);
        for (let i = 0; i < vlen; i++) {
          const e = body + i * 12;
          const raw =
            BigInt(dv.getUint32(e + 4, true)) | (BigInt(dv.getUint32(e + 8, true)) << 32n);
          values[i] = {
            name: str(dv.getUint32(e, true), e),
            value: kflag ? BigInt.asIntN(64, raw) : raw,
          };
        }
        t = { kind, name, size: sizeType, signed: kflag, values };
        break;
      }
      case BtfKind.Fwd:
        if (vlen !== 0 || sizeType !== 0 || name === '')
          throw typeError(off, id, kind, 'fwd needs a name and no vlen/type');
        t = { kind, name, union: kflag };
        break;
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
        if (vlen !== 0) throw typeError(off, id, kind, 'vlen must be 0');
        if (kind === BtfKind.Typedef && name === '')
          throw typeError(off, id, kind, 'typedef needs a name');
        if (kind === BtfKind.TypeTag && name === '')
          throw typeError(off, id, kind, 'type_tag needs a name');
        if (kflag) canonical = false;
        t = { kind, name, type: sizeType };
        break;
      case BtfKind.Func:
        if (name === '') throw typeError(off, id, kind, 'func needs a name');
        if (vlen > 2) throw typeError(off, id, kind, `bad linkage ${vlen}`);
        if (kflag) canonical = false;
        t = { kind, name, type: sizeType, linkage: vlen };
        break;
      case BtfKind.FuncProto: {
        if (nameOff !== 0 || kflag)
          throw typeError(off, id, kind, 'func_proto must have no name or kind_flag');
        const params = new Array<BtfParam>(vlen);
        for (let i = 0; i < vlen; i++) {
          const p = body + i * 8;
          const pNameOff = dv.getUint32(p, true);
          params[i] = {
            name: pNameOff === 0 ? '' : str(pNameOff, p),
            type: dv.getUint32(p + 4, true),
          };
        }
        t = { kind, name: '', returnType: sizeType, params };
        break;
      }
      case BtfKind.Var:
        if (vlen !== 0 || kflag || name === '')
          throw typeError(off, id, kind, 'var needs a name and no vlen/kind_flag');
        t = { kind, name, type: sizeType, linkage: dv.getUint32(body, true) };
        break;
      case BtfKind.Datasec: {
        if (name === '') throw typeError(off, id, kind, 'datasec needs a name');
        if (kflag) canonical = false;
        const vars = new Array<BtfVarSecinfo>(vlen);
        for (let i = 0; i < vlen; i++) {
          const v = body + i * 12;
          vars[i] = {
            type: dv.getUint32(v, true),
            offset: dv.getUint32(v + 4, true),
            size: dv.getUint32(v + 8, true),
          };
        }
        t = { kind, name, size: sizeType, vars };
        break;
      }
      case BtfKind.Float:
        if (vlen !== 0 || kflag || !floatSizeOk(sizeType))
          throw typeError(off, id, kind, `bad float size ${sizeType}`);
        t = { kind, name, size: sizeType };
        break;
      case BtfKind.DeclTag:
        if (vlen !== 0 || name === '')
          throw typeError(off, id, kind, 'decl_tag needs a name and no vlen');
        if (kflag) canonical = false;
        t = { kind, name, type: sizeType, componentIdx: dv.getInt32(body, true) };
        break;
      default:
        throw typeError(off, id, kind, 'unknown kind');
    }
    types.push(t);
    kinds.push(kind);
    names.push(name);
    off = body + len;
  }
  // Every reference must point at an existing type; checked after the fact since BTF may refer forward.
  const n = types.length;
  const check = (id: number, ref: number, what: string): void => {
    if (ref >= n)
      throw new BtfError(`parse BTF: type ${id}: ${what} refers to type ${ref}, have ${n}`);
  };
  for (let id = firstId; id < n; id++) {
    // Switching on the kinds array keeps each field load below to the few shapes of one case.
    const t = types[id] as unknown as TypeRefs;
    switch (kinds[id]) {
      case BtfKind.Ptr:
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
      case BtfKind.Var:
      case BtfKind.DeclTag:
        if (t.type >= n) check(id, t.type, 'type');
        if (t.type === id) throw new BtfError(`parse BTF: type ${id}: refers to itself`);
        break;
      case BtfKind.Func:
        if (t.type >= n) check(id, t.type, 'type');
        if (types[t.type]!.kind !== BtfKind.FuncProto) {
          throw new BtfError(
            `parse BTF: type ${id}: func ${t.name} does not point at a func_proto`,
          );
        }
        break;
      case BtfKind.Array:
        check(id, t.type, 'element type');
        check(id, t.indexType, 'index type');
        break;
      case BtfKind.Struct:
      case BtfKind.Union:
        for (let i = 0; i < t.members.length; i++)
          if (t.members[i]!.type >= n) check(id, t.members[i]!.type, `member ${i}`);
        break;
      case BtfKind.FuncProto:
        check(id, t.returnType, 'return type');
        for (let i = 0; i < t.params.length; i++)
          if (t.params[i]!.type >= n) check(id, t.params[i]!.type, `param ${i}`);
        break;
      case BtfKind.Datasec:
        for (let i = 0; i < t.vars.length; i++)
          if (t.vars[i]!.type >= n) check(id, t.vars[i]!.type, `var ${i}`);
        break;
      default:
        break;
    }
  }
  return { types, kinds, names, strings, raw: canonical ? bytes : undefined };
}

/** Builds a string table: "" at 0, each distinct string once. */
class StringBuilder {
  private readonly offsets = new Map<string, number>([['', 0]]);
  private readonly chunks: Buffer[] = [Buffer.from([0])];
  private length = 1;
  /**
   * `initial` is the original string table: keeping it as the prefix means offsets that live
   * outside the type section (line_info's file and line strings in .BTF.ext) stay valid.
   */
  constructor(
    private readonly base: number,
    initial?: Uint8Array,
  ) {
    if (initial && initial.byteLength > 0) {
      this.chunks = [Buffer.from(initial)];
      this.length = initial.byteLength;
      if (initial[initial.byteLength - 1] !== 0) {
        this.chunks.push(Buffer.from([0]));
        this.length++;
      }
      // Reuse the strings already in the prefix, or every re-encode would append them again.
      const text = Buffer.from(initial.buffer, initial.byteOffset, initial.byteLength).toString(
        'latin1',
      );
      for (let off = 0; off < text.length;) {
        let end = text.indexOf('\0', off);
        if (end < 0) end = text.length;
        if (end > off) {
          let str = text.slice(off, end);
          // eslint-disable-next-line no-control-regex
          if (/[^\x00-\x7f]/.test(str))
            str = Buffer.from(initial.subarray(off, end)).toString('utf8');
          if (!this.offsets.has(str)) this.offsets.set(str, off);
        }
        off = end + 1;
      }
    }
  }
  add(s: string): number {
    const hit = this.offsets.get(s);
    if (hit !== undefined) return hit === 0 ? 0 : hit + this.base;
    const b = Buffer.from(s + '\0', 'utf8');
    const off = this.length;
    this.chunks.push(b);
    this.length += b.length;
    this.offsets.set(s, off);
    return off + this.base;
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

const kindInfo = (kind: BtfKind, vlen: number, kflag: boolean): number =>
  ((kflag ? 0x80000000 : 0) | (kind << 24) | (vlen & 0xffff)) >>> 0;

/**
 * Appends the raw words of one type to `words`, naming strings through `nameOf`. Returns false
 * when `nameOf` has no offset for a name (-1), so a caller patching in place can fall back.
 */
function encodeType(
  t: BtfType,
  id: number,
  nameOf: (s: string) => number,
  words: number[],
): boolean {
  // Built only for an error: this runs for every patched type on every load.
  const where = (): string => `encode BTF: type ${id}`;
  const vl = (n: number): number => {
    if (n > 0xffff) throw new BtfError(`${where()}: ${n} entries exceed vlen`);
    return n;
  };
  const name = nameOf(t.name);
  if (name < 0) return false;
  const push = (w: number): void => {
    words.push(w >>> 0);
  };
  switch (t.kind) {
    case BtfKind.Void:
      throw new BtfError(`${where()}: void may only be type 0`);
    case BtfKind.Int: {
      const enc = (t.signed ? INT_SIGNED : 0) | (t.char ? INT_CHAR : 0) | (t.bool ? INT_BOOL : 0);
      push(name);
      push(kindInfo(t.kind, 0, false));
      push(t.size);
      push((enc << 24) | (t.bitOffset << 16) | t.bits);
      return true;
    }
    case BtfKind.Ptr:
      push(0);
      push(kindInfo(t.kind, 0, false));
      push(t.type);
      return true;
    case BtfKind.Array:
      push(0);
      push(kindInfo(t.kind, 0, false));
      push(0);
      push(t.type);
      push(t.indexType);
      push(t.nelems);
      return true;
    case BtfKind.Struct:
    case BtfKind.Union: {
      const kflag = t.members.some((m) => m.bitfieldSize !== 0);
      push(name);
      push(kindInfo(t.kind, vl(t.members.length), kflag));
      push(t.size);
      for (const m of t.members) {
        if (kflag && (m.bitOffset > 0xffffff || m.bitfieldSize > 0xff)) {
          throw new BtfError(`${where()}: member ${m.name} bitfield does not fit the encoding`);
        }
        const mn = nameOf(m.name);
        if (mn < 0) return false;
        push(mn);
        push(m.type);
        push(kflag ? (m.bitfieldSize << 24) | m.bitOffset : m.bitOffset);
      }
      return true;
    }
    case BtfKind.Enum:
      push(name);
      push(kindInfo(t.kind, vl(t.values.length), t.signed));
      push(t.size);
      for (const v of t.values) {
        const vn = nameOf(v.name);
        if (vn < 0) return false;
        push(vn);
        push(Number(BigInt.asUintN(32, v.value)));
      }
      return true;
    case BtfKind.Enum64:
      push(name);
      push(kindInfo(t.kind, vl(t.values.length), t.signed));
      push(t.size);
      for (const v of t.values) {
        const u = BigInt.asUintN(64, v.value);
        const vn = nameOf(v.name);
        if (vn < 0) return false;
        push(vn);
        push(Number(u & 0xffffffffn));
        push(Number(u >> 32n));
      }
      return true;
    case BtfKind.Fwd:
      push(name);
      push(kindInfo(t.kind, 0, t.union));
      push(0);
      return true;
    case BtfKind.Typedef:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.TypeTag:
      push(name);
      push(kindInfo(t.kind, 0, false));
      push(t.type);
      return true;
    case BtfKind.Func:
      push(name);
      push(kindInfo(t.kind, t.linkage, false));
      push(t.type);
      return true;
    case BtfKind.FuncProto:
      push(0);
      push(kindInfo(t.kind, vl(t.params.length), false));
      push(t.returnType);
      for (const p of t.params) {
        const pn = nameOf(p.name);
        if (pn < 0) return false;
        push(pn);
        push(p.type);
      }
      return true;
    case BtfKind.Var:
      push(name);
      push(kindInfo(t.kind, 0, false));
      push(t.type);
      push(t.linkage);
      return true;
    case BtfKind.Datasec:
      push(name);
      push(kindInfo(t.kind, vl(t.vars.length), false));
      push(t.size);
      for (const v of t.vars) {
        push(v.type);
        push(v.offset);
        push(v.size);
      }
      return true;
    case BtfKind.Float:
      push(name);
      push(kindInfo(t.kind, 0, false));
      push(t.size);
      return true;
    case BtfKind.DeclTag:
      push(name);
      push(kindInfo(t.kind, 0, false));
      push(t.type);
      push(t.componentIdx);
      return true;
    default:
      throw new BtfError(`${where()}: unknown kind ${(t as { kind: number }).kind}`);
  }
}

function encodeRaw(btf: Btf): Uint8Array {
  const baseStrLen = (btf as unknown as { baseStrLen: number }).baseStrLen;
  const sb = new StringBuilder(
    baseStrLen,
    (btf as unknown as { strings: StringTable }).strings.raw(),
  );
  // Split BTF may reuse base strings; the simplest correct choice is to write its own copies.
  const words: number[] = [];
  const nameOf = (s: string): number => sb.add(s);
  for (let id = btf.firstId === 0 ? 1 : btf.firstId; id < btf.types.length; id++) {
    encodeType(btf.types[id]!, id, nameOf, words);
  }
  const strs = sb.bytes();
  const typeLen = words.length * 4;
  const out = new Uint8Array(HEADER_LEN + typeLen + strs.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, BTF_MAGIC, true);
  dv.setUint8(2, 1);
  dv.setUint8(3, 0);
  dv.setUint32(4, HEADER_LEN, true);
  dv.setUint32(8, 0, true);
  dv.setUint32(12, typeLen, true);
  dv.setUint32(16, typeLen, true);
  dv.setUint32(20, strs.length, true);
  for (let i = 0; i < words.length; i++) dv.setUint32(HEADER_LEN + i * 4, words[i], true);
  out.set(strs, HEADER_LEN + typeLen);
  return out;
}
