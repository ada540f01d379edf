/**
 * An in-memory data plane for tests and demos without root: it keeps the running topology,
 * counters that {@link FakeDataplane.traffic} (or the optional ticker) makes rise, a few maps
 * per instance, and events. It checks input exactly as the daemon's contract asks, so the API
 * tests exercise the same 4xx paths as the real adapter.
 */
import type { Schema } from '../dataplane/index.js';
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

const vlan: Schema = { type: 'integer', minimum: 1, maximum: 4094 };

/** Module types shaped like the built-in bridge, router and monitor. */
export const FAKE_TYPES: ModuleTypeInfo[] = [
  {
    name: 'bridge',
    kind: 'standard',
    description: 'learning switch with VLANs',
    schema: {
      type: 'object',
      properties: {
        aging: {
          type: 'oneOf',
          options: [
            { type: 'string', format: 'duration' },
            { type: 'integer', minimum: 1, maximum: 86400 },
          ],
        },
      },
    },
    portSchema: {
      type: 'object',
      properties: {
        mode: { type: 'string', enum: ['access', 'trunk'] },
        vlan,
        mac: { type: 'string', format: 'mac' },
      },
    },
  },
  {
    name: 'router',
    kind: 'standard',
    description: 'IPv4/IPv6 router with static routes',
    schema: {
      type: 'object',
      properties: {
        routes: {
          type: 'array',
          maxItems: 1024,
          items: {
            type: 'object',
            properties: {
              dst: { type: 'string', format: 'cidr' },
              via: { type: 'string', format: 'ip' },
            },
            required: ['dst'],
          },
        },
      },
    },
    portSchema: {
      type: 'object',
      properties: { address: { type: 'string', format: 'cidr' } },
      required: ['address'],
    },
  },
  {
    name: 'monitor',
    kind: 'transparent',
    description: 'counts packets by protocol',
    schema: { type: 'object', properties: { sample: { type: 'integer', minimum: 0 } } },
  },
];

const ZERO: PortCounters = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, drops: 0 };

/** See the file comment. */
export class FakeDataplane implements DataplanePort {
  private running: Topology = emptyTopology();
  private readonly portCounters = new Map<string, PortCounters>();
  private readonly runTime = new Map<string, { runCount: number; runTimeNs: number }>();
  private readonly mapsOf = new Map<string, Map<string, Map<string, unknown>>>();
  private readonly listeners = new Set<(ev: DataplaneEvent) => void>();
  private ticker?: NodeJS.Timeout;
  /** How many times apply ran (tests check serialisation with it). */
  applies = 0;
  /** Apply takes this long (ms), so concurrent requests overlap in tests. */
  applyDelayMs = 0;
  private applying = false;

  constructor(
    private readonly types: ModuleTypeInfo[] = FAKE_TYPES,
    /** Generate traffic on every linked port every `tickMs` (0: never). */
    tickMs = 0,
  ) {
    if (tickMs > 0) {
      this.ticker = setInterval(() => this.tick(), tickMs);
      this.ticker.unref();
    }
  }

  moduleTypes(): ModuleTypeInfo[] {
    return structuredClone(this.types);
  }

  validate(topology: Topology): void {
    checkTopology(topology, this.types);
  }

  diff(topology: Topology): TopologyDiff {
    return diffTopology(this.running, checkTopology(topology, this.types));
  }

  async apply(topology: Topology): Promise<TopologyDiff> {
    const want = checkTopology(topology, this.types);
    if (this.applying)
      throw new Error('fake dataplane: concurrent apply (the daemon must serialise)');
    this.applying = true;
    try {
      if (this.applyDelayMs) await new Promise((r) => setTimeout(r, this.applyDelayMs));
      const d = diffTopology(this.running, want);
      this.running = structuredClone(want);
      this.applies++;
      this.syncState();
      if (d.changes.length) this.emit({ type: 'change', time: Date.now(), changes: d.changes });
      return d;
    } finally {
      this.applying = false;
    }
  }

