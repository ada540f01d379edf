/**
 * The adapter from the daemon's {@link DataplanePort} to the real data plane library
 * (`Dataplane` in src/dataplane, module types from modules/). There is one topology engine: a
 * desired topology is converted to the data plane's form and applied with its
 * `validateTopology` + `planTopology` + `runSteps` — every error names its field, the steps run
 * all or nothing (a failing step undoes the ones before it), and applying what already runs
 * plans no step. The running graph is always read back from the data plane, so the reconcile
 * loop sees real drift.
 *
 * Restart without touching traffic: after each change the adapter saves the data plane's
 * snapshot (`Dataplane.snapshot()`) as `running.json` beside the daemon's state. A starting
 * daemon that finds it calls `Dataplane.adopt`: the pinned maps, links and slots are re-used,
 * controllers (bridge aging, router ARP/ND slow path) run again and later changes are applied
 * in place. When the kernel no longer holds what the snapshot says (a reboot, someone removed
 * the pins), the adapter starts a fresh data plane and the reconcile loop rebuilds it.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { BpfMap } from '../bpf/index.js';
import {
  ConfigError,
  Dataplane,
  DataplaneError,
  DEFAULT_BPFFS_ROOT,
  parseTopology,
  planTopology,
  runSteps,
  validateTopology,
  type DataplaneState,
  type ModuleType,
  type PacketIn,
  type Topology as DataplaneTopology,
} from '../dataplane/index.js';
import { deleteNetns, netnsExists } from '../net/index.js';
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
  type Topology,
  type TopologyChange,
  type TopologyDiff,
} from './dataplane-port.js';
import { canonicalLink, checkTopology, emptyTopology } from './topology.js';

/** Options of {@link openDataplane}. */
export interface OpenDataplaneOptions {
  log?: (msg: string) => void;
  /** Data plane name: its pin directory and namespace (default "iovisor"). */
  name?: string;
  /** Namespace of the port netdevs (default: the name). */
  netns?: string;
  /** bpffs root (default /sys/fs/bpf/iovisor). */
  bpffsRoot?: string;
  /** Where to keep the running-state record (the daemon's state directory). */
  stateDir?: string;
  /** Module types (default: the built-in modules). */
  types?: ModuleType[];
  /**
   * Report program run counts and time per instance (kernel BPF stats). Default: when the
   * kernel.bpf_stats_enabled sysctl is on.
   */
  programStats?: boolean;
}

/** What the adapter records after each change, for adoption after a restart. */
interface RunningRecord {
  version: 2;
  state: DataplaneState;
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

/** The data plane's form of a (checked, canonical) daemon topology. */
export function toDataplaneTopology(t: Topology): DataplaneTopology {
  return parseTopology({
    hosts: t.hosts ?? {},
    modules: Object.fromEntries(
      Object.entries(t.modules ?? {}).map(([n, m]) => [
        n,
        {
          type: m.type,
          config: m.config ?? {},
          ports: m.ports ?? {},
          ...(m.attach?.length ? { attach: m.attach } : {}),
        },
      ]),
    ),
    links: t.links ?? [],
  });
}

const STEP_KINDS: [RegExp, TopologyChange['op'], TopologyChange['kind']][] = [
  [/^add host (.+)$/, 'add', 'host'],
  [/^remove host (.+)$/, 'remove', 'host'],
  [/^create \S+ (.+)$/, 'add', 'module'],
  [/^delete \S+ (.+)$/, 'remove', 'module'],
  [/^configure port (.+)$/, 'update', 'port'],
  [/^configure (.+)$/, 'update', 'module'],
  [/^add port (.+)$/, 'add', 'port'],
  [/^remove port (.+)$/, 'remove', 'port'],
  [/^link (.+)$/, 'add', 'link'],
  [/^unlink (.+)$/, 'remove', 'link'],
  [/^attach (\S+) to (.+)$/, 'add', 'attach'],
  [/^detach (\S+) from (.+)$/, 'remove', 'attach'],
];

/** A data plane plan step ("create router r1") as a daemon change ({op, kind, name}). */
export function stepChange(what: string): TopologyChange {
  for (const [re, op, kind] of STEP_KINDS) {
    const m = re.exec(what);
    if (!m) continue;
    if (kind === 'attach') return { op, kind, name: `${m[1]} @ ${m[2]}` };
    if (kind === 'link') {
      const [a, b] = m[1]!.split(' <-> ') as [string, string];
      const [x, y] = canonicalLink([a, b]);
      return { op, kind, name: `${x} - ${y}` };
    }
    return { op, kind, name: m[1]! };
  }
  return { op: 'update', kind: 'module', name: what };
}

function inputError(err: unknown): unknown {
  if (err instanceof ConfigError) return new InputError(err.message);
  if (err instanceof DataplaneError) return new InputError(err.message, 409);
  return err;
}

/** The real data plane behind the daemon; see the file comment. */
export class RealDataplane implements DataplanePort {
  private dp!: Dataplane;
  private readonly listeners = new Set<(ev: DataplaneEvent) => void>();
  private readonly types: ModuleType[];
  private readonly name: string;
  private readonly netns?: string;
  private readonly bpffsRoot: string;
  private readonly recordFile?: string;
  private readonly log: (msg: string) => void;
  private readonly programStats?: boolean;
  /** True when the data plane was adopted at open (not built afresh). */
  adopted = false;

