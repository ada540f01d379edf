/**
 * Live maps. A {@link BpfMap} wraps a map fd and reads and writes entries either as raw bytes
 * or, when the map carries BTF, as plain JavaScript values decoded through its key and value
 * types.
 */
import { BPF_ATTR_SIZE, BpfCmd, isErrno, possibleCpus, sys, type Sys } from '../sys/index.js';
import { Attr, StructReader } from './attr.js';
import type { Btf } from './btf/btf.js';
import { decodeValue, encodeValue } from './btf/codec.js';
import { BtfKind } from './btf/types.js';
import { ClosedError, FD, fdById, nextIds, objInfo, openPinnedFd, pinFd } from './fd.js';
import { align8, arena, writeObjectName } from './scratch.js';
import type { MapSpec } from './spec.js';
import { isPerCPU, MapType, mapTypeName } from './types.js';

/** Update flags (BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
export enum UpdateFlags {
  Any = 0,
  NoExist = 1,
  Exist = 2,
  Lock = 4,
}

/** What the kernel reports about a map. */
export interface MapInfo {
  id: number;
  type: MapType;
  typeName: string;
  name: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
}

/** Options for creating a map. */
export interface MapCreateOptions {
  /** fd of loaded BTF holding the spec's key/value types. */
  btfFd?: number;
  /** fd of an inner map, for map-in-map types. */
  innerMapFd?: number;
}

const BPF_OBJ_NAME_LEN = 16;

/** Reads map info from an fd. */
export function mapInfoByFd(fd: number): MapInfo {
  const r = new StructReader(objInfo(fd, 88));
  const type = r.u32(0) as MapType;
  return {
    type,
    typeName: mapTypeName(type),
    id: r.u32(4),
    keySize: r.u32(8),
    valueSize: r.u32(12),
    maxEntries: r.u32(16),
    flags: r.u32(20),
    name: r.str(24, BPF_OBJ_NAME_LEN),
    btfId: r.u32(64),
    btfKeyTypeId: r.u32(68),
    btfValueTypeId: r.u32(72),
  };
}

/** A kernel-side name: at most 15 characters from [A-Za-z0-9_.]. */
export function kernelObjectName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, BPF_OBJ_NAME_LEN - 1);
}

/** What {@link BpfMap.create} needs of a spec: name, type, sizes and max entries at least. */
export type MapCreateSpec = Pick<
  MapSpec,
  'name' | 'type' | 'keySize' | 'valueSize' | 'maxEntries'
> &
  Partial<MapSpec>;

/**
 * Writes a BPF_MAP_CREATE attr at `base` of the arena (reserved by the caller); returns the
 * max entries it asked for (a perf event array of 0 gets one slot per possible CPU).
 */
function writeCreateAttr(partial: MapCreateSpec, opts: MapCreateOptions, base: number): number {
  const flags = partial.flags ?? 0;
  let maxEntries = partial.maxEntries;
  if (partial.type === MapType.PerfEventArray && maxEntries === 0) {
    // libbpf's convention: one slot per possible CPU.
    maxEntries = possibleCpus();
  }
  const { bytes, dv } = arena;
  bytes.fill(0, base, base + BPF_ATTR_SIZE);
  dv.setUint32(base, partial.type, true);
  dv.setUint32(base + 4, partial.keySize, true);
  dv.setUint32(base + 8, partial.valueSize, true);
  dv.setUint32(base + 12, maxEntries, true);
  dv.setUint32(
    base + 16,
    partial.numaNode !== undefined ? flags | 4 /* BPF_F_NUMA_NODE */ : flags,
    true,
  );
  dv.setUint32(base + 20, opts.innerMapFd ?? 0, true);
  dv.setUint32(base + 24, partial.numaNode ?? 0, true);
  writeObjectName(bytes, base + 28, partial.name);
  // Zeroed above; most maps have no map_extra, and a BigInt per creation costs.
  if (partial.mapExtra)
    dv.setBigUint64(base + 64, BigInt.asUintN(64, BigInt(partial.mapExtra)), true);
  if (
    opts.btfFd !== undefined &&
    (partial.keyType !== undefined || partial.valueType !== undefined)
  ) {
    dv.setUint32(base + 48, opts.btfFd, true);
    dv.setUint32(base + 52, partial.keyType ?? 0, true);
    dv.setUint32(base + 56, partial.valueType ?? 0, true);
  }
  return maxEntries;
}

