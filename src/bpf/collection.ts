/**
 * A Collection is a CollectionSpec made live: its BTF loaded, its maps created (or re-used from
 * pins), its programs loaded and its static map contents written, in one explicit step.
 * Anything created is released again when a later step fails.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { isErrno, sys, type MappedRegion } from '../sys/index.js';
import type { Btf } from './btf/btf.js';
import { decodeValue, encodeValue } from './btf/codec.js';
import { fillKconfig } from './elf/kconfig.js';
import { loadCollectionSpec } from './elf/reader.js';
import { withFdGroup } from './fd.js';
import { BpfMap, mapInfoByFd, updateBatchesU32, type U32Batch } from './map.js';
import { Program, type ProgramLoadOptions } from './program.js';
import type { CollectionSpec, MapContent, MapSpec, ProgramSpec, VariableSpec } from './spec.js';
import { MapType } from './types.js';

/** Options for {@link Collection.load}. */
export interface CollectionOptions {
  /** Directory for maps declared with `pinning: LIBBPF_PIN_BY_NAME` (libbpf's pin_root_path). */
  pinPath?: string;
  /** Load only these programs (default: all). */
  programs?: string[];
  /** Passed to every program load. */
  program?: Pick<ProgramLoadOptions, 'logLevel' | 'logSize' | 'kernelBtf'>;
  /** Called as each step completes, for progress output. */
  onProgress?: (step: string) => void;
}

/** A map whose pinned copy does not match its declaration. */
export class MapIncompatibleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MapIncompatibleError';
  }
}

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const BPF_F_MMAPABLE = 1 << 10;

/** Writes a variable's value into its section's initial data, before load (cilium's VariableSpec.Set). */
export function setVariable(spec: CollectionSpec, name: string, value: unknown): void {
  const v = spec.variables.get(name);
  if (!v)
    throw new Error(
      `set variable ${name}: no such variable (have: ${[...spec.variables.keys()].join(', ') || 'none'})`,
    );
  const m = spec.maps.get(v.map);
  if (!m?.data) throw new Error(`set variable ${name}: section map ${v.map} has no data`);
  m.data.set(encodeVariable(spec.btf, v, value), v.offset);
}

function encodeVariable(btf: Btf | undefined, v: VariableSpec, value: unknown): Uint8Array {
  if (value instanceof Uint8Array) {
    if (value.byteLength !== v.size)
      throw new Error(`variable ${v.name}: needs ${v.size} bytes, got ${value.byteLength}`);
    return value;
  }
  if (!btf || v.type === undefined)
    throw new Error(`variable ${v.name}: no BTF type: pass ${v.size} raw bytes`);
  try {
    return encodeValue(btf, v.type, value);
  } catch (err) {
    throw new Error(`variable ${v.name}: ${(err as Error).message}`, { cause: err });
  }
}

/** A global variable of a loaded collection, read and written live through the mmap'd section. */
export class Variable {
  constructor(
    readonly spec: VariableSpec,
    private readonly section: SectionMemory,
    private readonly btf?: Btf,
  ) {}
  /** The variable's current bytes. */
  bytes(): Uint8Array {
    return this.section.read().slice(this.spec.offset, this.spec.offset + this.spec.size);
  }
  /** The current value, decoded through BTF when known. */
  get(): unknown {
    const b = this.bytes();
    return this.btf && this.spec.type !== undefined ? decodeValue(this.btf, this.spec.type, b) : b;
  }
  /** Writes a new value; refused for .rodata constants after load. */
  set(value: unknown): void {
    if (this.spec.constant)
      throw new Error(`variable ${this.spec.name} is constant (.rodata): set it before load`);
    this.section.write(this.spec.offset, encodeVariable(this.btf, this.spec, value));
  }
}

/** Live memory of a global-data section: mmap when the map allows it, else syscalls. */
class SectionMemory {
  private region?: MappedRegion;
  private tried = false;
  constructor(
    private readonly map: BpfMap,
    private readonly writable: boolean,
  ) {}
  /** Maps the section on first use: most loads never touch their variables from JS. */
  private mapped(): MappedRegion | undefined {
    if (this.tried) return this.region;
    this.tried = true;
    if ((this.map.flags & BPF_F_MMAPABLE) === 0) return undefined;
    try {
      const len = Math.ceil(this.map.valueSize / 4096) * 4096;
      const prot = PROT_READ | (this.writable ? PROT_WRITE : 0);
      this.region = sys().mmap(this.map.fd.raw, len, prot, MAP_SHARED, 0);
    } catch {
      this.region = undefined;
    }
    return this.region;
  }
  read(): Uint8Array {
    const r = this.mapped();
    if (r) return r.bytes.subarray(0, this.map.valueSize);
    return this.map.lookupBytes(new Uint8Array(4)) ?? new Uint8Array(this.map.valueSize);
  }
  write(off: number, b: Uint8Array): void {
    const r = this.mapped();
    if (r) {
      r.bytes.set(b, off);
      return;
    }
    const cur = this.read().slice();
    cur.set(b, off);
    this.map.updateBytes(new Uint8Array(4), cur);
  }
  close(): void {
    this.region?.unmap();
  }
}

