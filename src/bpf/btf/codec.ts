/**
 * Converts between BTF-typed bytes (map keys and values, global variables) and plain
 * JavaScript values, so users write `{ port: 80, addr: "..." }` instead of byte arrays.
 * Errors name the field path so a bad config points at the exact field.
 */
import { Btf, BtfError } from './btf.js';
import { BtfKind, type BtfMember, type BtfType } from './types.js';

const MAX_DEPTH = 64;

type Struct = Extract<BtfType, { kind: BtfKind.Struct | BtfKind.Union }>;
type IntT = Extract<BtfType, { kind: BtfKind.Int }>;

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

function fail(path: string, msg: string): never {
  throw new BtfError(`${path}: ${msg}`);
}

/** True for an int type that spells text: `char` (clang marks it signed, not char) or kind_flag char. */
function isCharInt(t: BtfType): boolean {
  return t.kind === BtfKind.Int && t.size === 1 && (t.char || t.name === 'char');
}

/** Members flattened through anonymous struct/union members, as C lets you name them. */
function namedMembers(
  btf: Btf,
  t: Struct,
  baseBits = 0,
  depth = 0,
): { m: BtfMember; bitOffset: number }[] {
  if (depth > MAX_DEPTH) throw new BtfError(`type ${t.name || '(anon)'}: nesting too deep`);
  const out: { m: BtfMember; bitOffset: number }[] = [];
  for (const m of t.members) {
    if (m.name === '') {
      const inner = btf.type(btf.resolve(m.type));
      if (inner.kind === BtfKind.Struct || inner.kind === BtfKind.Union) {
        out.push(...namedMembers(btf, inner, baseBits + m.bitOffset, depth + 1));
        continue;
      }
      continue; // unnamed bitfield padding
    }
    out.push({ m, bitOffset: baseBits + m.bitOffset });
  }
  return out;
}

function intRange(size: number, signed: boolean): [bigint, bigint] {
  const bits = BigInt(size * 8);
  return signed ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n] : [0n, (1n << bits) - 1n];
}

function toBigInt(v: unknown, path: string, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) fail(path, `expected ${what}, got ${describe(v)}`);
    if (!Number.isSafeInteger(v)) fail(path, `${v} is not exactly representable: pass a bigint`);
    return BigInt(v);
  }
  if (typeof v === 'boolean') return v ? 1n : 0n;
  fail(path, `expected ${what}, got ${describe(v)}`);
}

function writeUint(dv: DataView, off: number, size: number, v: bigint): void {
  const u = BigInt.asUintN(size * 8, v);
  for (let i = 0; i < size; i++) dv.setUint8(off + i, Number((u >> BigInt(i * 8)) & 0xffn));
}

function readUint(dv: DataView, off: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(dv.getUint8(off + i));
  return v;
}

/** Encodes `value` as the bytes of BTF type `typeId`. `path` names the root in error messages. */
export function encodeValue(btf: Btf, typeId: number, value: unknown, path = 'value'): Uint8Array {
  const size = btf.sizeof(typeId);
  if (value instanceof Uint8Array) {
    if (value.byteLength !== size) fail(path, `expected ${size} bytes, got ${value.byteLength}`);
    return value.slice();
  }
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  encodeInto(btf, typeId, value, dv, 0, path, 0);
  return out;
}