/** Numbers maps for the element-operation scratch (0: none). */
let mapSerials = 0;

/** A map in the kernel. */
export class BpfMap {
  readonly fd: FD;
  private readonly serial = ++mapSerials;
  /** BTF for decoding keys and values, when known. */
  btf?: Btf;
  keyType?: number;
  valueType?: number;

  private constructor(
    fd: number,
    readonly name: string,
    readonly type: MapType,
    readonly keySize: number,
    readonly valueSize: number,
    readonly maxEntries: number,
    readonly flags: number,
  ) {
    this.fd = new FD(fd, `map ${name}`);
  }

  /**
   * Creates a map (BPF_MAP_CREATE) from a spec; only name, type, sizes and max entries are
   * required, e.g. `BpfMap.create({ name: 'counts', type: MapType.Hash, keySize: 4,
   * valueSize: 8, maxEntries: 1024 })`.
   */
  static create(partial: MapCreateSpec, opts: MapCreateOptions = {}): BpfMap {
    // The attr lives in the shared arena: no buffer to allocate and no address to look up.
    arena.reserve(BPF_ATTR_SIZE);
    const maxEntries = writeCreateAttr(partial, opts, 0);
    return BpfMap.createLaidOut(partial, maxEntries, 0);
  }

  /**
   * Creates several maps with their BPF_MAP_CREATE calls back to back, every attr written
   * first: each creation evicts the caches, and writing the next attr right after it cost more
   * than writing it. A map the kernel refuses is an Error in its slot (worded as
   * {@link create} words it); the others are created all the same, and are the caller's.
   */
  static createAll(
    items: readonly { spec: MapCreateSpec; opts?: MapCreateOptions }[],
  ): (BpfMap | Error)[] {
    const step = align8(BPF_ATTR_SIZE);
    arena.reserve(step * items.length);
    const maxEntries = items.map((it, i) => writeCreateAttr(it.spec, it.opts ?? {}, i * step));
    const out: (BpfMap | Error)[] = [];
    for (let i = 0; i < items.length; i++) {
      try {
        out.push(BpfMap.createLaidOut(items[i]!.spec, maxEntries[i]!, i * step));
      } catch (err) {
        out.push(err as Error);
      }
    }
    return out;
  }

  /** The creation of a map whose attr {@link writeCreateAttr} put at `base` of the arena. */
  private static createLaidOut(partial: MapCreateSpec, maxEntries: number, base: number): BpfMap {
    let fd: number;
    try {
      fd = sys().bpfAt(BpfCmd.MAP_CREATE, arena.baseNumber + base, BPF_ATTR_SIZE);
    } catch (err) {
      throw new Error(
        `create map ${partial.name} (${mapTypeName(partial.type)}): ${(err as Error).message}`,
        { cause: err },
      );
    }
    const m = new BpfMap(
      fd,
      partial.name,
      partial.type,
      partial.keySize,
      partial.valueSize,
      maxEntries,
      partial.flags ?? 0,
    );
    if (partial.btf) {
      m.btf = partial.btf;
      m.keyType = partial.keyType;
      m.valueType = partial.valueType;
    }
    return m;
  }

  /** Wraps an fd the caller owns (ownership passes to the map). */
  static fromFd(fd: number): BpfMap {
    const info = mapInfoByFd(fd);
    return new BpfMap(
      fd,
      info.name,
      info.type,
      info.keySize,
      info.valueSize,
      info.maxEntries,
      info.flags,
    );
  }