function checkCompatible(spec: MapSpec, pinned: BpfMap, where: string): void {
  const info = mapInfoByFd(pinned.fd.raw);
  const diffs: string[] = [];
  if (info.type !== spec.type) diffs.push(`type ${info.type} != ${spec.type}`);
  if (info.keySize !== spec.keySize) diffs.push(`key size ${info.keySize} != ${spec.keySize}`);
  if (info.valueSize !== spec.valueSize)
    diffs.push(`value size ${info.valueSize} != ${spec.valueSize}`);
  if (info.maxEntries !== spec.maxEntries)
    diffs.push(`max entries ${info.maxEntries} != ${spec.maxEntries}`);
  if (diffs.length)
    throw new MapIncompatibleError(
      `${where}: pinned map differs from its declaration: ${diffs.join(', ')}`,
    );
}

/** Live maps, programs and variables of one object. */
export class Collection {
  readonly maps = new Map<string, BpfMap>();
  readonly programs = new Map<string, Program>();
  private vars?: Map<string, Variable>;
  private readonly sections: SectionMemory[] = [];
  /** Maps pinned by name (created or re-used), with their pin paths. */
  readonly pinnedByName = new Map<string, string>();
  private btfFd?: number;
  private readonly reused = new Set<string>();

  private constructor(readonly spec: CollectionSpec) {}

  /** Reads an object file and loads it. */
  static loadFile(file: string, opts: CollectionOptions = {}): Collection {
    return Collection.load(loadCollectionSpec(file), opts);
  }

  /** Creates every map and loads every (or the chosen) program of a spec. */
  static load(spec: CollectionSpec, opts: CollectionOptions = {}): Collection {
    const c = new Collection(spec);
    try {
      withFdGroup(() => c.doLoad(opts));
      return c;
    } catch (err) {
      c.close();
      throw err;
    }
  }

  private doLoad(opts: CollectionOptions): void {
    const { spec } = this;
    // Messages are only formatted for a listener: a load makes one per map and program.
    const progress = opts.onProgress;
    if (spec.btf) {
      try {
        this.btfFd = spec.btf.load();
        progress?.('BTF loaded');
      } catch {
        // Older kernels reject some BTF kinds: like libbpf, go on without BTF.
        this.btfFd = undefined;
      }
    }
    this.createMaps(opts.pinPath, progress);
    // Maps of maps wait for an RCU grace period per update (~10 ms here, asleep): their slots
    // are written last, after the programs, so the loader's work does not resume after each
    // sleep with cold caches. No program has run yet, so nothing can observe the order.
    const slotted: MapSpec[] = [];
    for (const m of spec.maps.values()) if (this.initMap(m)) slotted.push(m);
    const names =
      opts.programs === undefined ? [...spec.programs.keys()] : [...new Set(opts.programs)];
    const specs: ProgramSpec[] = [];
    for (const name of names) {
      const p = spec.programs.get(name);
      if (!p) throw new Error(`load ${spec.name}: no program named ${name}`);
      specs.push(p);
    }
    // All at once (see Program.loadAll): all loaded, or none and the error of the first failing.
    const loaded = Program.loadAll(specs, {
      ...opts.program,
      maps: this.maps,
      btfFd: this.btfFd,
    });
    for (let i = 0; i < names.length; i++) {
      this.programs.set(names[i]!, loaded[i]!);
      if (progress) progress(`program ${names[i]!} loaded`);
    }
    for (const m of spec.maps.values()) {
      for (const c of m.contents) {
        if (!('program' in c)) continue;
        const prog = this.programs.get(c.program);
        if (prog) this.maps.get(m.name)!.updateBytes(u32(c.key), u32(prog.fd.raw));
      }
    }
    this.initMapsOfMaps(slotted);
  }

  /**
   * Global variables by name, read and written live; made the first time this is read.
   * An object can declare dozens, and most loads never touch one from JavaScript.
   */
  get variables(): Map<string, Variable> {
    if (this.vars === undefined) {
      const { spec } = this;
      const vars = new Map<string, Variable>();
      for (const [name, v] of spec.variables) {
        const map = this.maps.get(v.map);
        // A partial load (opts.programs) still creates every map; a missing one is a bug.
        if (!map) throw new Error(`variable ${name}: map ${v.map} was not created`);
        vars.set(name, new Variable(v, this.sectionFor(map, v), spec.btf));
      }
      this.vars = vars;
    }
    return this.vars;
  }

