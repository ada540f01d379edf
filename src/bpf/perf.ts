/**
 * Reading a BPF_MAP_TYPE_PERF_EVENT_ARRAY: one PERF_COUNT_SW_BPF_OUTPUT event per online CPU,
 * each with its own mmap'd ring, stored in the array at its CPU index so
 * bpf_perf_event_output(BPF_F_CURRENT_CPU) finds it. Records are PERF_RECORD_SAMPLE (the raw
 * bytes the program sent) and PERF_RECORD_LOST (how many the kernel dropped because the ring
 * was full). data_head (offset 1024) is load-acquired, data_tail (1032) store-released.
 */
import { EventEmitter } from 'node:events';
import { onlineCpus, sys, type MappedRegion } from '../sys/index.js';
import { FD } from './fd.js';
import { encodePerfAttr, PERF_EVENT_IOC, PerfSwConfig, PerfType } from './link/perf-event.js';
import { mapInfoByFd } from './map.js';
import {
  makeDecoder,
  PAGE_SIZE,
  resolveMapFd,
  type DecodeOptions,
  type MapRef,
} from './ringbuf.js';
import { Attr } from './attr.js';
import { BpfCmd } from '../sys/index.js';
import { MapType, mapTypeName } from './types.js';

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const EPOLLIN = 1;
const EPOLL_CTL_ADD = 1;
const PERF_SAMPLE_RAW = 1 << 10;
const PERF_RECORD_LOST = 2;
const PERF_RECORD_SAMPLE = 9;
const PERF_FLAG_FD_CLOEXEC = 8;
const WATERMARK = 1 << 14;

/** Options for {@link PerfBuffer}. */
export interface PerfBufferOptions<T> extends DecodeOptions<T> {
  /** Data pages per CPU ring, a power of two (default 64: 256 KiB). */
  pagesPerCpu?: number;
  /** Wake the reader after this many bytes instead of after every record (default: every record). */
  wakeupBytes?: number;
  /** Epoll wait slice on the worker thread (ms); bounds close() latency. Default 100. */
  pollTimeoutMs?: number;
}

/** A record with the CPU it came from. */
export interface PerfRecord<T> {
  cpu: number;
  value: T;
}

interface CpuRing {
  cpu: number;
  fd: FD;
  region: MappedRegion;
  head: BigUint64Array;
  tail: BigUint64Array;
  data: Uint8Array;
  dv: DataView;
  size: number;
}

/**
 * A perf event array reader: `consume(cb)`, `await poll(cb)`, `on('data', fn)` or
 * `for await (const { cpu, value } of pb)`; `lost` counts samples the kernel dropped.
 */
