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

/**
 * Parsed BTF. Types are validated when parsed but decoded into objects only when asked for
 * ({@link type}): a loader reads a handful of an object's types, CO-RE a few hundred of the
 * kernel's 100,000-odd, and decoding them all was most of a parse. For split BTF the base's ids
 * come first.
 */
export class Btf {
  /** The base this BTF was split from, if any. */
  readonly base: Btf | undefined;
  /** Number of ids owned by the base (0 for standalone BTF): own types start at this id. */
  readonly firstId: number;
  private readonly strings: StringTable;
  /** Length of the base's string section as the kernel sees it (split string offsets start here). */
  private readonly baseStrLen: number;
  /**
   * Kind and name of every type, by id: scans over all types (by name, by kind) read these
   * small arrays and decode nothing.
   */
  private readonly kinds: BtfKind[];
  private readonly names: string[];
  /** Types by id as decoded so far (holes are not decoded yet; base ids stay holes). */
  private readonly cache: (BtfType | undefined)[];
  /** Where each parsed own type starts in {@link view}, by id − firstId. */
  private readonly offsets: number[];
  private readonly view: DataView | undefined;
  /** True once {@link types} has filled every hole of {@link cache}. */
  private complete = false;
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

  /** `kinds`, `names` and `offsets` are the blob's own types (void first when standalone). */
  private constructor(
    strings: StringTable,
    base: Btf | undefined,
    kinds: BtfKind[],
    names: string[],
    offsets: number[],
    view: DataView | undefined,
  ) {
    this.strings = strings;
    this.base = base;
    this.firstId = base ? base.count : 0;
    this.baseStrLen = base ? base.stringsLength() : 0;
    this.kinds = base ? base.kinds.concat(kinds) : kinds;
    this.names = base ? base.names.concat(names) : names;
    this.offsets = offsets;
    this.view = view;
    this.cache = new Array<BtfType | undefined>(this.kinds.length);
    if (!base) this.cache[0] = VOID;
  }

  /** Number of type ids, void and (for split BTF) the base's included. */
  get count(): number {
    return this.kinds.length;
  }

  /**
   * Every type by id (`types[0]` is void), all decoded on first use: {@link type} and
   * {@link count} decode only what they touch. The array is live; change it only through
   * {@link add} and {@link set}.
   */
  get types(): BtfType[] {
    if (!this.complete) {
      const { cache } = this;
      for (let id = 0; id < cache.length; id++) cache[id] ??= this.decode(id);
      this.complete = true;
    }
    return this.cache as BtfType[];
  }

  /** An empty BTF (only void), or an empty split BTF on top of `base`, to build with {@link add}. */
  static empty(base?: Btf): Btf {
    const strings = new StringTable(new Uint8Array(1));
    return base
      ? new Btf(strings, base, [], [], [], undefined)
      : new Btf(strings, undefined, [BtfKind.Void], [''], [-1], undefined);
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
      const btf = new Btf(
        parsed.strings,
        base,
        parsed.kinds,
        parsed.names,
        parsed.offsets,
        parsed.view,
      );
      if (parsed.raw) {
        btf.raw = parsed.raw;
        btf.rawCount = btf.count;
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
    this.checkId(id);
    return this.cache[id] ?? this.decode(id);
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.kinds.length) {
      throw new BtfError(`BTF: type id ${id} out of range (have ${this.kinds.length} types)`);
    }
  }