  async delete(): Promise<TopologyDiff> {
    return this.apply(emptyTopology());
  }

  /** Drops state of removed ports and instances; creates maps of new instances. */
  private syncState(): void {
    const ports = new Set<string>();
    for (const [n, m] of Object.entries(this.running.modules ?? {})) {
      for (const p of Object.keys(m.ports ?? {})) ports.add(`${n}:${p}`);
      if (!this.mapsOf.has(n)) {
        const maps = new Map<string, Map<string, unknown>>();
        maps.set('stats', new Map());
        if (m.type === 'bridge') maps.set('fdb', new Map());
        if (m.type === 'router') maps.set('routes', new Map());
        this.mapsOf.set(n, maps);
      }
    }
    for (const k of [...this.portCounters.keys()]) if (!ports.has(k)) this.portCounters.delete(k);
    for (const k of [...this.mapsOf.keys()]) if (!this.running.modules?.[k]) this.mapsOf.delete(k);
  }

  /** The running topology (a copy). */
  runningTopology(): Topology {
    return structuredClone(this.running);
  }

  /**
   * Simulates drift: something outside the daemon removed an instance (as if its pins were
   * deleted by hand). The reconcile loop should put it back.
   */
  dropInstance(name: string): void {
    const mods = this.running.modules ?? {};
    delete mods[name];
    this.running.links = (this.running.links ?? []).filter(
      ([a, b]) => !a.startsWith(`${name}:`) && !b.startsWith(`${name}:`),
    );
    this.syncState();
  }

  /**
   * Counts traffic through a link: `packets` frames of `size` bytes enter `from` ("inst:port")
   * and leave through every other linked port of that instance; `drops` are dropped inside.
   */
  traffic(from: string, packets: number, size = 100, drops = 0): void {
    const e = parseEndpoint(from, 'traffic');
    if (e.kind !== 'port' || !this.running.modules?.[e.instance]?.ports?.[e.port])
      throw new InputError(`no port ${from}`, 404);
    const c = this.counter(from);
    c.rxPackets += packets;
    c.rxBytes += packets * size;
    c.drops += drops;
    const m = this.running.modules[e.instance]!;
    const others = Object.keys(m.ports ?? {}).filter(
      (p) => p !== e.port && this.linked(`${e.instance}:${p}`),
    );
    if (others.length) {
      const out = this.counter(`${e.instance}:${others[0]}`);
      out.txPackets += packets - drops;
      out.txBytes += (packets - drops) * size;
    }
    const rt = this.runTime.get(e.instance) ?? { runCount: 0, runTimeNs: 0 };
    rt.runCount += packets;
    rt.runTimeNs += packets * 120;
    this.runTime.set(e.instance, rt);
  }

  private linked(port: string): boolean {
    return (this.running.links ?? []).some(([a, b]) => a === port || b === port);
  }

  private counter(port: string): PortCounters {
    let c = this.portCounters.get(port);
    if (!c) this.portCounters.set(port, (c = { ...ZERO }));
    return c;
  }

  /** One ticker step: a little traffic into every port linked to a host. */
  tick(): void {
    for (const [a, b] of this.running.links ?? []) {
      const port = a.includes(':') && !a.startsWith('netdev:') ? a : b;
      this.traffic(port, 10 + Math.floor(Math.random() * 20), 98, Math.random() < 0.1 ? 1 : 0);
    }
  }

