/**
 * What every tracing tool shares: finding its CO-RE object, loading it with the filters set in
 * .rodata, trying hook sets in order until the kernel accepts one (tp_btf → raw_tp, tracepoint
 * → raw_tp), and the two session shapes tools hand back: a stream of typed events read from a
 * ring buffer, and a sampler whose maps are read on demand or every interval.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Collection } from '../bpf/collection.js';
import { loadCollectionSpec } from '../bpf/elf/reader.js';
import { setVariable } from '../bpf/collection.js';
import type { Attachment } from '../bpf/link/index.js';
import { RingBuffer } from '../bpf/ringbuf.js';

/** Options every tool takes (bcc/libbpf-tools' -p, -t, -c). */
export interface CommonOptions {
  /** Only this process (tgid). */
  pid?: number;
  /** Only this thread. */
  tid?: number;
  /** Only tasks with this comm (exact, at most 15 bytes). */
  comm?: string;
  /** Force one hook set by name (e.g. "raw_tp"); default: the first the kernel accepts. */
  hook?: string;
  /** Stops the session when aborted. */
  signal?: AbortSignal;
}

/** One way of hooking a tool: the programs to load and how to attach them. */
export interface HookSet {
  name: string;
  programs: string[];
  attach(coll: Collection): Attachment[];
}

/** The directory holding the tools' objects: $IOVISOR_TRACE_OBJECTS or <repo>/.build-cache/trace. */
export function objectDir(): string {
  if (process.env.IOVISOR_TRACE_OBJECTS) return process.env.IOVISOR_TRACE_OBJECTS;
  // Compiled to <out>/src/trace/core.js; the repo root is three levels up from here.
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '..', '..', '..', '.build-cache', 'trace');
}

/** The object file of `tool`, or an error saying how to build it. */
export function objectPath(tool: string): string {
  const p = path.join(objectDir(), `${tool}.o`);
  if (!existsSync(p))
    throw new Error(
      `${tool}: ${p} is missing: run 'bash scripts/build-trace.sh' (or scripts/setup.sh)`,
    );
  return p;
}

/** A loaded tool: its objects, live attachments and the hook set in use. */
export interface Loaded {
  coll: Collection;
  links: Attachment[];
  hook: string;
}

/** The .rodata filter values for the common options. */
export function filterVariables(opts: CommonOptions): Record<string, unknown> {
  const v: Record<string, unknown> = {};
  if (opts.pid !== undefined) v.targ_tgid = checkId(opts.pid, 'pid');
  if (opts.tid !== undefined) v.targ_tid = checkId(opts.tid, 'tid');
  if (opts.comm !== undefined) {
    const b = Buffer.from(opts.comm, 'utf8');
    if (b.length > 15)
      throw new Error(`comm "${opts.comm}" is longer than 15 bytes (TASK_COMM_LEN)`);
    v.targ_comm = opts.comm;
    v.filter_comm = 1;
  }
  return v;
}

function checkId(n: number, what: string): number {
  if (!Number.isInteger(n) || n <= 0 || n > 0xffffffff) throw new Error(`invalid ${what} ${n}`);
  return n;
}

/**
 * Loads `tool` with `variables` set and attaches the first hook set that loads and attaches
 * (or only `force`). Errors from every set tried are reported together.
 */
export function loadTool(
  tool: string,
  variables: Record<string, unknown>,
  sets: HookSet[],
  force?: string,
): Loaded {
  const file = objectPath(tool);
  const candidates = force === undefined ? sets : sets.filter((s) => s.name === force);
  if (candidates.length === 0)
    throw new Error(
      `${tool}: no hook set "${force}" (have: ${sets.map((s) => s.name).join(', ')})`,
    );
  const errors: string[] = [];
  for (const set of candidates) {
    const spec = loadCollectionSpec(file);
    for (const [name, value] of Object.entries(variables)) {
      if (value === undefined) continue;
      setVariable(spec, name, value);
    }
    let coll: Collection | undefined;
    const links: Attachment[] = [];
    try {
      coll = Collection.load(spec, { programs: set.programs });
      links.push(...set.attach(coll));
      return { coll, links, hook: set.name };
    } catch (err) {
      for (const l of links) l.close();
      coll?.close();
      errors.push(`${set.name}: ${(err as Error).message}`);
    }
  }
  throw new Error(`${tool}: no hook set could be attached (${errors.join('; ')})`);
}

