/**
 * The adapter from the daemon's {@link DataplanePort} to the real data plane library
 * (`Dataplane` in src/dataplane, module types from modules/). A topology is applied as the
 * daemon's own diff, executed with the data plane's fine-grained calls (hosts, instances,
 * ports, attachments, links); the running topology is always read back from the data plane, so
 * the reconcile loop sees real drift.
 *
 * Restart without touching traffic: after each change the adapter records what it built (the
 * running topology and each port's patch-panel id) in `running.json` beside the daemon's state.
 * When a daemon starts and finds that record and the pins still in bpffs, it *adopts* them: the
 * kernel keeps forwarding, counters are read from the pinned stats map and maps from their pins,
 * and nothing is reloaded. The data plane library has no adoption entry point yet, so an adopted
 * data plane is read-only; the first change that needs the kernel rebuilds it (a short
 * interruption), and user-space controllers (bridge aging, router slow path) do not run while
 * adopted. With `Dataplane.adopt` this becomes a seamless hand-over; see docs/daemon.md.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
  openSync,
  fsyncSync,
  closeSync,
} from 'node:fs';
import path from 'node:path';
import { BpfMap } from '../bpf/index.js';
import {
  Dataplane,
  DataplaneError,
  DEFAULT_BPFFS_ROOT,
  type Endpoint,
  type ModuleType,
  type TopologyView,
} from '../dataplane/index.js';
import { netnsExists, deleteNetns } from '../net/index.js';
import { builtinModules } from '../../modules/index.js';
import {
  InputError,
  type Counters,
  type DataplaneEvent,
  type DataplanePort,
  type Graph,
  type MapEntry,
  type MapSummary,
  type ModuleTypeInfo,
  type PortCounters,
  type Topology,
  type TopologyDiff,
} from './dataplane-port.js';
import { checkTopology, diffTopology, emptyTopology, parseEndpoint } from './topology.js';

/** Options of {@link openDataplane}. */
export interface OpenDataplaneOptions {
  log?: (msg: string) => void;
  /** Data plane name: its pin directory and namespace (default "iovisor"). */
  name?: string;
  /** bpffs root (default /sys/fs/bpf/iovisor). */
  bpffsRoot?: string;
  /** Where to keep the running-state record (the daemon's state directory). */
  stateDir?: string;
  /** Module types (default: the built-in modules). */
  types?: ModuleType[];
}

/** What the adapter records after each change, for adoption after a restart. */
interface RunningRecord {
  version: 1;
  name: string;
  netns: string;
  pinDir: string;
  topology: Topology;
  /** "inst:port" → patch-panel port id. */
  gids: Record<string, number>;
  /** Hosts' namespaces the data plane created. */
  hosts: string[];
}

/** Stats layout of the patch panel's per-CPU iov_stats values (see src/dataplane/bpf/iov.h). */
const STATS_SIZE = 40;

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

function decodeStats(raw: Uint8Array | undefined): PortCounters {
  const s: PortCounters = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, drops: 0 };
  if (!raw) return s;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let o = 0; o + STATS_SIZE <= raw.byteLength; o += STATS_SIZE) {
    s.rxPackets += Number(dv.getBigUint64(o, true));
    s.rxBytes += Number(dv.getBigUint64(o + 8, true));
    s.txPackets += Number(dv.getBigUint64(o + 16, true));
    s.txBytes += Number(dv.getBigUint64(o + 24, true));
    s.drops += Number(dv.getBigUint64(o + 32, true));
  }
  return s;
}