  /** Opens a map by kernel id. */
  static fromId(id: number): BpfMap {
    try {
      return BpfMap.fromFd(fdById(BpfCmd.MAP_GET_FD_BY_ID, id));
    } catch (err) {
      throw new Error(`open map id ${id}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Opens a map pinned in bpffs. */
  static openPinned(path: string): BpfMap {
    let fd: number;
    try {
      fd = openPinnedFd(path);
    } catch (err) {
      throw new Error(`open pinned map ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      return BpfMap.fromFd(fd);
    } catch (err) {
      sys().close(fd);
      throw new Error(`open pinned map ${path}: not a map: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Ids of every map in the kernel. */
  static ids(): number[] {
    return [...nextIds(BpfCmd.MAP_GET_NEXT_ID)];
  }

  /** The kernel's view of this map. */
  info(): MapInfo {
    return mapInfoByFd(this.fd.raw);
  }

  /** True when values are stored per CPU. */
  get perCPU(): boolean {
    return isPerCPU(this.type);
  }

  /** Size of the value buffer the kernel reads and writes: per-CPU values are padded to 8 and repeated. */
  get valueBufferSize(): number {
    return this.perCPU ? Math.ceil(this.valueSize / 8) * 8 * possibleCpus() : this.valueSize;
  }

  /** Encodes a key given as bytes, a number, or a value of the key's BTF type. */
  encodeKey(key: unknown): Uint8Array {
    return this.encode(key, this.keySize, this.keyType, 'key');
  }

  /** Encodes a value (for per-CPU maps: one value for all CPUs, or an array with one per CPU). */
  encodeValue(value: unknown): Uint8Array {
    if (!this.perCPU) return this.encode(value, this.valueSize, this.valueType, 'value');
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const n = possibleCpus();
    const out = new Uint8Array(stride * n);
    const list =
      Array.isArray(value) && !(this.valueType !== undefined && this.isArrayType(this.valueType))
        ? value
        : undefined;
    if (list && list.length !== n)
      throw new Error(`map ${this.name}: per-CPU value needs ${n} elements, got ${list.length}`);
    for (let i = 0; i < n; i++)
      out.set(
        this.encode(list ? list[i] : value, this.valueSize, this.valueType, `value[${i}]`),
        i * stride,
      );
    return out;
  }

  /** Decodes a key's bytes (through BTF when known). */
  decodeKey(bytes: Uint8Array): unknown {
    return this.decode(bytes, this.keyType);
  }

  /** Decodes a value's bytes; per-CPU maps give an array with one value per possible CPU. */
  decodeValue(bytes: Uint8Array): unknown {
    if (!this.perCPU) return this.decode(bytes, this.valueType);
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const out: unknown[] = [];
    for (let i = 0; i * stride < bytes.byteLength; i++)
      out.push(
        this.decode(bytes.subarray(i * stride, i * stride + this.valueSize), this.valueType),
      );
    return out;
  }

  private isArrayType(id: number): boolean {
    if (!this.btf) return false;
    return this.btf.type(this.btf.resolve(id)).kind === 3;
  }

  private encode(v: unknown, size: number, type: number | undefined, what: string): Uint8Array {
    if (v instanceof Uint8Array) {
      if (v.byteLength !== size)
        throw new Error(`map ${this.name}: ${what} must be ${size} bytes, got ${v.byteLength}`);
      return v;
    }
    if (this.btf && type !== undefined && type !== 0) {
      try {
        const b = encodeValue(this.btf, type, v);
        if (b.byteLength !== size)
          throw new Error(`encoded to ${b.byteLength} bytes, map wants ${size}`);
        return b;
      } catch (err) {
        throw new Error(`map ${this.name}: ${what}: ${(err as Error).message}`, { cause: err });
      }
    }
    if (
      (typeof v === 'number' || typeof v === 'bigint') &&
      (size === 1 || size === 2 || size === 4 || size === 8)
    ) {
      const out = new Uint8Array(size);
      const dv = new DataView(out.buffer);
      const n = BigInt(v);
      if (size === 8) dv.setBigUint64(0, BigInt.asUintN(64, n), true);
      else if (size === 4) dv.setUint32(0, Number(BigInt.asUintN(32, n)), true);
      else if (size === 2) dv.setUint16(0, Number(BigInt.asUintN(16, n)), true);
      else dv.setUint8(0, Number(BigInt.asUintN(8, n)));
      return out;
    }
    throw new Error(
      `map ${this.name}: cannot encode ${what} ${JSON.stringify(String(v))} without BTF: pass ${size} bytes`,
    );
  }

  private decode(bytes: Uint8Array, type: number | undefined): unknown {
    if (!this.btf || type === undefined || type === 0) {
      // Without BTF, 4- and 8-byte keys and values are almost always integers (array indexes,
      // counters, fds and ids): show them as numbers, other sizes as bytes.
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (bytes.byteLength === 4) return dv.getUint32(0, true);
      // 64-bit values are bigint, as they are when decoded through BTF.
      if (bytes.byteLength === 8) return dv.getBigUint64(0, true);
      return bytes;
    }
    const t = this.btf.type(type);
    if (t.kind === BtfKind.Datasec) {
      // A global-data section: one member per variable.
      const out: Record<string, unknown> = {};
      for (const v of t.vars) {
        const vt = this.btf.type(v.type);
        if (vt.kind !== BtfKind.Var) continue;
        out[vt.name] = decodeValue(this.btf, vt.type, bytes.subarray(v.offset, v.offset + v.size));
      }
      return out;
    }
    return decodeValue(this.btf, type, bytes);
  }

  /** valueBufferSize, computed once: the hot element operations ask for it on every call. */
  private vbs = -1;

  private bufferSize(): number {
    if (this.vbs < 0) this.vbs = this.valueBufferSize;
    return this.vbs;
  }

  /**
   * Issues one element command with the scratch key (or NULL) and a second pointer, and returns
   * the scratch (where the kernel left a value or next key).
   */
  private elemOp(
    cmd: BpfCmd,
    key: Uint8Array | undefined,
    second: 'value' | 'next' | 'none',
    flags: number,
    scratch?: ElemScratch,
  ): ElemScratch {
    const s = scratch ?? elemScratch(this.keySize, this.bufferSize());
    if (key) {
      const n = this.keySize;
      if (key.byteLength !== n) {
        throw new Error(`map ${this.name}: key must be ${n} bytes, got ${key.byteLength}`);
      }
      s.key.set(key);
    }
    const state =
      (key ? 1 : 0) | (second === 'value' ? 2 : second === 'next' ? 4 : 0) | (flags << 3);
    if (s.user !== this.serial || state !== s.state) {
      s.dv.setUint32(0, this.fd.raw, true);
      s.dv.setUint32(4, 0, true);
      s.dv.setBigUint64(8, key ? s.keyAddr : 0n, true);
      s.dv.setBigUint64(
        16,
        second === 'value' ? s.valueAddr : second === 'next' ? s.nextAddr : 0n,
        true,
      );
      s.dv.setUint32(24, flags, true);
      s.dv.setUint32(28, 0, true);
      s.user = this.serial;
      s.state = state;
    } else if (this.fd.closed) {
      throw new ClosedError(`map ${this.name}`);
    }
    s.sys.bpfAt(cmd, s.attrAddrNum, BPF_ATTR_SIZE);
    return s;
  }

  /**
   * Raw lookup: the value bytes, or undefined when the key is absent. With `out`, the value is
   * copied there (and `out` returned) instead of into a new buffer.
   */
  lookupBytes(key: Uint8Array, out?: Uint8Array): Uint8Array | undefined {
    let s: ElemScratch;
    try {
      s = this.elemOp(BpfCmd.MAP_LOOKUP_ELEM, key, 'value', 0);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw new Error(`map ${this.name}: lookup: ${(err as Error).message}`, { cause: err });
    }
    const v = s.value;
    const size = this.bufferSize();
    if (out) {
      const n = Math.min(out.byteLength, size);
      // Small values: copy in a loop rather than making a subarray view per lookup.
      if (n <= 32) for (let i = 0; i < n; i++) out[i] = v[i]!;
      else out.set(v.subarray(0, n));
      return out;
    }
    return v.slice(0, size);
  }

  /** Looks a key up and decodes the value; undefined when absent. */
  get(key: unknown): unknown {
    const v = this.lookupBytes(this.encodeKey(key));
    return v === undefined ? undefined : this.decodeValue(v);
  }

  /** Raw update. */
  updateBytes(key: Uint8Array, value: Uint8Array, flags: UpdateFlags = UpdateFlags.Any): void {
    if (value.byteLength !== this.bufferSize()) {
      throw new Error(
        `map ${this.name}: value must be ${this.valueBufferSize} bytes, got ${value.byteLength}`,
      );
    }
    const s = elemScratch(this.keySize, this.bufferSize());
    // TypedArray.prototype.set: measured faster than a byte loop over the caller's array.
    s.value.set(value);
    try {
      this.elemOp(BpfCmd.MAP_UPDATE_ELEM, key, 'value', flags, s);
    } catch (err) {
      throw new Error(`map ${this.name}: update: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Writes an entry; key and value are encoded through BTF when given as JS values. */
  set(key: unknown, value: unknown, flags: UpdateFlags = UpdateFlags.Any): void {
    this.updateBytes(this.encodeKey(key), this.encodeValue(value), flags);
  }

  /** Deletes an entry; returns false when it was absent. */
  delete(key: unknown): boolean {
    try {
      this.elemOp(BpfCmd.MAP_DELETE_ELEM, this.encodeKey(key), 'none', 0);
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw new Error(`map ${this.name}: delete: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The key after `key` (or the first key when undefined); undefined at the end. */
  nextKeyBytes(key: Uint8Array | undefined): Uint8Array | undefined {
    let s: ElemScratch;
    try {
      s = this.elemOp(BpfCmd.MAP_GET_NEXT_KEY, key, 'next', 0);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw new Error(`map ${this.name}: next key: ${(err as Error).message}`, { cause: err });
    }
    return s.next.slice(0, this.keySize);
  }

  /** Iterates raw keys. */
  *keysBytes(): Generator<Uint8Array> {
    let k: Uint8Array | undefined;
    const seen =
      this.type === MapType.Array || this.type === MapType.PerCPUArray ? this.maxEntries : Infinity;
    for (let i = 0; i < seen; i++) {
      k = this.nextKeyBytes(k);
      if (!k) return;
      yield k;
    }
  }

  /** Iterates raw entries (entries deleted while iterating are skipped). */
  *entriesBytes(): Generator<[Uint8Array, Uint8Array]> {
    for (const k of this.keysBytes()) {
      const v = this.lookupBytes(k);
      if (v) yield [k, v];
    }
  }

  /** Iterates decoded entries. */
  *entries(): Generator<[unknown, unknown]> {
    for (const [k, v] of this.entriesBytes()) yield [this.decodeKey(k), this.decodeValue(v)];
  }

  /**
   * BPF_MAP_LOOKUP_BATCH over the whole map into packed buffers: `count` keys of `keySize` bytes
   * and values of `valueBufferSize` bytes. `chunk` entries are fetched per call; the buffers grow
   * as needed (hash maps can briefly hold more than max_entries while being updated).
   */
  lookupBatchPacked(chunk = 4096): { keys: Uint8Array; values: Uint8Array; count: number } {
    const ks = this.keySize;
    const vs = this.valueBufferSize;
    let cap = Math.max(chunk, Math.min(this.maxEntries, 1 << 20));
    let keys = new Uint8Array(cap * ks);
    let values = new Uint8Array(cap * vs);
    const cursorSize = Math.max(8, ks);
    const inB = new Uint8Array(cursorSize);
    const outB = new Uint8Array(cursorSize);
    let count = 0;
    let first = true;
    for (;;) {
      if (count + chunk > cap) {
        cap = Math.max(cap * 2, count + chunk);
        const k2 = new Uint8Array(cap * ks);
        k2.set(keys.subarray(0, count * ks));
        const v2 = new Uint8Array(cap * vs);
        v2.set(values.subarray(0, count * vs));
        keys = k2;
        values = v2;
      }
      const a = new Attr()
        .ptr(0, first ? undefined : inB)
        .ptr(8, outB)
        .ptr(16, keys.subarray(count * ks))
        .ptr(24, values.subarray(count * vs))
        .u32(32, chunk)
        .u32(36, this.fd.raw);
      let done = false;
      try {
        sys().bpf(BpfCmd.MAP_LOOKUP_BATCH, a.bytes);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) {
          throw new Error(`map ${this.name}: lookup batch: ${(err as Error).message}`, {
            cause: err,
          });
        }
        done = true;
      }
      count += a.getU32(32);
      if (done) break;
      inB.set(outB);
      first = false;
    }
    return { keys: keys.subarray(0, count * ks), values: values.subarray(0, count * vs), count };
  }

  /** BPF_MAP_LOOKUP_BATCH over the whole map: raw keys and values, one array entry each. */
  lookupBatchBytes(chunk = 4096): { keys: Uint8Array[]; values: Uint8Array[] } {
    const { keys, values, count } = this.lookupBatchPacked(chunk);
    const ks = this.keySize;
    const vs = this.valueBufferSize;
    return {
      keys: Array.from({ length: count }, (_, i) => keys.subarray(i * ks, (i + 1) * ks)),
      values: Array.from({ length: count }, (_, i) => values.subarray(i * vs, (i + 1) * vs)),
    };
  }

  /** BPF_MAP_UPDATE_BATCH with packed raw keys and values; returns the count written. */
  updateBatchBytes(
    keys: Uint8Array,
    values: Uint8Array,
    count: number,
    flags: UpdateFlags = UpdateFlags.Any,
  ): number {
    const a = new Attr()
      .ptr(16, keys)
      .ptr(24, values)
      .u32(32, count)
      .u32(36, this.fd.raw)
      .u64(40, flags);
    try {
      sys().bpf(BpfCmd.MAP_UPDATE_BATCH, a.bytes);
    } catch (err) {
      throw updateBatchError(this.name, a.getU32(32), count, err);
    }
    return a.getU32(32);
  }

  /** BPF_MAP_DELETE_BATCH with packed raw keys; returns the count deleted. */
  deleteBatchBytes(keys: Uint8Array, count: number): number {
    const a = new Attr().ptr(16, keys).u32(32, count).u32(36, this.fd.raw);
    try {
      sys().bpf(BpfCmd.MAP_DELETE_BATCH, a.bytes);
    } catch (err) {
      if (!isErrno(err, 'ENOENT'))
        throw new Error(`map ${this.name}: delete batch: ${(err as Error).message}`, {
          cause: err,
        });
    }
    return a.getU32(32);
  }

  /** Writes many decoded entries with one batch call. */
  setBatch(entries: [unknown, unknown][], flags: UpdateFlags = UpdateFlags.Any): number {
    const vsz = this.valueBufferSize;
    const keys = new Uint8Array(entries.length * this.keySize);
    const values = new Uint8Array(entries.length * vsz);
    entries.forEach(([k, v], i) => {
      keys.set(this.encodeKey(k), i * this.keySize);
      values.set(this.encodeValue(v), i * vsz);
    });
    return this.updateBatchBytes(keys, values, entries.length, flags);
  }

  /** Reads every entry decoded, with batch lookups where the map type supports them. */
  dump(): [unknown, unknown][] {
    try {
      const { keys, values } = this.lookupBatchBytes();
      return keys.map((k, i) => [this.decodeKey(k), this.decodeValue(values[i]!)]);
    } catch (err) {
      if (!batchUnsupported(err)) throw err;
      return [...this.entries()];
    }
  }

  /** Makes the map read-only from user space (BPF_MAP_FREEZE). */
  freeze(): void {
    try {
      const fd = this.fd.raw;
      arena.reserve(BPF_ATTR_SIZE);
      arena.bytes.fill(0, 0, BPF_ATTR_SIZE);
      arena.dv.setUint32(0, fd, true);
      sys().bpfAt(BpfCmd.MAP_FREEZE, arena.baseNumber, BPF_ATTR_SIZE);
    } catch (err) {
      throw new Error(`map ${this.name}: freeze: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Pins the map at a bpffs path. */
  pin(path: string): void {
    try {
      pinFd(this.fd.raw, path);
    } catch (err) {
      throw new Error(`map ${this.name}: pin at ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Closes the fd. The kernel frees the map once nothing else holds it. */
  close(): void {
    this.fd.close();
  }
}

/**
 * Buffers shared by every map's element operations (one set per thread, as every call is
 * synchronous): the attr, a key, a value and a next-key buffer. Their addresses are taken once:
 * ArrayBuffers made with `new ArrayBuffer` live outside V8's moving heap. Sharing them means a
 * map costs no allocation until it is used, and creating the maps of an object costs none.
 */
interface ElemScratch {
  sys: Sys;
  attr: Uint8Array;
  dv: DataView;
  key: Uint8Array;
  value: Uint8Array;
  next: Uint8Array;
  attrAddr: bigint;
  /** attrAddr as a number: the FFI takes it without a BigInt conversion. */
  attrAddrNum: number;
  keyAddr: bigint;
  valueAddr: bigint;
  nextAddr: bigint;
  /**
   * The map (its serial: a reference would keep a forgotten map, and its fd, alive) and the
   * pointer layout the attr currently holds, so hot loops rewrite nothing.
   */
  user: number;
  state: number;
}

let scratch: ElemScratch | undefined;

function elemScratch(keySize: number, valueSize: number): ElemScratch {
  const cur = sys();
  const s = scratch;
  if (
    s !== undefined &&
    s.sys === cur &&
    s.key.byteLength >= keySize &&
    s.value.byteLength >= valueSize
  )
    return s;
  const keyCap = Math.max(64, keySize, s?.key.byteLength ?? 0);
  const valueCap = Math.max(256, valueSize, s?.value.byteLength ?? 0);
  const attr = s?.attr ?? new Uint8Array(new ArrayBuffer(BPF_ATTR_SIZE));
  const key = s && s.key.byteLength >= keyCap ? s.key : new Uint8Array(new ArrayBuffer(keyCap));
  const next = s && s.next.byteLength >= keyCap ? s.next : new Uint8Array(new ArrayBuffer(keyCap));
  const value =
    s && s.value.byteLength >= valueCap ? s.value : new Uint8Array(new ArrayBuffer(valueCap));
  scratch = {
    sys: cur,
    attr,
    dv: new DataView(attr.buffer),
    key,
    value,
    next,
    attrAddr: 0n,
    attrAddrNum: 0,
    keyAddr: cur.address(key),
    valueAddr: cur.address(value),
    nextAddr: cur.address(next),
    user: 0,
    state: -1,
  };
  scratch.attrAddr = cur.address(attr);
  scratch.attrAddrNum = Number(scratch.attrAddr);
  return scratch;
}

/** A batch command the kernel refuses for this map type (before 5.6, or a type without them). */
function batchUnsupported(err: unknown): boolean {
  return isErrno(err, 'EINVAL', 'ENOTSUPP', 'EOPNOTSUPP', 'ENOTSUP');
}

/** A failed BPF_MAP_UPDATE_BATCH, saying how many of the entries the kernel wrote. */
function updateBatchError(map: string, done: number, count: number, err: unknown): Error {
  return new Error(
    `map ${map}: update batch (${done} of ${count} done): ${(err as Error).message}`,
    { cause: err },
  );
}

/** One map's u32 slots for {@link updateBatchesU32}. */
export interface U32Batch {
  map: BpfMap;
  keys: readonly number[];
  values: readonly number[];
}

/**
 * Writes several maps' u32 keys and values (the inner-map fds of maps of maps) with one
 * BPF_MAP_UPDATE_BATCH per map, every attr laid out in the shared arena before the first call.
 * The kernel sleeps through an RCU grace period after each of these updates, and whatever runs
 * after a sleep runs with cold caches (a fresh buffer or a few calls cost tens of microseconds
 * there), so the calls go back to back. Returns how many batches were written: it stops at the
 * first the kernel refuses as unsupported (EINVAL, ENOTSUPP: kernels before 5.6), so the caller
 * can write the rest one slot at a time; any other error throws, naming the map.
 */
export function updateBatchesU32(batches: readonly U32Batch[]): number {
  const at: number[] = [];
  let end = 0;
  for (const b of batches) {
    at.push(end);
    end += BPF_ATTR_SIZE + 2 * ((b.keys.length * 4 + 7) & ~7);
  }
  arena.reserve(end);
  const { bytes, dv, u32 } = arena;
  bytes.fill(0, 0, end);
  batches.forEach((b, i) => {
    const n = b.keys.length;
    const keysOff = at[i]! + BPF_ATTR_SIZE;
    const valuesOff = keysOff + ((n * 4 + 7) & ~7);
    for (let k = 0; k < n; k++) {
      u32[(keysOff >>> 2) + k] = b.keys[k]!;
      u32[(valuesOff >>> 2) + k] = b.values[k]!;
    }
    arena.setAddress(at[i]! + 16, keysOff);
    arena.setAddress(at[i]! + 24, valuesOff);
    dv.setUint32(at[i]! + 32, n, true);
    dv.setUint32(at[i]! + 36, b.map.fd.raw, true);
  });
  const s = sys();
  const base = arena.baseNumber;
  let i = 0;
  try {
    for (; i < batches.length; i++) s.bpfAt(BpfCmd.MAP_UPDATE_BATCH, base + at[i]!, BPF_ATTR_SIZE);
  } catch (err) {
    if (batchUnsupported(err)) return i;
    const b = batches[i]!;
    throw updateBatchError(b.map.name, dv.getUint32(at[i]! + 32, true), b.keys.length, err);
  }
  return i;
}