function encodeInto(
  btf: Btf,
  id: number,
  v: unknown,
  dv: DataView,
  off: number,
  path: string,
  depth: number,
): void {
  if (depth > MAX_DEPTH) fail(path, 'type nesting too deep');
  const rid = btf.resolve(id);
  const t = btf.type(rid);
  switch (t.kind) {
    case BtfKind.Int:
      encodeInt(t, v, dv, off, path);
      return;
    case BtfKind.Enum:
    case BtfKind.Enum64: {
      let n: bigint;
      if (typeof v === 'string') {
        const e = t.values.find((x) => x.name === v);
        if (!e) fail(path, `${JSON.stringify(v)} is not an enumerator of ${btf.typeName(rid)}`);
        n = e.value;
      } else {
        n = toBigInt(v, path, 'enumerator name or integer');
      }
      const [lo, hi] = intRange(t.size, t.signed);
      const [, uhi] = intRange(t.size, false);
      if (n < lo || n > (t.signed ? hi : uhi))
        fail(path, `${n} out of range for ${btf.typeName(rid)}`);
      writeUint(dv, off, t.size, n);
      return;
    }
    case BtfKind.Ptr: {
      const n = toBigInt(v, path, 'pointer (integer)');
      if (n < 0n || n >= 1n << 64n) fail(path, `pointer ${n} out of range`);
      dv.setBigUint64(off, n, true);
      return;
    }
    case BtfKind.Float: {
      if (typeof v !== 'number') fail(path, `expected number, got ${describe(v)}`);
      if (t.size === 4) dv.setFloat32(off, v, true);
      else if (t.size === 8) dv.setFloat64(off, v, true);
      else fail(path, `${t.size}-byte floats are not supported`);
      return;
    }
    case BtfKind.Array: {
      const elemId = btf.resolve(t.type);
      const elem = btf.type(elemId);
      const esz = btf.sizeof(elemId);
      if (isCharInt(elem) && typeof v === 'string') {
        const b = Buffer.from(v, 'utf8');
        if (b.length > t.nelems)
          fail(path, `string of ${b.length} bytes does not fit char[${t.nelems}]`);
        new Uint8Array(dv.buffer, dv.byteOffset + off, b.length).set(b);
        return;
      }
      if (v instanceof Uint8Array && esz === 1) {
        if (v.byteLength > t.nelems) fail(path, `${v.byteLength} bytes do not fit [${t.nelems}]`);
        new Uint8Array(dv.buffer, dv.byteOffset + off, v.byteLength).set(v);
        return;
      }
      if (!Array.isArray(v)) {
        fail(
          path,
          `expected ${isCharInt(elem) ? 'string or array' : 'array'} of ${t.nelems}, got ${describe(v)}`,
        );
      }
      const fits = isCharInt(elem) ? v.length <= t.nelems : v.length === t.nelems;
      if (!fits) fail(path, `expected ${t.nelems} elements, got ${v.length}`);
      v.forEach((x, i) =>
        encodeInto(btf, elemId, x, dv, off + i * esz, `${path}[${i}]`, depth + 1),
      );
      return;
    }
    case BtfKind.Struct:
    case BtfKind.Union: {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) {
        fail(path, `expected object for ${btf.typeName(rid)}, got ${describe(v)}`);
      }
      encodeComposite(btf, rid, t, v as Record<string, unknown>, dv, off, path, depth, true);
      return;
    }
    default:
      fail(path, `cannot encode a value of ${BtfKind[t.kind]} type ${btf.typeName(rid)}`);
  }
}

/**
 * Encodes a struct or union from `obj`. Anonymous members read their fields from the same
 * object (C lets you name them directly); a union, anonymous or not, takes exactly one field.
 */
function encodeComposite(
  btf: Btf,
  id: number,
  t: Struct,
  obj: Record<string, unknown>,
  dv: DataView,
  off: number,
  path: string,
  depth: number,
  top: boolean,
): void {
  if (depth > MAX_DEPTH) fail(path, 'type nesting too deep');
  if (top) {
    const known = new Set(namedMembers(btf, t).map((x) => x.m.name));
    for (const k of Object.keys(obj)) {
      if (!known.has(k)) {
        fail(
          `${path}.${k}`,
          `no such field in ${btf.typeName(id)} (fields: ${[...known].join(', ')})`,
        );
      }
    }
  }
  const given = (m: BtfMember): boolean => {
    if (m.name !== '') return obj[m.name] !== undefined;
    const inner = btf.type(btf.resolve(m.type));
    if (inner.kind !== BtfKind.Struct && inner.kind !== BtfKind.Union) return false;
    return namedMembers(btf, inner).some((x) => obj[x.m.name] !== undefined);
  };
  let members = t.members;
  if (t.kind === BtfKind.Union) {
    members = t.members.filter(given);
    if (members.length === 0) {
      const names = namedMembers(btf, t).map((x) => x.m.name);
      fail(path, `a union needs one of ${names.join(', ')}`);
    }
    if (members.length > 1) {
      // Several views of one union (what decodeValue returns) are fine if they agree byte for byte.
      const views = members.map((m) => {
        const scratch = new Uint8Array(t.size);
        const sdv = new DataView(scratch.buffer);
        encodeComposite(btf, id, { ...t, members: [m] }, obj, sdv, 0, path, depth + 1, false);
        return scratch;
      });
      const first = Buffer.from(views[0]);
      if (!views.every((b) => first.equals(b))) {
        fail(
          path,
          `union members ${members.map((m) => m.name || '(anon)').join(', ')} disagree: give only one`,
        );
      }
      new Uint8Array(dv.buffer, dv.byteOffset + off, t.size).set(views[0]);
      return;
    }
  }
  for (const m of members) {
    if (m.name === '') {
      const inner = btf.type(btf.resolve(m.type));
      if (inner.kind !== BtfKind.Struct && inner.kind !== BtfKind.Union) continue; // padding bitfield
      encodeComposite(
        btf,
        m.type,
        inner,
        obj,
        dv,
        off + Math.floor(m.bitOffset / 8),
        path,
        depth + 1,
        false,
      );
      continue;
    }
    if (obj[m.name] === undefined) fail(`${path}.${m.name}`, 'missing field');
    encodeMember(btf, { m, bitOffset: m.bitOffset }, obj[m.name], dv, off, path, depth);
  }
}