export class PerfBuffer<T = Uint8Array>
  extends EventEmitter
  implements AsyncIterable<PerfRecord<T>>
{
  /** Samples the kernel reported lost (rings full). */
  lost = 0;
  /** Samples delivered. */
  records = 0;
  private readonly rings: CpuRing[] = [];
  private readonly mapFd: number;
  private readonly ownsFd: boolean;
  private readonly epfd: number = -1;
  private readonly decode: (b: Uint8Array) => T;
  private readonly timeout: number;
  private closed = false;
  private released = false;
  private waiting?: Promise<unknown>;
  private streaming = false;

  constructor(map: MapRef, opts: PerfBufferOptions<T> = {}) {
    super();
    const { fd, owned } = resolveMapFd(map, 'perf buffer');
    this.mapFd = fd;
    this.ownsFd = owned;
    this.decode = makeDecoder(opts);
    this.timeout = opts.pollTimeoutMs ?? 100;
    const pages = opts.pagesPerCpu ?? 64;
    const s = sys();
    try {
      if (pages <= 0 || (pages & (pages - 1)) !== 0)
        throw new Error(`pagesPerCpu must be a power of two, got ${pages}`);
      const info = mapInfoByFd(fd);
      if (info.type !== MapType.PerfEventArray)
        throw new Error(`map ${info.name} is a ${mapTypeName(info.type)}, not a perf_event_array`);
      this.epfd = s.epollCreate();
      for (const cpu of onlineCpus()) {
        if (cpu >= info.maxEntries) continue;
        this.rings.push(this.openRing(cpu, pages, opts.wakeupBytes));
      }
    } catch (err) {
      this.release();
      throw new Error(`perf buffer: ${(err as Error).message}`, { cause: err });
    }
  }

  private openRing(cpu: number, pages: number, wakeupBytes: number | undefined): CpuRing {
    const s = sys();
    const attr = encodePerfAttr({
      type: PerfType.Software,
      config: PerfSwConfig.BpfOutput,
      sample: 1,
      sampleType: PERF_SAMPLE_RAW,
      flags: wakeupBytes ? WATERMARK : 0,
      wakeup: wakeupBytes ?? 1,
    });
    let fd: FD;
    try {
      fd = new FD(
        s.perfEventOpen(attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC),
        `perf event cpu ${cpu}`,
      );
    } catch (err) {
      throw new Error(`cpu ${cpu}: ${(err as Error).message}`, { cause: err });
    }
    let region: MappedRegion;
    try {
      region = s.mmap(fd.raw, PAGE_SIZE * (pages + 1), PROT_READ | PROT_WRITE, MAP_SHARED, 0);
    } catch (err) {
      fd.close();
      throw new Error(`cpu ${cpu}: ${(err as Error).message}`, { cause: err });
    }
    const ring: CpuRing = {
      cpu,
      fd,
      region,
      head: new BigUint64Array(region.bytes.buffer, region.bytes.byteOffset + 1024, 1),
      tail: new BigUint64Array(region.bytes.buffer, region.bytes.byteOffset + 1032, 1),
      data: region.bytes.subarray(PAGE_SIZE),
      dv: new DataView(region.bytes.buffer, region.bytes.byteOffset + PAGE_SIZE, PAGE_SIZE * pages),
      size: PAGE_SIZE * pages,
    };
    try {
      this.publish(ring, this.rings.length);
    } catch (err) {
      region.unmap();
      fd.close();
      throw new Error(`cpu ${cpu}: ${(err as Error).message}`, { cause: err });
    }
    return ring;
  }

  private publish(ring: CpuRing, index: number): void {
    const s = sys();
    const { cpu, fd } = ring;
    const key = new Uint8Array(4);
    const val = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, cpu, true);
    new DataView(val.buffer).setUint32(0, fd.raw, true);
    s.bpf(
      BpfCmd.MAP_UPDATE_ELEM,
      new Attr().u32(0, this.mapFd).ptr(8, key).ptr(16, val).u64(24, 0).bytes,
    );
    s.ioctl(fd.raw, PERF_EVENT_IOC.ENABLE, 0);
    s.epollCtl(this.epfd, EPOLL_CTL_ADD, fd.raw, EPOLLIN, index);
  }

  /** The CPUs being read. */
  cpus(): number[] {
    return this.rings.map((r) => r.cpu);
  }

  /**
   * Drains every ring now. `cb` gets the CPU and a view valid only during the call (a copy when
   * the record wrapped around the ring's end). Returns the number of samples delivered.
   */
  consume(cb: (record: Uint8Array, cpu: number) => void): number {
    if (this.closed) return 0;
    let n = 0;
    for (const r of this.rings) n += this.drain(r, cb);
    this.records += n;
    return n;
  }

  private drain(r: CpuRing, cb: (record: Uint8Array, cpu: number) => void): number {
    const head = Number(Atomics.load(r.head, 0));
    let tail = Number(Atomics.load(r.tail, 0));
    const mask = r.size - 1;
    let n = 0;
    while (tail < head) {
      const off = tail & mask;
      // The 8-byte header never straddles the end: records are 8-byte aligned.
      const type = r.dv.getUint32(off, true);
      const size = r.dv.getUint16(off + 6, true);
      if (size === 0) break;
      const rec = this.bytesAt(r, off, size);
      const rdv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
      if (type === PERF_RECORD_SAMPLE) {
        const len = rdv.getUint32(8, true);
        n++;
        cb(rec.subarray(12, 12 + len), r.cpu);
      } else if (type === PERF_RECORD_LOST) {
        this.lost += Number(rdv.getBigUint64(16, true));
      }
      tail += size;
    }
    Atomics.store(r.tail, 0, BigInt(tail));
    return n;
  }

  private bytesAt(r: CpuRing, off: number, size: number): Uint8Array {
    if (off + size <= r.size) return r.data.subarray(off, off + size);
    const out = new Uint8Array(size);
    const first = r.size - off;
    out.set(r.data.subarray(off, r.size), 0);
    out.set(r.data.subarray(0, size - first), first);
    return out;
  }

  /** Waits on a worker thread for data (or the timeout), then drains. */
  async poll(
    cb: (record: Uint8Array, cpu: number) => void,
    timeoutMs = this.timeout,
  ): Promise<number> {
    if (this.closed) return 0;
    const now = this.consume(cb);
    if (now > 0 || this.closed) return now;
    if (!this.waiting) {
      const p = sys().epollWait(
        this.epfd,
        this.rings.length || 1,
        Math.min(timeoutMs, this.timeout),
      );
      this.waiting = p;
      try {
        await p;
      } finally {
        this.waiting = undefined;
        if (this.closed) this.release();
      }
    } else {
      await this.waiting;
    }
    return this.consume(cb);
  }

  /** Starts pushing `{cpu, value}` as 'data' events when a listener is added. */
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
        await this.poll((rec, cpu) => {
          this.emit('data', { cpu, value: this.decode(rec) });
        });
        await new Promise<void>((r) => setImmediate(r));
      }
    } catch (err) {
      this.emit('error', err);
    } finally {
      this.streaming = false;
    }
  }

  /** Decoded records with their CPU; ends when the reader is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<PerfRecord<T>> {
    const queue: PerfRecord<T>[] = [];
    while (!this.closed) {
      await this.poll((rec, cpu) => {
        queue.push({ cpu, value: this.decode(rec) });
      });
      while (queue.length > 0) yield queue.shift()!;
    }
  }

  /** Stops reading; the rings are released once any in-flight wait returns. */
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
    for (const r of this.rings) {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, r.cpu, true);
      try {
        s.bpf(BpfCmd.MAP_DELETE_ELEM, new Attr().u32(0, this.mapFd).ptr(8, key).bytes);
      } catch {
        // Already gone (or the map was closed): nothing to undo.
      }
      r.region.unmap();
      r.fd.close();
    }
    this.rings.length = 0;
    if (this.epfd >= 0) s.close(this.epfd);
    if (this.ownsFd) s.close(this.mapFd);
  }
}