  /** Decodes a parsed type (validated by the parse, so this cannot fail) and keeps it. */
  private decode(id: number): BtfType {
    if (id < this.firstId) return this.base!.type(id);
    const t = decodeType(this.view!, this.offsets[id - this.firstId]!, this.names[id]!, this);
    this.cache[id] = t;
    return t;
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
    if (this.nameIndex === undefined && this.kinds.length <= SCAN_LIMIT) {
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
    if (this.kinds.length > MAX_TYPE) throw new BtfError(`BTF: too many types (max ${MAX_TYPE})`);
    this.cache.push(t);
    this.kinds.push(t.kind);
    this.names.push(t.name);
    this.invalidate();
    return this.kinds.length - 1;
  }

  /** Replaces the type with this id (fixups rewrite DATASECs and VARs in place). */
  set(id: number, t: BtfType): void {
    // A range check only: the type being replaced need not be decoded.
    this.checkId(id);
    if (id === 0) throw new BtfError('BTF: cannot replace void (type 0)');
    if (id < this.firstId) throw new BtfError(`BTF: type ${id} belongs to the base BTF`);
    this.cache[id] = t;
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
    if (raw !== undefined && this.kinds.length === this.rawCount) {
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
    // The blob is standalone and canonical (else no raw): offsets index by id, types are
    // back to back from the header, and the last ends where the strings start.
    const typeEnd = HEADER_LEN + dv.getUint32(12, true);
    const { offsets } = this;
    const words: number[] = [];
    for (const id of this.dirty) {
      words.length = 0;
      const at = offsets[id]!;
      const next = id + 1 < offsets.length ? offsets[id + 1]! : typeEnd;
      // Fix-ups keep names: the type's own name is usually where it was, no table search.
      const origName = dv.getUint32(at, true);
      const nameOf = (n: string): number =>
        n !== '' && this.strings.get(origName) === n ? origName : this.strings.find(n);
      if (!encodeType(this.cache[id]!, id, nameOf, words)) return false;
      if (words.length * 4 !== next - at) return false;
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
    if (raw !== undefined && this.kinds.length === this.rawCount) {
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

/** What parsing yields: the blob's own types (void first when standalone), unchanged. */
interface Parsed {
  kinds: BtfKind[];
  names: string[];
  /** Where each type starts in `view`. */
  offsets: number[];
  view: DataView;
  strings: StringTable;
  /** The blob, when encode may patch a copy of it. */
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
  // Member, parameter and enumerator names are only checked here, and read when their type is
  // decoded. The section ends with a NUL (checked above), so any offset inside it is a string.
  const checkName = (off: number, where: number): void => {
    if (off === 0 || (base && off < baseStrLen)) return;
    const rel = off - baseStrLen;
    if (rel !== 0 && rel >= strLen) {
      throw new BtfError(
        `parse BTF: offset ${where}: name offset ${off} outside the string section`,
      );
    }
  };

  // Whether encode() may start from these bytes: standalone, laid out as the encoder lays it
  // out, and (checked per type below) no kind_flag the encoder would drop.
  let canonical =
    !base &&
    hdrLen === HEADER_LEN &&
    typeOff === 0 &&
    strOff === typeLen &&
    hdrLen + strOff + strLen === bytes.byteLength;
  const kinds: BtfKind[] = base ? [] : [BtfKind.Void];
  const names: string[] = base ? [] : [''];
  const offsets: number[] = base ? [] : [-1];
  const firstId = base ? base.count : 0;
  const start = hdrLen + typeOff;
  const end = start + typeLen;
  let off = start;
  while (off < end) {
    const id = firstId + kinds.length;
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
        break;
      }
      case BtfKind.Ptr:
        if (vlen !== 0 || kflag || nameOff !== 0)
          throw typeError(off, id, kind, 'ptr must have no name, vlen or kind_flag');
        break;
      case BtfKind.Array:
        if (vlen !== 0 || kflag || nameOff !== 0 || sizeType !== 0) {
          throw typeError(off, id, kind, 'array must have no name, vlen, kind_flag or size');
        }
        break;
      case BtfKind.Struct:
      case BtfKind.Union:
        for (let i = 0; i < vlen; i++) {
          const m = body + i * 12;
          checkName(dv.getUint32(m, true), m);
          const o = dv.getUint32(m + 8, true);
          const bitOffset = kflag ? o & 0xffffff : o;
          const bitfieldSize = kflag ? o >>> 24 : 0;
          if (bitOffset + bitfieldSize > sizeType * 8) {
            throw typeError(
              off,
              id,
              kind,
              `member ${i} at bit ${bitOffset} lies past size ${sizeType}`,
            );
          }
        }
        break;
      case BtfKind.Enum:
      case BtfKind.Enum64: {
        if (!enumSizeOk(sizeType)) throw typeError(off, id, kind, `bad enum size ${sizeType}`);
        const step = kind === BtfKind.Enum ? 8 : 12;
        for (let i = 0; i < vlen; i++)
          checkName(dv.getUint32(body + i * step, true), body + i * step);
        break;
      }
      case BtfKind.Fwd:
        if (vlen !== 0 || sizeType !== 0 || name === '')
          throw typeError(off, id, kind, 'fwd needs a name and no vlen/type');
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
        break;
      case BtfKind.Func:
        if (name === '') throw typeError(off, id, kind, 'func needs a name');
        if (vlen > 2) throw typeError(off, id, kind, `bad linkage ${vlen}`);
        if (kflag) canonical = false;
        break;
      case BtfKind.FuncProto:
        if (nameOff !== 0 || kflag)
          throw typeError(off, id, kind, 'func_proto must have no name or kind_flag');
        for (let i = 0; i < vlen; i++) {
          const p = body + i * 8;
          checkName(dv.getUint32(p, true), p);
        }
        break;
      case BtfKind.Var:
        if (vlen !== 0 || kflag || name === '')
          throw typeError(off, id, kind, 'var needs a name and no vlen/kind_flag');
        break;
      case BtfKind.Datasec:
        if (name === '') throw typeError(off, id, kind, 'datasec needs a name');
        if (kflag) canonical = false;
        break;
      case BtfKind.Float:
        if (vlen !== 0 || kflag || !floatSizeOk(sizeType))
          throw typeError(off, id, kind, `bad float size ${sizeType}`);
        break;
      case BtfKind.DeclTag:
        if (vlen !== 0 || name === '')
          throw typeError(off, id, kind, 'decl_tag needs a name and no vlen');
        if (kflag) canonical = false;
        break;
      default:
        throw typeError(off, id, kind, 'unknown kind');
    }
    kinds.push(kind);
    names.push(name);
    offsets.push(off);
    off = body + len;
  }
  // Every reference must point at an existing type; checked after the fact since BTF may refer
  // forward. Read from the blob: nothing is decoded yet.
  const n = firstId + kinds.length;
  const check = (id: number, ref: number, what: string): void => {
    if (ref >= n)
      throw new BtfError(`parse BTF: type ${id}: ${what} refers to type ${ref}, have ${n}`);
  };
  const kindAt = (id: number): BtfKind | undefined =>
    id < firstId ? base!.kindOf(id) : kinds[id - firstId];
  for (let i = base ? 0 : 1; i < kinds.length; i++) {
    const id = firstId + i;
    const at = offsets[i]!;
    const ref = dv.getUint32(at + 8, true);
    const body = at + TYPE_HEADER;
    const vlen = dv.getUint32(at + 4, true) & 0xffff;
    switch (kinds[i]) {
      case BtfKind.Ptr:
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
      case BtfKind.Var:
      case BtfKind.DeclTag:
        if (ref >= n) check(id, ref, 'type');
        if (ref === id) throw new BtfError(`parse BTF: type ${id}: refers to itself`);
        break;
      case BtfKind.Func:
        if (ref >= n) check(id, ref, 'type');
        if (kindAt(ref) !== BtfKind.FuncProto) {
          throw new BtfError(
            `parse BTF: type ${id}: func ${names[i]} does not point at a func_proto`,
          );
        }
        break;
      case BtfKind.Array:
        check(id, dv.getUint32(body, true), 'element type');
        check(id, dv.getUint32(body + 4, true), 'index type');
        break;
      case BtfKind.Struct:
      case BtfKind.Union:
        for (let k = 0; k < vlen; k++) {
          const t = dv.getUint32(body + k * 12 + 4, true);
          if (t >= n) check(id, t, `member ${k}`);
        }
        break;
      case BtfKind.FuncProto:
        check(id, ref, 'return type');
        for (let k = 0; k < vlen; k++) {
          const t = dv.getUint32(body + k * 8 + 4, true);
          if (t >= n) check(id, t, `param ${k}`);
        }
        break;
      case BtfKind.Datasec:
        for (let k = 0; k < vlen; k++) {
          const t = dv.getUint32(body + k * 12, true);
          if (t >= n) check(id, t, `var ${k}`);
        }
        break;
      default:
        break;
    }
  }
  return { kinds, names, offsets, view: dv, strings, raw: canonical ? bytes : undefined };
}

/**
 * Decodes the type at `off` of a blob {@link parseRaw} has checked. `name` is its own name
 * (already read by the parse); `strs` reads the names of members, parameters and enumerators.
 */
function decodeType(
  dv: DataView,
  off: number,
  name: string,
  strs: { string(off: number): string },
): BtfType {
  const info = dv.getUint32(off + 4, true);
  const sizeType = dv.getUint32(off + 8, true);
  const vlen = info & 0xffff;
  const kind = (info >>> 24) & 0x1f;
  const kflag = info >>> 31 !== 0;
  const body = off + TYPE_HEADER;
  switch (kind) {
    case BtfKind.Int: {
      const enc = dv.getUint32(body, true);
      const encoding = (enc >>> 24) & 0x0f;
      return {
        kind,
        name,
        size: sizeType,
        signed: (encoding & INT_SIGNED) !== 0,
        char: (encoding & INT_CHAR) !== 0,
        bool: (encoding & INT_BOOL) !== 0,
        bits: enc & 0xff,
        bitOffset: (enc >>> 16) & 0xff,
      };
    }
    case BtfKind.Ptr:
      return { kind, name: '', type: sizeType };
    case BtfKind.Array:
      return {
        kind,
        name: '',
        type: dv.getUint32(body, true),
        indexType: dv.getUint32(body + 4, true),
        nelems: dv.getUint32(body + 8, true),
      };
    case BtfKind.Struct:
    case BtfKind.Union: {
      const members: BtfMember[] = new Array<BtfMember>(vlen);
      for (let i = 0; i < vlen; i++) {
        const m = body + i * 12;
        const o = dv.getUint32(m + 8, true);
        const mNameOff = dv.getUint32(m, true);
        members[i] = {
          name: mNameOff === 0 ? '' : strs.string(mNameOff),
          type: dv.getUint32(m + 4, true),
          bitOffset: kflag ? o & 0xffffff : o,
          bitfieldSize: kflag ? o >>> 24 : 0,
        };
      }
      return { kind, name, size: sizeType, members };
    }
    case BtfKind.Enum: {
      const values = new Array<BtfEnumValue>(vlen);
      for (let i = 0; i < vlen; i++) {
        const e = body + i * 8;
        const v = kflag ? dv.getInt32(e + 4, true) : dv.getUint32(e + 4, true);
        values[i] = { name: strs.string(dv.getUint32(e, true)), value: BigInt(v) };
      }
      return { kind, name, size: sizeType, signed: kflag, values };
    }
    case BtfKind.Enum64: {
      const values = new Array<BtfEnumValue>(vlen);
      for (let i = 0; i < vlen; i++) {
        const e = body + i * 12;
        const raw = BigInt(dv.getUint32(e + 4, true)) | (BigInt(dv.getUint32(e + 8, true)) << 32n);
        values[i] = {
          name: strs.string(dv.getUint32(e, true)),
          value: kflag ? BigInt.asIntN(64, raw) : raw,
        };
      }
      return { kind, name, size: sizeType, signed: kflag, values };
    }
    case BtfKind.Fwd:
      return { kind, name, union: kflag };
    case BtfKind.Typedef:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.TypeTag:
      return { kind, name, type: sizeType };
    case BtfKind.Func:
      return { kind, name, type: sizeType, linkage: vlen };
    case BtfKind.FuncProto: {
      const params = new Array<BtfParam>(vlen);
      for (let i = 0; i < vlen; i++) {
        const p = body + i * 8;
        const pNameOff = dv.getUint32(p, true);
        params[i] = {
          name: pNameOff === 0 ? '' : strs.string(pNameOff),
          type: dv.getUint32(p + 4, true),
        };
      }
      return { kind, name: '', returnType: sizeType, params };
    }
    case BtfKind.Var:
      return { kind, name, type: sizeType, linkage: dv.getUint32(body, true) };
    case BtfKind.Datasec: {
      const vars = new Array<BtfVarSecinfo>(vlen);
      for (let i = 0; i < vlen; i++) {
        const v = body + i * 12;
        vars[i] = {
          type: dv.getUint32(v, true),
          offset: dv.getUint32(v + 4, true),
          size: dv.getUint32(v + 8, true),
        };
      }
      return { kind, name, size: sizeType, vars };
    }
    case BtfKind.Float:
      return { kind, name, size: sizeType };
    case BtfKind.DeclTag:
      return { kind, name, type: sizeType, componentIdx: dv.getInt32(body, true) };
    default:
      // parseRaw refuses unknown kinds: only a bug gets here.
      throw new BtfError(`BTF: type at offset ${off}: unknown kind ${kind}`);
  }
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
  for (let id = btf.firstId === 0 ? 1 : btf.firstId; id < btf.count; id++) {
    encodeType(btf.type(id), id, nameOf, words);
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