function encodeMember(
  btf: Btf,
  x: { m: BtfMember; bitOffset: number },
  v: unknown,
  dv: DataView,
  off: number,
  path: string,
  depth: number,
): void {
  const p = `${path}.${x.m.name}`;
  if (x.m.bitfieldSize === 0) {
    encodeInto(btf, x.m.type, v, dv, off + x.bitOffset / 8, p, depth + 1);
    return;
  }
  const t = btf.type(btf.resolve(x.m.type));
  let n: bigint;
  let signed = false;
  if (t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64) {
    signed = t.signed;
    const e = typeof v === 'string' ? t.values.find((q) => q.name === v) : undefined;
    if (typeof v === 'string' && !e) fail(p, `${JSON.stringify(v)} is not an enumerator`);
    n = e ? e.value : toBigInt(v, p, 'integer');
  } else if (t.kind === BtfKind.Int) {
    signed = t.signed;
    n = t.bool && typeof v === 'boolean' ? (v ? 1n : 0n) : toBigInt(v, p, 'integer');
  } else {
    fail(p, `bitfield of ${BtfKind[t.kind]} type`);
  }
  const bits = x.m.bitfieldSize;
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (n < min || n > max) fail(p, `${n} does not fit a ${bits}-bit field`);
  const start = off * 8 + x.bitOffset;
  const byteStart = Math.floor(start / 8);
  const span = Math.ceil((start + bits) / 8) - byteStart;
  const shift = BigInt(start - byteStart * 8);
  const mask = ((1n << BigInt(bits)) - 1n) << shift;
  const cur = readUint(dv, byteStart, span);
  writeUint(dv, byteStart, span, (cur & ~mask) | ((BigInt.asUintN(bits, n) << shift) & mask));
}

function encodeInt(t: IntT, v: unknown, dv: DataView, off: number, path: string): void {
  if (t.bool) {
    if (typeof v === 'boolean') {
      dv.setUint8(off, v ? 1 : 0);
      return;
    }
  }
  if (isCharInt(t) && typeof v === 'string' && Buffer.byteLength(v) === 1) {
    dv.setUint8(off, Buffer.from(v)[0]);
    return;
  }
  const n = toBigInt(v, path, t.bool ? 'boolean' : 'integer');
  const [lo, hi] = intRange(t.size, t.signed);
  if (n < lo || n > hi) fail(path, `${n} out of range for ${t.name} (${lo}..${hi})`);
  writeUint(dv, off, t.size, n);
}

/**
 * Decodes bytes of type `typeId` into a plain value: numbers (bigint for 64-bit and wider
 * ints and pointers), booleans, strings for char arrays, enum names, arrays and objects.
 */