function toEndpoint(s: string): Endpoint {
  const e = parseEndpoint(s, 'endpoint');
  return e;
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** Converts the data plane's view to a topology document. */
function viewToTopology(v: TopologyView): Topology {
  const t: Required<Topology> = { hosts: {}, modules: {}, links: [] };
  for (const h of v.hosts) t.hosts[h.name] = { ...h.config };
  for (const i of v.instances) {
    t.modules[i.name] = {
      type: i.type,
      config: i.config,
      ports: Object.fromEntries(i.ports.map((p) => [p.name, p.config])),
      attach: [...i.attachedTo],
    };
  }
  t.links = v.links.map(([a, b]) => [a, b]);
  return t;
}

/** The real data plane behind the daemon; see the file comment. */
export class RealDataplane implements DataplanePort {
  private dp?: Dataplane;
  private adopted?: RunningRecord;
  private readonly listeners = new Set<(ev: DataplaneEvent) => void>();
  private readonly types: ModuleType[];
  private readonly name: string;
  private readonly bpffsRoot: string;
  private readonly recordFile?: string;
  private readonly log: (msg: string) => void;
  private statsMap?: BpfMap;

  constructor(opts: OpenDataplaneOptions = {}) {
    this.types = opts.types ?? builtinModules;
    this.name = opts.name ?? 'iovisor';
    this.bpffsRoot = opts.bpffsRoot ?? DEFAULT_BPFFS_ROOT;
    this.recordFile = opts.stateDir ? path.join(opts.stateDir, 'running.json') : undefined;
    this.log = opts.log ?? (() => undefined);
  }

  /** Adopts pinned state recorded by an earlier daemon, or opens a fresh data plane. */
  open(): void {
    const rec = this.readRecord();
    const pinDir = path.join(this.bpffsRoot, this.name);
    if (rec && existsSync(path.join(pinDir, 'shared', 'iov_stats')) && netnsExists(rec.netns)) {
      this.adopted = rec;
      this.statsMap = BpfMap.openPinned(path.join(pinDir, 'shared', 'iov_stats'));
      this.log(
        `adopted data plane ${rec.name}: ${Object.keys(rec.topology.modules ?? {}).length} instances, traffic untouched`,
      );
      return;
    }
    this.fresh(rec);
  }

  private fresh(rec?: RunningRecord): void {
    // Hosts of an earlier run are namespaces the data plane will want to create again.
    for (const h of rec?.hosts ?? []) if (netnsExists(h)) deleteNetns(h);
    this.dp = Dataplane.open({
      name: this.name,
      bpffsRoot: this.bpffsRoot,
      types: this.types,
      log: (msg) => this.onLog(msg),
    });
  }

  private onLog(msg: string): void {
    const m = /^([A-Za-z][A-Za-z0-9_-]*): (.*)$/.exec(msg);
    const inst = m && this.dp?.instanceNames().includes(m[1]!) ? m[1] : undefined;
    this.emit({
      type: 'log',
      time: Date.now(),
      ...(inst ? { instance: inst } : {}),
      message: inst ? m![2]! : msg,
    });
  }

  private emit(ev: DataplaneEvent): void {
    for (const l of this.listeners) l(ev);
  }

  private readRecord(): RunningRecord | undefined {
    if (!this.recordFile || !existsSync(this.recordFile)) return undefined;
    try {
      const r = JSON.parse(readFileSync(this.recordFile, 'utf8')) as RunningRecord;
      return r.version === 1 && r.name === this.name ? r : undefined;
    } catch {
      return undefined;
    }
  }

  private saveRecord(): void {
    if (!this.recordFile || !this.dp) return;
    const v = this.dp.topology();
    const gids: Record<string, number> = {};
    for (const i of v.instances) for (const p of i.ports) gids[`${i.name}:${p.name}`] = p.gid;
    const rec: RunningRecord = {
      version: 1,
      name: v.name,
      netns: v.netns,
      pinDir: v.pinDir,
      topology: viewToTopology(v),
      gids,
      hosts: v.hosts.map((h) => h.name),
    };
    mkdirSync(path.dirname(this.recordFile), { recursive: true, mode: 0o700 });
    writeAtomic(this.recordFile, JSON.stringify(rec, null, 2) + '\n');
  }

  private running(): Topology {
    if (this.adopted) return structuredClone(this.adopted.topology);
    return this.dp ? viewToTopology(this.dp.topology()) : emptyTopology();
  }

  moduleTypes(): ModuleTypeInfo[] {
    return this.types.map((t) => ({
      name: t.name,
      kind: t.kind,
      description: t.description,
      schema: t.schema,
      ...(t.portSchema ? { portSchema: t.portSchema } : {}),
    }));
  }

  validate(topology: Topology): void {
    checkTopology(topology, this.moduleTypes());
  }

  diff(topology: Topology): TopologyDiff {
    return diffTopology(this.running(), checkTopology(topology, this.moduleTypes()));
  }

  async apply(topology: Topology): Promise<TopologyDiff> {
    const want = checkTopology(topology, this.moduleTypes());
    let from = this.running();
    let d = diffTopology(from, want);
    if (!d.changes.length) return d;
    if (this.adopted) {
      // No adoption in the library yet: rebuild from scratch (traffic pauses briefly).
      this.log(
        'change after adoption: rebuilding the data plane (Dataplane.adopt is not available)',
      );
      const rec = this.adopted;
      this.adopted = undefined;
      this.statsMap?.close();
      this.statsMap = undefined;
      this.fresh(rec);
      from = this.running();
      d = diffTopology(from, want);
    }
    const dp = this.dp!;
    const done: TopologyDiff = { changes: [] };
    try {
      for (const c of d.changes) {
        this.step(dp, c.op, c.kind, c.name, want);
        done.changes.push(c);
      }
    } finally {
      this.saveRecord();
      if (done.changes.length)
        this.emit({ type: 'change', time: Date.now(), changes: done.changes });
    }
    return done;
  }

  private step(dp: Dataplane, op: string, kind: string, name: string, want: Topology): void {
    const split = (s: string): [string, string] => {
      const i = s.indexOf(':');
      return [s.slice(0, i), s.slice(i + 1)];
    };
    if (kind === 'link') {
      const [a, b] = name.split(' - ') as [string, string];
      const ea = toEndpoint(a);
      const eb = toEndpoint(b);
      if (op === 'add') dp.connect(ea, eb);
      else dp.disconnect(ea.kind === 'port' ? ea : eb);
    } else if (kind === 'attach') {
      const [n, at] = name.split(' @ ') as [string, string];
      const [inst, port] = split(at);
      if (op === 'add') dp.attach(n, inst, port);
      else dp.detach(n, inst, port);
    } else if (kind === 'port') {
      const [inst, port] = split(name);
      const cfg = want.modules?.[inst]?.ports?.[port] ?? {};
      if (op === 'add') dp.addPort(inst, port, cfg);
      else if (op === 'update') dp.updatePort(inst, port, cfg);
      else dp.removePort(inst, port);
    } else if (kind === 'module') {
      const m = want.modules?.[name];
      if (op === 'add') dp.createInstance(name, m!.type, { config: m!.config ?? {} });
      else if (op === 'update') dp.reconfigure(name, m!.config ?? {});
      else dp.deleteInstance(name);
    } else if (kind === 'host') {
      if (op === 'add') dp.addHost(name, want.hosts?.[name] ?? {});
      else dp.removeHost(name);
    }
  }

  async delete(): Promise<TopologyDiff> {
    return this.apply(emptyTopology());
  }

  show(): Graph {
    const g: Graph = { hosts: [], netdevs: [], instances: [], links: [] };
    const counters = this.counters();
    const t = this.running();
    const linkOf = new Map<string, string>();
    for (const [a, b] of t.links ?? []) {
      linkOf.set(a, b);
      linkOf.set(b, a);
    }
    const gids = this.gids();
    for (const [name, config] of Object.entries(t.hosts ?? {})) {
      const l = linkOf.get(name);
      g.hosts.push({ name, config, ...(l ? { link: l } : {}) });
    }
    const stacks = new Map<string, string[]>();
    for (const [n, m] of Object.entries(t.modules ?? {}))
      for (const a of m.attach ?? []) stacks.set(a, [...(stacks.get(a) ?? []), n]);
    const kindOf = new Map(this.types.map((x) => [x.name, x.kind]));
    for (const [name, m] of Object.entries(t.modules ?? {})) {
      g.instances.push({
        name,
        type: m.type,
        kind: kindOf.get(m.type) ?? 'standard',
        config: m.config ?? {},
        attachedTo: [...(m.attach ?? [])],
        ports: Object.entries(m.ports ?? {}).map(([p, config]) => {
          const id = `${name}:${p}`;
          const peer = linkOf.get(id);
          if (peer && !peer.includes(':') && gids[id] !== undefined)
            g.netdevs.push({ name: `iovp${gids[id]}`, port: id });
          if (peer?.startsWith('netdev:')) g.netdevs.push({ name: peer.slice(7), port: id });
          return {
            name: p,
            id,
            ...(peer ? { peer } : {}),
            stack: stacks.get(id) ?? [],
            config,
            counters: counters.ports[id] ?? decodeStats(undefined),
          };
        }),
      });
    }
    g.links = (t.links ?? []).map(([a, b]) => [a, b]);
    return g;
  }

  private gids(): Record<string, number> {
    if (this.adopted) return this.adopted.gids;
    const out: Record<string, number> = {};
    for (const i of this.dp?.topology().instances ?? [])
      for (const p of i.ports) out[`${i.name}:${p.name}`] = p.gid;
    return out;
  }

  counters(): Counters {
    const out: Counters = { ports: {}, modules: {} };
    if (this.adopted) {
      for (const [id, gid] of Object.entries(this.adopted.gids))
        out.ports[id] = decodeStats(this.statsMap?.lookupBytes(u32(gid)));
    } else if (this.dp) {
      for (const i of this.dp.topology().instances)
        for (const p of i.ports) out.ports[`${i.name}:${p.name}`] = { ...p.stats };
    }
    for (const name of Object.keys(this.running().modules ?? {}))
      out.modules[name] = { packets: 0, bytes: 0, drops: 0 };
    for (const [id, c] of Object.entries(out.ports)) {
      const m = out.modules[id.slice(0, id.indexOf(':'))];
      if (!m) continue;
      m.packets += c.rxPackets;
      m.bytes += c.rxBytes;
      m.drops += c.drops;
    }
    return out;
  }

  private instanceDir(instance: string): string {
    if (!this.running().modules?.[instance]) throw new InputError(`no instance ${instance}`, 404);
    return path.join(this.bpffsRoot, this.name, 'instances', instance);
  }

  private openMap(instance: string, map: string): BpfMap {
    const dir = this.instanceDir(instance);
    if (
      !/^[A-Za-z0-9_.]{1,64}$/.test(map) ||
      map.startsWith('iov_') ||
      !existsSync(path.join(dir, map))
    )
      throw new InputError(`instance ${instance} has no map ${JSON.stringify(map)}`, 404);
    if (this.dp && !this.adopted) {
      try {
        return this.dp.map(instance, map);
      } catch {
        // not in the object (pinned by an earlier version): fall through to the pin
      }
    }
    return BpfMap.openPinned(path.join(dir, map));
  }

  private withMap<T>(instance: string, map: string, fn: (m: BpfMap) => T): T {
    const m = this.openMap(instance, map);
    const owned = !this.dp || !!this.adopted;
    try {
      return fn(m);
    } catch (err) {
      if (err instanceof InputError) throw err;
      // Encoding a JSON key or value through BTF failed: the caller's input.
      throw new InputError(`map ${map}: ${(err as Error).message}`);
    } finally {
      if (owned) m.close();
    }
  }

  maps(instance: string): MapSummary[] {
    const dir = this.instanceDir(instance);
    const names = existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('iov_')) : [];
    return names.map((name) =>
      this.withMap(instance, name, (m) => {
        const i = m.info();
        return {
          name,
          type: i.typeName,
          keySize: i.keySize,
          valueSize: i.valueSize,
          maxEntries: i.maxEntries,
        };
      }),
    );
  }

  mapEntries(instance: string, map: string, limit: number): MapEntry[] {
    return this.withMap(instance, map, (m) => {
      const out: MapEntry[] = [];
      for (const [key, value] of m.entries()) {
        if (out.length >= limit) break;
        out.push({ key, value });
      }
      return out;
    });
  }

  mapGet(instance: string, map: string, key: unknown): unknown {
    return this.withMap(instance, map, (m) => m.get(key));
  }

  mapSet(instance: string, map: string, key: unknown, value: unknown): void {
    this.withMap(instance, map, (m) => m.set(key, value));
  }

  mapDelete(instance: string, map: string, key: unknown): boolean {
    return this.withMap(instance, map, (m) => m.delete(key));
  }

  status(instance: string): unknown {
    if (this.adopted) {
      if (!this.adopted.topology.modules?.[instance])
        throw new InputError(`no instance ${instance}`, 404);
      return {
        adopted: true,
        note: 'controller not running: the data plane was adopted after a restart',
      };
    }
    try {
      return this.dp?.status(instance) ?? {};
    } catch (err) {
      if (err instanceof DataplaneError) throw new InputError(err.message, 404);
      throw err;
    }
  }

  subscribe(listener: (ev: DataplaneEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(opts: { keep?: boolean } = {}): void {
    this.statsMap?.close();
    this.statsMap = undefined;
    if (!opts.keep) {
      this.dp?.close();
      if (this.adopted) {
        Dataplane.removeStale(this.adopted.pinDir, this.adopted.netns);
        for (const h of this.adopted.hosts) if (netnsExists(h)) deleteNetns(h);
      }
    }
    // With keep, pins, links and namespaces stay: the kernel keeps forwarding.
    this.listeners.clear();
  }
}

/** Opens the real data plane for the daemon (adopting pinned state when it finds it). */
export async function openDataplane(opts: OpenDataplaneOptions = {}): Promise<DataplanePort> {
  const dp = new RealDataplane(opts);
  dp.open();
  return dp;
}