/** Attaches each, closing those already attached when one fails. */
export function attachAll(steps: (() => Attachment)[]): Attachment[] {
  const out: Attachment[] = [];
  try {
    for (const s of steps) out.push(s());
  } catch (err) {
    for (const l of out) l.close();
    throw err;
  }
  return out;
}

/** Reads a u64 counter variable (e.g. `dropped`) from a loaded object, 0 when absent. */
function counter(coll: Collection, name: string): number {
  const v = coll.variables.get(name);
  if (!v) return 0;
  const x = v.get();
  return typeof x === 'bigint' ? Number(x) : Number(x ?? 0);
}

/** A further event source merged into an {@link EventStream} in time order (see packets). */
export interface ExtraSource<T> {
  /** Drains what is queued now into `out`; never blocks. */
  drain(out: T[]): void;
  /** Releases the source (called once, when the stream stops). */
  close(): void;
}

/** How long merged events are held back so that later-drained sources can sort before them. */
const MERGE_HOLD_NS = 150_000_000n;

/**
 * A running event tool: iterate it for typed events (`for await (const e of s)`), stop it with
 * `stop()` or the AbortSignal given at start. One consumer at a time.
 */
export class EventStream<T> implements AsyncIterable<T> {
  /** The hook set in use ("tracepoint", "raw_tp", "tp_btf", ...). */
  readonly hook: string;
  private readonly rb: RingBuffer<T | undefined>;
  private stopped = false;
  private finalDropped = 0;
  private readonly onAbort = (): void => this.stop();

