/**
 * A bump allocator of byte slices that callers keep: a fresh ArrayBuffer costs V8 1-2 us
 * (backing store, GC bookkeeping), more than the work around a small array on a load's path.
 * Slices are handed out once and never reused, so they start zeroed; a live slice keeps its
 * slab alive, which is why slabs are small. A slice's `buffer` is the slab: read it through
 * `byteOffset`, never as a whole. Each slice starts 8-aligned, for DataViews over it.
 */
export class Slab {
  private buf: ArrayBuffer | undefined;
  private used: number;

  /**
   * @param size bytes per slab
   * @param maxSlice the largest slice served from a slab: larger {@link take}s get a buffer of
   *   their own, and {@link tail} is at least this long
   * @param zeroed false for a slab only filled through {@link tail} (file reads): its memory is
   *   left as malloc gives it, so a fresh slab costs no zeroing of bytes that are then
   *   overwritten anyway (256 KiB written through the caches every few loads); {@link take}
   *   then refuses, as it promises zeroed bytes
   */
  constructor(
    private readonly size: number,
    private readonly maxSlice: number,
    private readonly zeroed = true,
  ) {
    this.used = size;
  }

  /** `n` zeroed bytes (a buffer of their own when `n` is more than `maxSlice`). */
  take(n: number): Uint8Array {
    if (!this.zeroed) throw new Error('Slab.take: this slab is not zeroed; use tail and commit');
    if (n > this.maxSlice) return new Uint8Array(n);
    const buf = this.room(n);
    const out = new Uint8Array(buf, this.used, n);
    this.used += (n + 7) & ~7;
    return out;
  }

  /**
   * The free rest of the current slab (at least `maxSlice` bytes), to fill in place; then
   * {@link commit} keeps its first bytes. Write no more than you commit: the bytes past
   * it are handed out later as zeroed (on a zeroed slab).
   */
  tail(): Uint8Array {
    const buf = this.room(this.maxSlice);
    return new Uint8Array(buf, this.used, this.size - this.used);
  }

  /** Keeps the first `n` bytes of the last {@link tail} as a Buffer slice. */
  commit(n: number): Buffer {
    const out = Buffer.from(this.buf!, this.used, n);
    this.used += (n + 7) & ~7;
    return out;
  }

  private room(n: number): ArrayBuffer {
    if (this.buf === undefined || this.size - this.used < n) {
      this.buf = this.zeroed
        ? new ArrayBuffer(this.size)
        : (Buffer.allocUnsafeSlow(this.size).buffer as ArrayBuffer);
      this.used = 0;
    }
    return this.buf;
  }
}