  show(): Graph {
    const g: Graph = { hosts: [], netdevs: [], instances: [], links: [] };
    const linkOf = new Map<string, string>();
    for (const [a, b] of this.running.links ?? []) {
      linkOf.set(a, b);
      linkOf.set(b, a);
    }
    for (const [name, config] of Object.entries(this.running.hosts ?? {})) {
      const l = linkOf.get(name);
      g.hosts.push({ name, config, ...(l ? { link: l } : {}) });
    }
    const stacks = new Map<string, string[]>();
    for (const [n, m] of Object.entries(this.running.modules ?? {}))
      for (const a of m.attach ?? []) stacks.set(a, [...(stacks.get(a) ?? []), n]);
    for (const [name, m] of Object.entries(this.running.modules ?? {})) {
      const kind = this.types.find((t) => t.name === m.type)?.kind ?? 'standard';
      g.instances.push({
        name,
        type: m.type,
        kind,
        config: m.config ?? {},
        attachedTo: [...(m.attach ?? [])],
        ports: Object.entries(m.ports ?? {}).map(([p, config]) => {
          const id = `${name}:${p}`;
          const peer = linkOf.get(id);
          if (peer && !peer.includes(':')) g.netdevs.push({ name: `veth-${peer}`, port: id });
          if (peer?.startsWith('netdev:')) g.netdevs.push({ name: peer.slice(7), port: id });
          return {
            name: p,
            id,
            ...(peer ? { peer } : {}),
            stack: stacks.get(id) ?? [],
            config,
            counters: { ...(this.portCounters.get(id) ?? ZERO) },
          };
        }),
      });
    }
    g.links = structuredClone(this.running.links ?? []);
    return g;
  }

  counters(): Counters {
    const out: Counters = { ports: {}, modules: {} };
    for (const [n, m] of Object.entries(this.running.modules ?? {})) {
      const mc = { packets: 0, bytes: 0, drops: 0, ...(this.runTime.get(n) ?? {}) };
      for (const p of Object.keys(m.ports ?? {})) {
        const c = { ...(this.portCounters.get(`${n}:${p}`) ?? ZERO) };
        out.ports[`${n}:${p}`] = c;
        mc.packets += c.rxPackets;
        mc.bytes += c.rxBytes;
        mc.drops += c.drops;
      }
      out.modules[n] = mc;
    }
    return out;
  }

  private map(instance: string, map: string): Map<string, unknown> {
    const maps = this.mapsOf.get(instance);
    if (!maps) throw new InputError(`no instance ${instance}`, 404);
    const m = maps.get(map);
    if (!m) throw new InputError(`instance ${instance} has no map ${map}`, 404);
    return m;
  }

  maps(instance: string): MapSummary[] {
    const maps = this.mapsOf.get(instance);
    if (!maps) throw new InputError(`no instance ${instance}`, 404);
    return [...maps.keys()].map((name) => ({
      name,
      type: 'hash',
      keySize: 8,
      valueSize: 16,
      maxEntries: 1024,
    }));
  }

  mapEntries(instance: string, map: string, limit: number): MapEntry[] {
    return [...this.map(instance, map).entries()]
      .slice(0, limit)
      .map(([k, value]) => ({ key: JSON.parse(k) as unknown, value }));
  }

  mapGet(instance: string, map: string, key: unknown): unknown {
    return this.map(instance, map).get(JSON.stringify(key));
  }

  mapSet(instance: string, map: string, key: unknown, value: unknown): void {
    const m = this.map(instance, map);
    if (!m.has(JSON.stringify(key)) && m.size >= 1024)
      throw new InputError(`map ${map} is full (1024 entries)`, 409);
    m.set(JSON.stringify(key), value);
  }

  mapDelete(instance: string, map: string, key: unknown): boolean {
    return this.map(instance, map).delete(JSON.stringify(key));
  }

  status(instance: string): unknown {
    if (!this.running.modules?.[instance]) throw new InputError(`no instance ${instance}`, 404);
    return { fake: true };
  }

  subscribe(listener: (ev: DataplaneEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Emits an event to subscribers (tests and the ticker use it). */
  emit(ev: DataplaneEvent): void {
    for (const l of this.listeners) l(ev);
  }

  close(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.listeners.clear();
  }
}