  constructor(
    readonly tool: string,
    private readonly loaded: Loaded,
    private readonly decode: (b: Uint8Array) => T | undefined,
    private readonly signal?: AbortSignal,
    private readonly extras: ExtraSource<T>[] = [],
  ) {
    this.hook = loaded.hook;
    try {
      this.rb = new RingBuffer<T | undefined>(loaded.coll.map('events'), { decode });
    } catch (err) {
      this.release();
      throw err;
    }
    if (signal?.aborted) this.stop();
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /**
   * Events the kernel side could not queue because the ring was full. After `stop()` it is the
   * count at the moment the programs were unloaded (a tool stopped by a signal still reports).
   */
  get dropped(): number {
    return this.stopped ? this.finalDropped : counter(this.loaded.coll, 'dropped');
  }

  /**
   * Yields events until stopped. With extra sources, events (which carry a CLOCK_MONOTONIC
   * `ts`) are held back briefly and yielded in time order across all sources.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.extras.length === 0) {
      for await (const e of this.rb) if (e !== undefined) yield e;
      return;
    }
    const ts = (e: T): bigint => (e as { ts: bigint }).ts;
    const pending: T[] = [];
    const drain = (): void => {
      for (const x of this.extras) x.drain(pending);
      pending.sort((a, b) => (ts(a) < ts(b) ? -1 : ts(a) > ts(b) ? 1 : 0));
    };
    while (!this.stopped) {
      await this.rb.poll((r) => {
        const e = this.decode(r);
        if (e !== undefined) pending.push(e);
      }, 20);
      if (this.stopped) break;
      drain();
      const cutoff = process.hrtime.bigint() - MERGE_HOLD_NS;
      while (pending.length > 0 && ts(pending[0]!) <= cutoff) yield pending.shift()!;
    }
    pending.sort((a, b) => (ts(a) < ts(b) ? -1 : ts(a) > ts(b) ? 1 : 0));
    yield* pending;
  }

  /** Calls `fn` for each event until stopped; resolves when the stream ends. */
  async forEach(fn: (e: T) => void): Promise<void> {
    for await (const e of this) fn(e);
  }

  /** Detaches, closes the ring and unloads; the iterator ends. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    try {
      this.finalDropped = counter(this.loaded.coll, 'dropped');
    } catch {
      // best effort at teardown
    }
    for (const x of this.extras) {
      try {
        x.close();
      } catch {
        // best effort at teardown
      }
    }
    this.stopped = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.release();
  }

  private release(): void {
    for (const l of this.loaded.links) {
      try {
        l.close();
      } catch {
        // already gone
      }
    }
    this.rb?.close();
    this.loaded.coll.close();
  }
}

/**
 * A running aggregating tool (histograms, counts): `read()` now, or iterate to get one
 * snapshot per interval (`for await (const snap of s.intervals(1000))`).
 */
export class Sampler<S> implements AsyncIterable<S> {
  /** The hook set in use. */
  readonly hook: string;
  private stopped = false;
  private readonly onAbort = (): void => this.stop();

  constructor(
    readonly tool: string,
    protected readonly loaded: Loaded,
    private readonly readFn: (coll: Collection) => S,
    private readonly clearFn: (coll: Collection) => void,
    private readonly signal?: AbortSignal,
    private readonly defaultInterval = 1000,
  ) {
    this.hook = loaded.hook;
    if (signal?.aborted) this.stop();
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** True once stopped. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** The current totals. */
  read(): S {
    if (this.stopped) throw new Error(`${this.tool}: stopped`);
    return this.readFn(this.loaded.coll);
  }

  /** Zeroes the totals. */
  clear(): void {
    if (!this.stopped) this.clearFn(this.loaded.coll);
  }

  /**
   * A snapshot every `ms` until stopped (cleared after each unless `cumulative`); the last
   * partial interval is yielded when the session stops.
   */
  async *intervals(ms = this.defaultInterval, cumulative = false): AsyncGenerator<S> {
    const ac = new AbortController();
    const onStop = (): void => ac.abort();
    this.stopWaiters.add(onStop);
    try {
      while (!this.stopped) {
        try {
          await sleep(ms, undefined, { signal: ac.signal });
        } catch {
          // stopped: fall through to the final snapshot
        }
        const s = this.lastSnapshot ?? this.readFn(this.loaded.coll);
        yield s;
        if (this.stopped) break;
        if (!cumulative) this.clearFn(this.loaded.coll);
      }
    } finally {
      this.stopWaiters.delete(onStop);
    }
  }

  /** Same as `intervals()` with the tool's default interval. */
  [Symbol.asyncIterator](): AsyncIterator<S> {
    return this.intervals();
  }

  private lastSnapshot?: S;
  private readonly stopWaiters = new Set<() => void>();

  /** Takes a final snapshot, detaches and unloads. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    try {
      if (this.stopWaiters.size > 0) this.lastSnapshot = this.readFn(this.loaded.coll);
    } catch {
      // a snapshot is best effort at teardown
    }
    this.stopped = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    for (const w of this.stopWaiters) w();
    for (const l of this.loaded.links) {
      try {
        l.close();
      } catch {
        // already gone
      }
    }
    this.loaded.coll.close();
  }
}

// Records are views into one mapped ring: a Buffer over that whole mapping, made once, lets
// cstr find the NUL with memchr and decode in place instead of copying each field first.
let cstrBacking: ArrayBufferLike | undefined;
let cstrBuf: Buffer = Buffer.alloc(0);

/** Reads a NUL-terminated string from a fixed-size field. */
export function cstr(b: Uint8Array, off: number, len: number): string {
  if (b.buffer !== cstrBacking) {
    cstrBacking = b.buffer;
    cstrBuf = Buffer.from(b.buffer);
  }
  const start = b.byteOffset + off;
  const limit = start + Math.max(0, Math.min(len, b.byteLength - off));
  const nul = cstrBuf.indexOf(0, start);
  return cstrBuf.toString('utf8', start, nul < 0 || nul > limit ? limit : nul);
}

/** A DataView over a record (records are views into the ring: decode before returning). */
export function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Formats an address field (4 bytes for family 2/4, else 16) as text. */
export function formatAddr(family: number, b: Uint8Array): string {
  if (family === 2 || family === 4) return Array.from(b.subarray(0, 4)).join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  // Compress the longest run of zero words (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return words.join(':');
  return `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`;
}

/** Parses an IPv4 or IPv6 address into 16 bytes (IPv4 in the first 4) and its family (4/6). */
export function parseAddr(s: string): { family: 4 | 6; bytes: Uint8Array } {
  const out = new Uint8Array(16);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(s)) {
    const parts = s.split('.').map(Number);
    if (parts.some((p) => p > 255)) throw new Error(`invalid IPv4 address ${s}`);
    out.set(parts, 0);
    return { family: 4, bytes: out };
  }
  if (!s.includes(':')) throw new Error(`invalid IP address ${s}`);
  const [head, tail] = s.split('::') as [string, string | undefined];
  if (s.split('::').length > 2) throw new Error(`invalid IPv6 address ${s}`);
  const hw = head ? head.split(':') : [];
  const tw = tail ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - hw.length - tw.length;
  const words = [...hw, ...Array<string>(fill).fill('0'), ...tw];
  if (words.length !== 8 || words.some((w) => !/^[0-9a-fA-F]{1,4}$/.test(w)))
    throw new Error(`invalid IPv6 address ${s}`);
  words.forEach((w, i) => {
    const n = parseInt(w, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return { family: 6, bytes: out };
}
