/**
 * Reading a BPF_MAP_TYPE_RINGBUF from JavaScript. The ring is mmap'd as libbpf does: the
 * consumer page read-write, the producer page and the data pages (mapped twice by the kernel,
 * so a record never wraps) read-only. Positions are read with Atomics (load-acquire) and the
 * consumer position is published with Atomics.store (store-release). Waiting happens on
 * koffi's worker thread through `sys().epollWait`, so the event loop never blocks.
 */
import { EventEmitter } from 'node:events';
import { sys, type MappedRegion } from '../sys/index.js';
import type { Btf } from './btf/btf.js';
import { decodeValue } from './btf/codec.js';
import { openPinnedFd } from './fd.js';
import { BpfMap, mapInfoByFd } from './map.js';
import { MapType, mapTypeName } from './types.js';

/** The page size of the ring's mappings (x86_64 and most arm64 kernels use 4 KiB). */
export const PAGE_SIZE = 4096;

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const EPOLLIN = 1;
const EPOLL_CTL_ADD = 1;

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const LEN_MASK = 0x3fffffff;
const HDR = 8;

/** A map to read from: a BpfMap, a pin path or a raw fd (borrowed, not closed). */
export type MapRef = BpfMap | string | number;

/** How records are turned into values. */
export interface DecodeOptions<T> {
  /** Custom decoder; receives a view valid only during the call (copy what you keep). */
  decode?: (bytes: Uint8Array) => T;
  /** Decode through a BTF type (with `typeId`) via the BTF codec. */
  btf?: Btf;
  typeId?: number;
}

/** Options for {@link RingBuffer}. */
export interface RingBufferOptions<T> extends DecodeOptions<T> {
  /**
   * How long one epoll wait on the worker thread lasts before re-checking for close (ms).
   * Bounds how long close() takes to release the mapping. Default 100.
   */
  pollTimeoutMs?: number;
}