export function decodeValue(btf: Btf, typeId: number, bytes: Uint8Array): unknown {
  const size = btf.sizeof(typeId);
  if (bytes.byteLength < size) {
    throw new BtfError(
      `decode ${btf.typeName(typeId)}: need ${size} bytes, got ${bytes.byteLength}`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return decodeAt(btf, typeId, dv, 0, 0);
}

function decodeInt(size: number, signed: boolean, raw: bigint): number | bigint {
  const v = signed ? BigInt.asIntN(size * 8, raw) : raw;
  return size >= 8 ? v : Number(v);
}

function decodeAt(btf: Btf, id: number, dv: DataView, off: number, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new BtfError(`decode: type ${id}: nesting too deep`);
  const rid = btf.resolve(id);
  const t = btf.type(rid);
  switch (t.kind) {
    case BtfKind.Int: {
      const raw = readUint(dv, off, t.size);
      if (t.bool) return raw !== 0n;
      return decodeInt(t.size, t.signed, raw);
    }
    case BtfKind.Enum:
    case BtfKind.Enum64: {
      const raw = readUint(dv, off, t.size);
      const v = t.signed ? BigInt.asIntN(t.size * 8, raw) : raw;
      const e = t.values.find((x) => x.value === v);
      if (e) return e.name;
      return t.size >= 8 ? v : Number(v);
    }
    case BtfKind.Ptr:
      return dv.getBigUint64(off, true);
    case BtfKind.Float:
      if (t.size === 4) return dv.getFloat32(off, true);
      if (t.size === 8) return dv.getFloat64(off, true);
      return new Uint8Array(dv.buffer, dv.byteOffset + off, t.size).slice();
    case BtfKind.Array: {
      const elemId = btf.resolve(t.type);
      const elem = btf.type(elemId);
      if (isCharInt(elem)) {
        const b = new Uint8Array(dv.buffer, dv.byteOffset + off, t.nelems);
        const end = b.indexOf(0);
        return Buffer.from(b.subarray(0, end < 0 ? b.length : end)).toString('utf8');
      }
      const esz = btf.sizeof(elemId);
      const out = new Array(t.nelems);
      for (let i = 0; i < t.nelems; i++)
        out[i] = decodeAt(btf, elemId, dv, off + i * esz, depth + 1);
      return out;
    }
    case BtfKind.Struct:
    case BtfKind.Union: {
      const out: Record<string, unknown> = {};
      for (const x of namedMembers(btf, t)) {
        if (x.m.bitfieldSize === 0) {
          out[x.m.name] = decodeAt(btf, x.m.type, dv, off + x.bitOffset / 8, depth + 1);
          continue;
        }
        const start = off * 8 + x.bitOffset;
        const byteStart = Math.floor(start / 8);
        const span = Math.ceil((start + x.m.bitfieldSize) / 8) - byteStart;
        const raw = BigInt.asUintN(
          x.m.bitfieldSize,
          readUint(dv, byteStart, span) >> BigInt(start - byteStart * 8),
        );
        const mt = btf.type(btf.resolve(x.m.type));
        if (mt.kind === BtfKind.Int) {
          if (mt.bool) out[x.m.name] = raw !== 0n;
          else {
            const v = mt.signed ? BigInt.asIntN(x.m.bitfieldSize, raw) : raw;
            out[x.m.name] = mt.size >= 8 ? v : Number(v);
          }
        } else if (mt.kind === BtfKind.Enum || mt.kind === BtfKind.Enum64) {
          const v = mt.signed ? BigInt.asIntN(x.m.bitfieldSize, raw) : raw;
          out[x.m.name] =
            mt.values.find((e) => e.value === v)?.name ?? (mt.size >= 8 ? v : Number(v));
        } else {
          out[x.m.name] = Number(raw);
        }
      }
      return out;
    }
    default:
      throw new BtfError(`decode: cannot decode ${BtfKind[t.kind]} type ${btf.typeName(rid)}`);
  }
}

/**
 * Parses text from the command line into a value {@link encodeValue} accepts: JSON
 * (`{"port": 80}`, `"eth0"`, `[1,2]`) or a plain number (decimal or 0x hex). Integers too
 * large for a double keep their precision.
 */
export function parseValueText(btf: Btf, typeId: number, text: string): unknown {
  const s = text.trim();
  if (/^-?(0x[0-9a-f]+|\d+)$/i.test(s)) {
    const neg = s.startsWith('-');
    const n = BigInt(neg ? s.slice(1) : s);
    return toTypedInt(btf, typeId, neg ? -n : n);
  }
  // Quote long integer literals outside strings so JSON.parse does not round them.
  const quoted = s.replace(/"(?:[^"\\]|\\.)*"|-?\d{16,}(?![.eE\d])/g, (m) =>
    m.startsWith('"') ? m : `{"__bigint":"${m}"}`,
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(quoted);
  } catch {
    // A bare word is most likely an enumerator name or a string for a char array.
    if (/^[A-Za-z_][\w.-]*$/.test(s)) return s;
    throw new BtfError(`value: ${JSON.stringify(text)} is neither JSON nor a number`);
  }
  return revive(parsed);
}

function revive(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(revive);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === '__bigint' && typeof o.__bigint === 'string')
      return BigInt(o.__bigint);
    return Object.fromEntries(keys.map((k) => [k, revive(o[k])]));
  }
  return v;
}

function toTypedInt(btf: Btf, typeId: number, n: bigint): number | bigint {
  const t = btf.type(btf.resolve(typeId));
  const wide =
    (t.kind === BtfKind.Int || t.kind === BtfKind.Enum64 || t.kind === BtfKind.Enum) && t.size >= 8;
  if (t.kind === BtfKind.Ptr || wide) return n;
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(n)
    : n;
}
