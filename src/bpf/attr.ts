/** Helpers for building `union bpf_attr` and reading kernel info structs. */
import { BPF_ATTR_SIZE, sys } from '../sys/index.js';

/** A zeroed attr buffer with little-endian field writers. Pointers are taken with `ptr`. */
export class Attr {
  readonly bytes: Uint8Array;
  private readonly dv: DataView;

  constructor(size = BPF_ATTR_SIZE) {
    this.bytes = new Uint8Array(size);
    this.dv = new DataView(this.bytes.buffer);
  }
  u8(off: number, v: number): this {
    this.dv.setUint8(off, v);
    return this;
  }
  u16(off: number, v: number): this {
    this.dv.setUint16(off, v, true);
    return this;
  }
  u32(off: number, v: number): this {
    this.dv.setUint32(off, v >>> 0, true);
    return this;
  }
  i32(off: number, v: number): this {
    this.dv.setInt32(off, v, true);
    return this;
  }
  u64(off: number, v: bigint | number): this {
    this.dv.setBigUint64(off, BigInt(v), true);
    return this;
  }
  /** Writes the address of `buf` (or NULL) as a u64 pointer field. */
  ptr(off: number, buf: Uint8Array | undefined): this {
    this.dv.setBigUint64(off, buf ? sys().address(buf) : 0n, true);
    return this;
  }
  /** Writes a NUL-padded string of at most `max - 1` bytes. */
  str(off: number, s: string, max: number): this {
    const b = new TextEncoder().encode(s).subarray(0, max - 1);
    this.bytes.set(b, off);
    return this;
  }
  getU32(off: number): number {
    return this.dv.getUint32(off, true);
  }
  getI32(off: number): number {
    return this.dv.getInt32(off, true);
  }
  getU64(off: number): bigint {
    return this.dv.getBigUint64(off, true);
  }
}

/** A little-endian reader over a kernel struct. */
export class StructReader {
  private readonly dv: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(off: number): number {
    return this.dv.getUint8(off);
  }
  u32(off: number): number {
    return this.dv.getUint32(off, true);
  }
  u64(off: number): bigint {
    return this.dv.getBigUint64(off, true);
  }
  /** A NUL-terminated string inside a fixed-size field. */
  str(off: number, max: number): string {
    const b = this.bytes.subarray(off, off + max);
    const end = b.indexOf(0);
    return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
  }
}
