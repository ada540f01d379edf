/**
 * One reusable block of native memory for the attr and the arrays of a single bpf() call
 * (program load, map creation, BTF load). On this path allocating a fresh ArrayBuffer costs
 * about a microsecond each and taking its address another koffi call, which is more than
 * the JavaScript work around a small map creation. Every call is synchronous, so one block per
 * thread is enough; callers lay out everything they need first (see {@link Arena.reserve}) and
 * must not hold on to the bytes after the call.
 */
import { Slab, sys, type Sys } from '../sys/index.js';

/** The arena: `bytes` at native address `address` (valid for the Sys it was taken from). */
export class Arena {
  bytes = new Uint8Array(new ArrayBuffer(1 << 16));
  dv = new DataView(this.bytes.buffer);
  /** The same bytes as 32-bit words in host order (little-endian on every eBPF host we run on). */
  u32 = new Uint32Array(this.bytes.buffer);
  private owner: Sys | undefined;
  private base = 0n;
  /** The base address as a number, for {@link Sys.bpfAt} (no BigInt conversion per call). */
  baseNumber = 0;

  /**
   * Makes room for `size` bytes and returns the base address. Growing replaces the buffer, so
   * callers reserve once, before writing anything.
   */
  reserve(size: number): bigint {
    if (size > this.bytes.byteLength) {
      let n = this.bytes.byteLength;
      while (n < size) n *= 2;
      this.bytes = new Uint8Array(new ArrayBuffer(n));
      this.dv = new DataView(this.bytes.buffer);
      this.u32 = new Uint32Array(this.bytes.buffer);
      this.owner = undefined;
    }
    const s = sys();
    // A test may have swapped in a fake Sys: addresses are only meaningful to the one that gave them.
    if (s !== this.owner) {
      this.base = s.address(this.bytes);
      this.baseNumber = Number(this.base);
      this.owner = s;
    }
    return this.base;
  }

  /**
   * Drops a buffer grown past 4 MiB (a very large program or BTF) so a long-running process does
   * not keep it for good; the next call starts again from 64 KiB.
   */
  shrink(): void {
    if (this.bytes.byteLength <= 1 << 22) return;
    this.bytes = new Uint8Array(new ArrayBuffer(1 << 16));
    this.dv = new DataView(this.bytes.buffer);
    this.u32 = new Uint32Array(this.bytes.buffer);
    this.owner = undefined;
  }

  /**
   * Writes the native address of the arena's byte `regionOff` as a u64 at byte `at` (attr
   * pointer fields): two 32-bit stores from the numeric base, no BigInt made per field.
   */
  setAddress(at: number, regionOff: number): void {
    const a = this.baseNumber + regionOff;
    const lo = a % 0x100000000;
    this.dv.setUint32(at, lo, true);
    this.dv.setUint32(at + 4, (a - lo) / 0x100000000, true);
  }

  /** Copies 32-bit `words` (host order, signed or not) to byte offset `off`, a multiple of 4. */
  setWords(off: number, words: readonly number[]): void {
    const { u32 } = this;
    const at = off >>> 2;
    for (let i = 0; i < words.length; i++) u32[at + i] = words[i]!;
  }
}

/** The arena shared by the loaders of this thread. */
export const arena = new Arena();

/** Rounds up to a multiple of 8, so each region in the arena starts aligned. */
export function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * Writes a kernel object name (bpf_attr's 16-byte map_name/prog_name) at `off`: characters
 * outside [A-Za-z0-9_.] become '_', at most 15 are kept, the rest of the field is zeroed.
 * Same result as `kernelObjectName` then encoding, without a regex and an encoder per call.
 */
export function writeObjectName(bytes: Uint8Array, off: number, name: string): void {
  const n = Math.min(name.length, 15);
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x5f ||
      c === 0x2e;
    bytes[off + i] = ok ? c : 0x5f;
  }
  bytes.fill(0, off + n, off + 16);
}

/**
 * Bytes a spec keeps (a data section's initial image), from a shared 64 KiB slab (see
 * {@link Slab}); more than 8 KiB get a buffer of their own.
 */
const dataSlab = new Slab(64 * 1024, 8 * 1024);

/** `n` zeroed bytes that the caller keeps, carved from a shared slab (see {@link Slab}). */
export function slabBytes(n: number): Uint8Array {
  return dataSlab.take(n);
}

/** A copy of `src` in a slab slice (see {@link slabBytes}). */
export function slabCopy(src: Uint8Array): Uint8Array {
  const out = dataSlab.take(src.byteLength);
  out.set(src);
  return out;
}