  private readonly sectionByMap = new Map<BpfMap, SectionMemory>();
  private sectionFor(map: BpfMap, v: VariableSpec): SectionMemory {
    let s = this.sectionByMap.get(map);
    if (!s) {
      s = new SectionMemory(map, !v.constant);
      this.sectionByMap.set(map, s);
      this.sections.push(s);
    }
    return s;
  }

  /**
   * Creates the spec's maps, in its order. Those that need nothing first (no pin to look for,
   * no inner map to make) are created together (BpfMap.createAll); a refused one takes the
   * one-by-one path, which retries without BTF as libbpf does.
   */
  private createMaps(pinPath: string | undefined, progress?: (step: string) => void): void {
    const simple: MapSpec[] = [];
    for (const m of this.spec.maps.values())
      if (!m.innerMap && !(m.pinning === 'by_name' && pinPath)) simple.push(m);
    const made = BpfMap.createAll(
      simple.map((m) => ({
        spec: m,
        opts: { btfFd: this.doomedBtf(m) ? undefined : this.btfFd },
      })),
    );
    let next = 0;
    try {
      for (const m of this.spec.maps.values()) {
        let map: BpfMap;
        if (simple[next] === m) {
          const r = made[next++]!;
          map = r instanceof BpfMap ? r : this.retryWithoutBtf(m, r);
        } else {
          map = this.createMap(m, pinPath);
        }
        this.maps.set(m.name, map);
        if (progress) progress(`map ${m.name} created`);
      }
    } catch (err) {
      // Created together but not handed over yet: close them here.
      for (let i = next; i < made.length; i++) {
        const r = made[i];
        if (r instanceof BpfMap) r.close();
      }
      throw err;
    }
  }

  /**
   * The kernel refuses a key type without a value type (EINVAL since 5.6; prog arrays and maps
   * of maps declared with __type(key, ...) look like that). libbpf sends it anyway and retries
   * without BTF; skipping the doomed call gives the retry's result without a failed syscall.
   */
  private doomedBtf(m: MapSpec): boolean {
    return this.btfFd !== undefined && m.keyType !== undefined && m.valueType === undefined;
  }

  /** After a creation with BTF failed: like libbpf, again without BTF, or the first error. */
  private retryWithoutBtf(m: MapSpec, err: Error, innerMapFd?: number): BpfMap {
    if (
      this.btfFd === undefined ||
      this.doomedBtf(m) ||
      (m.keyType === undefined && m.valueType === undefined)
    )
      throw err;
    const created = BpfMap.create(m, { innerMapFd });
    created.btf = m.btf;
    created.keyType = m.keyType;
    created.valueType = m.valueType;
    return created;
  }

  private createMap(m: MapSpec, pinPath: string | undefined): BpfMap {
    const where = `map ${m.name}`;
    if (m.pinning === 'by_name' && pinPath) {
      const p = path.join(pinPath, pinName(m.name));
      if (existsSync(p)) {
        const pinned = BpfMap.openPinned(p);
        try {
          checkCompatible(m, pinned, where);
        } catch (err) {
          pinned.close();
          throw err;
        }
        pinned.btf = m.btf;
        pinned.keyType = m.keyType;
        pinned.valueType = m.valueType;
        this.reused.add(m.name);
        this.pinnedByName.set(m.name, p);
        return pinned;
      }
    }
    let inner: BpfMap | undefined;
    try {
      if (m.innerMap) inner = BpfMap.create(m.innerMap, { btfFd: this.btfFd });
      const created = this.tryCreate(m, inner?.fd.raw);
      if (m.pinning === 'by_name' && pinPath) {
        mkdirSync(pinPath, { recursive: true });
        created.pin(path.join(pinPath, pinName(m.name)));
        this.pinnedByName.set(m.name, path.join(pinPath, pinName(m.name)));
      }
      return created;
    } finally {
      inner?.close();
    }
  }

  private tryCreate(m: MapSpec, innerMapFd: number | undefined): BpfMap {
    if (this.doomedBtf(m)) return BpfMap.create(m, { innerMapFd });
    try {
      return BpfMap.create(m, { btfFd: this.btfFd, innerMapFd });
    } catch (err) {
      return this.retryWithoutBtf(m, err as Error, innerMapFd);
    }
  }

  /**
   * Writes a map's initial data and static contents and freezes it if asked. True when the
   * slots of a map of maps are left for {@link initSlots} (not frozen: a frozen map takes no
   * later writes).
   */
  private initMap(m: MapSpec): boolean {
    const map = this.maps.get(m.name)!;
    if (this.reused.has(m.name)) return false;
    if (isMapOfMaps(m) && !m.freeze && m.contents.length > 0) return true;
    if (m.data) {
      // updateBytes copies the value into its scratch buffer: only kconfig needs a private copy.
      let data = m.data;
      if (m.kconfig && m.btf) {
        data = m.data.slice();
        fillKconfig(m.btf, m.kconfig, data);
      }
      map.updateBytes(ZERO_KEY, data);
    }
    this.initSlots(m, map);
    if (m.freeze) map.freeze();
    return false;
  }