  constructor(opts: OpenDataplaneOptions = {}) {
    this.types = opts.types ?? builtinModules;
    this.name = opts.name ?? 'iovisor';
    this.netns = opts.netns;
    this.bpffsRoot = opts.bpffsRoot ?? DEFAULT_BPFFS_ROOT;
    this.recordFile = opts.stateDir ? path.join(opts.stateDir, 'running.json') : undefined;
    this.log = opts.log ?? (() => undefined);
    this.programStats = opts.programStats;
  }

  /** The data plane itself (for tests and tools that need more than the port). */
  get dataplane(): Dataplane {
    return this.dp;
  }

  /** Adopts the data plane recorded by an earlier daemon, or opens a fresh one. */
  open(): void {
    const rec = this.readRecord();
    const base = {
      name: this.name,
      ...(this.netns ? { netns: this.netns } : {}),
      bpffsRoot: this.bpffsRoot,
      types: this.types,
      log: (msg: string) => this.onLog(msg),
      onPacketIn: (instance: string, pkt: PacketIn) => this.onPacketIn(instance, pkt),
    };
    if (rec) {
      try {
        this.dp = Dataplane.adopt({ ...base, state: rec.state });
        this.adopted = true;
        return;
      } catch (err) {
        this.log(
          `cannot adopt the running data plane (${(err as Error).message}): starting afresh`,
        );
      }
      // Hosts of the earlier run are namespaces the new data plane will want to create again.
      for (const h of rec.state.hosts ?? []) if (netnsExists(h.name)) deleteNetns(h.name);
    }
    this.dp = Dataplane.open(base);
    this.saveRecord();
  }

  private onLog(msg: string): void {
    this.log(msg);
    const m = /^([A-Za-z][A-Za-z0-9_-]*): (.*)$/.exec(msg);
    const inst = m && this.dp?.instanceNames().includes(m[1]!) ? m[1] : undefined;
    this.emit({
      type: 'log',
      time: Date.now(),
      ...(inst ? { instance: inst } : {}),
      message: inst ? m![2]! : msg,
    });
  }

  private onPacketIn(instance: string, pkt: PacketIn): void {
    if (!this.listeners.size) return;
    this.emit({
      type: 'packet',
      time: Date.now(),
      instance,
      port: pkt.port.name,
      reason: pkt.reason,
      length: pkt.data.byteLength,
      head: Buffer.from(pkt.data.subarray(0, 64)).toString('hex'),
    });
  }

  private emit(ev: DataplaneEvent): void {
    for (const l of this.listeners) l(ev);
  }

  private readRecord(): RunningRecord | undefined {
    if (!this.recordFile || !existsSync(this.recordFile)) return undefined;
    try {
      const r = JSON.parse(readFileSync(this.recordFile, 'utf8')) as RunningRecord;
      return r.version === 2 && r.state?.name === this.name ? r : undefined;
    } catch {
      return undefined;
    }
  }