/** Resolves a map reference to a borrowed fd and whether we own it. */
export function resolveMapFd(ref: MapRef, what: string): { fd: number; owned: boolean } {
  if (typeof ref === 'number') return { fd: ref, owned: false };
  if (typeof ref === 'string') {
    try {
      return { fd: openPinnedFd(ref), owned: true };
    } catch (err) {
      throw new Error(`${what}: open pinned map ${ref}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return { fd: ref.fd.raw, owned: false };
}

/** Builds the record → value function from decode options. */
export function makeDecoder<T>(opts: DecodeOptions<T>): (b: Uint8Array) => T {
  if (opts.decode) return opts.decode;
  if (opts.btf && opts.typeId !== undefined) {
    const { btf, typeId } = opts;
    return (b) => decodeValue(btf, typeId, b) as T;
  }
  return (b) => b.slice() as unknown as T;
}

/**
 * A ring-buffer reader. Use one of: `consume(cb)` to drain synchronously (zero-copy views),
 * `await poll(cb)` to wait then drain, `on('data', fn)` for a push stream of decoded records,
 * or `for await (const rec of rb)`.
 */
export class RingBuffer<T = Uint8Array> extends EventEmitter implements AsyncIterable<T> {
  /** Records skipped because the producer discarded them. */
  discarded = 0;
  /**
   * Always 0: a ring buffer loses nothing after a successful reserve; drops happen in the
   * program (bpf_ringbuf_output/reserve failing), which must count them itself.
   */
  readonly lost = 0;
  /** Records delivered so far. */
  records = 0;

  private readonly fd: number;
  private readonly ownsFd: boolean;
  private readonly size: number;
  private readonly mask: number;
  private readonly consumerRegion: MappedRegion;
  private readonly producerRegion: MappedRegion;
  private readonly consumerPos: BigUint64Array;
  private readonly producerPos: BigUint64Array;
  private readonly words: Uint32Array;
  private readonly data: Uint8Array;
  private readonly epfd: number;
  private readonly decode: (b: Uint8Array) => T;
  private readonly timeout: number;
  private closed = false;
  private released = false;
  private waiting?: Promise<unknown>;
  private streaming = false;

  constructor(map: MapRef, opts: RingBufferOptions<T> = {}) {
    super();
    const { fd, owned } = resolveMapFd(map, 'ring buffer');
    this.fd = fd;
    this.ownsFd = owned;
    this.decode = makeDecoder(opts);
    this.timeout = opts.pollTimeoutMs ?? 100;
    const s = sys();
    let consumer: MappedRegion | undefined;
    let producer: MappedRegion | undefined;
    try {
      const info = mapInfoByFd(fd);
      if (info.type !== MapType.RingBuf)
        throw new Error(`map ${info.name} is a ${mapTypeName(info.type)}, not a ringbuf`);
      this.size = info.maxEntries;
      this.mask = this.size - 1;
      consumer = s.mmap(fd, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
      producer = s.mmap(fd, PAGE_SIZE + 2 * this.size, PROT_READ, MAP_SHARED, PAGE_SIZE);
      this.consumerRegion = consumer;
      this.producerRegion = producer;
      this.consumerPos = new BigUint64Array(consumer.bytes.buffer, consumer.bytes.byteOffset, 1);
      this.producerPos = new BigUint64Array(producer.bytes.buffer, producer.bytes.byteOffset, 1);
      this.words = new Uint32Array(
        producer.bytes.buffer,
        producer.bytes.byteOffset,
        producer.bytes.byteLength >>> 2,
      );
      this.data = producer.bytes;
      this.epfd = s.epollCreate();
      try {
        s.epollCtl(this.epfd, EPOLL_CTL_ADD, fd, EPOLLIN, 0);
      } catch (err) {
        s.close(this.epfd);
        throw err;
      }
    } catch (err) {
      producer?.unmap();
      consumer?.unmap();
      if (owned) s.close(fd);
      throw new Error(`ring buffer: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Bytes waiting to be read. */
  pending(): number {
    if (this.closed) return 0;
    return Number(Atomics.load(this.producerPos, 0) - Atomics.load(this.consumerPos, 0));
  }

  /**
   * Drains every committed record now, calling `cb` with a view into the ring that is valid
   * only until `cb` returns (slice it to keep it). `cb` may return false to stop early.
   * Returns the number of records delivered.
   */
  consume(cb: (record: Uint8Array) => void | boolean): number {
    if (this.closed) return 0;
    let cons = Number(Atomics.load(this.consumerPos, 0));
    let n = 0;
    let stop = false;
    for (;;) {
      const prod = Number(Atomics.load(this.producerPos, 0));
      if (cons >= prod) break;
      let progressed = false;
      while (cons < prod) {
        const off = PAGE_SIZE + (cons & this.mask);
        const hdr = Atomics.load(this.words, off >>> 2);
        if (hdr & BUSY) break;
        const len = hdr & LEN_MASK;
        cons += (len + HDR + 7) & ~7;
        progressed = true;
        if (hdr & DISCARD) {
          this.discarded++;
        } else {
          n++;
          if (cb(this.data.subarray(off + HDR, off + HDR + len)) === false) {
            stop = true;
            break;
          }
        }
        if ((n & 63) === 0) Atomics.store(this.consumerPos, 0, BigInt(cons));
      }
      Atomics.store(this.consumerPos, 0, BigInt(cons));
      if (stop || !progressed) break;
    }
    this.records += n;
    return n;
  }

  /**
   * Waits (on a worker thread) until records arrive or `timeoutMs` passes, then drains them
   * into `cb` as {@link consume} does. Resolves with the number delivered.
   */
  async poll(
    cb: (record: Uint8Array) => void | boolean,
    timeoutMs = this.timeout,
  ): Promise<number> {
    if (this.closed) return 0;
    const now = this.consume(cb);
    if (now > 0 || this.closed) return now;
    await this.wait(timeoutMs);
    return this.consume(cb);
  }

  private async wait(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    if (this.waiting) {
      await this.waiting;
      return;
    }
    const p = sys().epollWait(this.epfd, 1, Math.min(timeoutMs, this.timeout));
    this.waiting = p;
    try {
      await p;
    } finally {
      this.waiting = undefined;
      if (this.closed) this.release();
    }
  }

  /** Starts pushing decoded records as 'data' events when a listener is added. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EventEmitter's own signature
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    super.on(event, listener);
    if (event === 'data' && !this.streaming) {
      this.streaming = true;
      void this.pump();
    }
    return this;
  }

  private async pump(): Promise<void> {
    try {
      while (!this.closed && this.listenerCount('data') > 0) {
        await this.poll((r) => {
          this.emit('data', this.decode(r));
        });
        // Yield to the event loop between batches so a flood never starves timers.
        if (this.pending() > 0) await new Promise<void>((r) => setImmediate(r));
      }
    } catch (err) {
      this.emit('error', err);
    } finally {
      this.streaming = false;
    }
  }

  /** Reads decoded records as an async iterator; ends when the reader is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    const queue: T[] = [];
    while (!this.closed) {
      await this.poll((r) => {
        queue.push(this.decode(r));
      });
      while (queue.length > 0) yield queue.shift()!;
    }
  }

  /** Stops reading and releases the mapping (once any in-flight wait returns). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
    if (!this.waiting) this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    const s = sys();
    this.producerRegion.unmap();
    this.consumerRegion.unmap();
    s.close(this.epfd);
    if (this.ownsFd) s.close(this.fd);
  }
}