  /** Writes a map's static contents one by one: inner maps by fd, values as they are. */
  private initSlots(m: MapSpec, map: BpfMap): void {
    for (const c of m.contents) {
      if ('map' in c) {
        map.updateBytes(u32(c.key), u32(this.innerFd(m, c.map)));
      } else if ('value' in c) {
        map.updateBytes(c.key, c.value);
      }
    }
  }

  /**
   * Writes maps of maps' static slots with one BPF_MAP_UPDATE_BATCH per map. The kernel waits
   * for an RCU grace period (~10 ms here) after every update of a map of maps, a batch
   * included, so a batch instead of a call per slot (libbpf's way) saves a wait per slot.
   * Maps with nothing to batch, and every map once the kernel refuses batches for these types
   * (before 5.6), get their slots one by one, which also redoes any a failed batch wrote.
   */
  private initMapsOfMaps(specs: readonly MapSpec[]): void {
    const batched: MapSpec[] = [];
    const batches: U32Batch[] = [];
    for (const m of specs) {
      const map = this.maps.get(m.name)!;
      const { contents } = m;
      if (contents.length < 2 || m.keySize !== 4 || !contents.every(isSlot)) {
        this.initSlots(m, map);
        continue;
      }
      const keys = contents.map((c) => c.key);
      const values = contents.map((c) => this.innerFd(m, c.map));
      batched.push(m);
      batches.push({ map, keys, values });
    }
    const done = batches.length ? updateBatchesU32(batches) : 0;
    for (let i = done; i < batched.length; i++) this.initSlots(batched[i]!, batches[i]!.map);
  }

  /** The fd of inner map `name` of map of maps `m`. */
  private innerFd(m: MapSpec, name: string): number {
    const inner = this.maps.get(name);
    if (!inner) throw new Error(`map ${m.name}: inner map ${name} was not created`);
    return inner.fd.raw;
  }

  /** The program named `name`; throws listing the available ones. */
  program(name: string): Program {
    const p = this.programs.get(name);
    if (!p) throw new Error(`no program ${name} (have: ${[...this.programs.keys()].join(', ')})`);
    return p;
  }

  /** The map named `name`; throws listing the available ones. */
  map(name: string): BpfMap {
    const m = this.maps.get(name);
    if (!m) throw new Error(`no map ${name} (have: ${[...this.maps.keys()].join(', ')})`);
    return m;
  }

  /** Pins every program at DIR/<name> and every map at DIR/maps/<name> ('.' becomes '_'). */
  pinAll(dir: string): string[] {
    const pinned: string[] = [];
    try {
      mkdirSync(path.join(dir, 'maps'), { recursive: true });
      for (const [name, p] of this.programs) {
        const at = path.join(dir, name);
        p.pin(at);
        pinned.push(at);
      }
      for (const [name, m] of this.maps) {
        const at = path.join(dir, 'maps', pinName(name));
        if (this.pinnedByName.get(name) === at) continue;
        m.pin(at);
        pinned.push(at);
      }
    } catch (err) {
      // Leave nothing half-pinned behind.
      for (const p of pinned) removePin(p);
      if (isErrno(err, 'EEXIST')) {
        throw new Error(
          `pin into ${dir}: something is already pinned there: remove it or choose another directory`,
          { cause: err },
        );
      }
      throw err;
    }
    return pinned;
  }

  /** Releases every fd (pinned objects stay in the kernel). */
  close(): void {
    for (const s of this.sections) s.close();
    for (const p of this.programs.values()) p.close();
    for (const m of this.maps.values()) m.close();
    if (this.btfFd !== undefined) {
      sys().close(this.btfFd);
      this.btfFd = undefined;
    }
  }
}

/** Key 0 of a global-data map; only read (copied into the key scratch), never written. */
const ZERO_KEY = new Uint8Array(4);

/** An entry of a map of maps' static initialiser: an inner map by name. */
function isSlot(c: MapContent): c is Extract<MapContent, { map: string }> {
  return 'map' in c;
}

function isMapOfMaps(m: MapSpec): boolean {
  return m.type === MapType.ArrayOfMaps || m.type === MapType.HashOfMaps;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** A map name as a bpffs file name: bpffs refuses '.', so it becomes '_' (as in libbpf). */
export function pinName(name: string): string {
  return name.replace(/\./g, '_');
}

/** Removes a bpffs pin, ignoring one that is already gone. */
export function removePin(p: string): void {
  rmSync(p, { force: true });
}