  private saveRecord(): void {
    if (!this.recordFile || !this.dp) return;
    const rec: RunningRecord = { version: 2, state: this.dp.snapshot() };
    mkdirSync(path.dirname(this.recordFile), { recursive: true, mode: 0o700 });
    writeAtomic(this.recordFile, JSON.stringify(rec, null, 2) + '\n');
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

  /** The desired topology in the data plane's form, checked against the running data plane. */
  private plan(topology: Topology): ReturnType<typeof planTopology> {
    const want = checkTopology(topology, this.moduleTypes());
    try {
      const topo = toDataplaneTopology(want);
      validateTopology(this.dp, topo);
      return planTopology(this.dp, topo);
    } catch (err) {
      throw inputError(err);
    }
  }

  validate(topology: Topology): void {
    this.plan(topology);
  }

  diff(topology: Topology): TopologyDiff {
    return { changes: this.plan(topology).map((s) => stepChange(s.what)) };
  }

  async apply(topology: Topology): Promise<TopologyDiff> {
    const steps = this.plan(topology);
    if (!steps.length) return { changes: [] };
    try {
      runSteps(steps);
    } catch (err) {
      // runSteps undid what it had done; the cause says whose fault it was.
      const cause = (err as Error).cause;
      if (cause instanceof ConfigError || cause instanceof DataplaneError)
        throw new InputError((err as Error).message, cause instanceof ConfigError ? 400 : 409);
      throw err;
    } finally {
      this.saveRecord();
    }
    const changes = steps.map((s) => stepChange(s.what));
    this.emit({ type: 'change', time: Date.now(), changes });
    return { changes };
  }

  async delete(): Promise<TopologyDiff> {
    return this.apply(emptyTopology());
  }

  show(): Graph {
    const v = this.dp.topology();
    const g: Graph = {
      dataplane: { name: v.name, netns: v.netns, pinDir: v.pinDir },
      hosts: v.hosts.map((h) => ({
        name: h.name,
        config: h.config,
        ...(h.link ? { link: h.link } : {}),
      })),
      netdevs: [],
      instances: [],
      links: v.links.map((l) => canonicalLink(l)),
    };
    for (const i of v.instances) {
      g.instances.push({
        name: i.name,
        type: i.type,
        kind: i.kind,
        slot: i.id,
        hook: i.hook,
        config: i.config,
        attachedTo: [...i.attachedTo],
        ports: i.ports.map((p) => {
          const id = `${i.name}:${p.name}`;
          if (p.peer?.startsWith('netdev:')) g.netdevs.push({ name: p.peer.slice(7), port: id });
          else if (p.peer && !p.peer.includes(':'))
            g.netdevs.push({ name: `iovp${p.gid}`, port: id });
          return {
            name: p.name,
            id,
            gid: p.gid,
            mac: p.mac,
            ...(p.peer ? { peer: p.peer } : {}),
            stack: [...p.stack],
            config: p.config,
            counters: { ...p.stats },
          };
        }),
      });
    }
    return g;
  }

  private statsOn(): boolean {
    if (this.programStats !== undefined) return this.programStats;
    try {
      return readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() === '1';
    } catch {
      return false;
    }
  }

  counters(): Counters {
    const out: Counters = { ports: {}, modules: {} };
    const stats = this.statsOn();
    for (const i of this.dp.topology().instances) {
      const m: Counters['modules'][string] = { packets: 0, bytes: 0, drops: 0 };
      for (const p of i.ports) {
        out.ports[`${i.name}:${p.name}`] = { ...p.stats };
        m.packets += p.stats.rxPackets;
        m.bytes += p.stats.rxBytes;
        m.drops += p.stats.drops;
      }
      if (stats) {
        const info = this.dp.program(i.name).info();
        m.runCount = Number(info.runCount);
        m.runTimeNs = Number(info.runTimeNs);
      }
      out.modules[i.name] = m;
    }
    return out;
  }

  private instanceDir(instance: string): string {
    if (!this.dp.instanceNames().includes(instance))
      throw new InputError(`no instance ${instance}`, 404);
    return path.join(this.dp.pinDir, 'instances', instance);
  }

  private withMap<T>(instance: string, map: string, fn: (m: BpfMap) => T): T {
    const dir = this.instanceDir(instance);
    if (
      !/^[A-Za-z0-9_.]{1,64}$/.test(map) ||
      map.startsWith('iov_') ||
      !existsSync(path.join(dir, map))
    )
      throw new InputError(`instance ${instance} has no map ${JSON.stringify(map)}`, 404);
    let m: BpfMap;
    let owned = false;
    try {
      m = this.dp.map(instance, map);
    } catch {
      // pinned by an earlier version of the object: open the pin
      m = BpfMap.openPinned(path.join(dir, map));
      owned = true;
    }
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
    try {
      return this.dp.status(instance) ?? {};
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
    this.listeners.clear();
    if (!this.dp) return;
    if (opts.keep) {
      // Pins, links and namespaces stay: the kernel keeps forwarding until the next adopt.
      this.saveRecord();
      this.dp.release();
      return;
    }
    this.dp.close();
    if (this.recordFile) rmSync(this.recordFile, { force: true });
  }
}

/** Opens the real data plane for the daemon (adopting the running one when it finds it). */
export async function openDataplane(opts: OpenDataplaneOptions = {}): Promise<DataplanePort> {
  const dp = new RealDataplane(opts);
  dp.open();
  return dp;
}
