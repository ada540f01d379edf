/**
 * The daemon's state machine, free of HTTP: the desired topology (persisted in the store), a
 * queue that serialises every change (API applies, resource edits, the reconcile loop), and the
 * event fan-out. A change is checked completely before the data plane sees it, applied, then
 * persisted; a refused change leaves both the data plane and the store as they were.
 */
import {
  InputError,
  type DataplaneEvent,
  type DataplanePort,
  type Topology,
  type TopologyDiff,
  type TopologyModule,
} from './dataplane-port.js';
import type { StateStore, StoredState } from './store.js';
import { checkTopology, canonicalLink, parseEndpoint, stableJson } from './topology.js';

/** What a change answers. */
export interface ChangeResult {
  generation: number;
  changes: TopologyDiff['changes'];
}

/** A daemon event as streamed to clients: data plane events plus counter snapshots. */
export type DaemonEvent =
  | DataplaneEvent
  | { type: 'counters'; time: number; counters: ReturnType<DataplanePort['counters']> };

/** See the file comment. */
export class DaemonCore {
  private state: StoredState;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<(ev: DaemonEvent) => void>();
  private readonly recent: DaemonEvent[] = [];
  private unsub: () => void;
  /** Reconcile statistics for /metrics. */
  readonly stats = { reconciles: 0, drifts: 0, reconcileErrors: 0 };

  constructor(
    readonly dp: DataplanePort,
    private readonly store: StateStore,
    private readonly log: (msg: string) => void = () => undefined,
  ) {
    this.state = store.load();
    this.unsub = dp.subscribe((ev) => this.publish(ev));
  }

  /** The desired topology (a copy) and its generation. */
  desired(): { generation: number; updated: string; topology: Topology } {
    return {
      generation: this.state.generation,
      updated: this.state.updated,
      topology: structuredClone(this.state.topology),
    };
  }

  /** Runs `fn` after every change queued before it, one at a time. */
  serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Replaces the desired topology with what `edit` returns (given a copy of the current one).
   * Serialised; checked, applied, persisted; 4xx errors change nothing.
   */
  change(edit: (t: Topology) => Topology, opts: { dryRun?: boolean } = {}): Promise<ChangeResult> {
    return this.serialize(async () => {
      const next = checkTopology(edit(structuredClone(this.state.topology)), this.dp.moduleTypes());
      if (opts.dryRun)
        return { generation: this.state.generation, changes: this.dp.diff(next).changes };
      const d = await this.dp.apply(next);
      const same = stableJson(next) === stableJson(this.state.topology);
      if (!same) {
        const st: StoredState = {
          version: 1,
          generation: this.state.generation + 1,
          updated: new Date().toISOString(),
          topology: next,
        };
        this.store.save(st);
        this.state = st;
      }
      return { generation: this.state.generation, changes: d.changes };
    });
  }

  /** Applies a whole topology document (the declarative path). */
  apply(doc: unknown, dryRun = false): Promise<ChangeResult> {
    return this.change(() => doc as Topology, { dryRun });
  }

  /**
   * One reconcile step: if the running data plane differs from the desired state (drift, or
   * after a restart), apply the desired state again.
   */
  reconcile(): Promise<TopologyDiff> {
    return this.serialize(async () => {
      this.stats.reconciles++;
      try {
        const want = this.state.topology;
        const d = this.dp.diff(want);
        if (!d.changes.length) return d;
        this.stats.drifts++;
        this.log(
          `reconcile: ${d.changes.length} changes to reach generation ${this.state.generation}`,
        );
        const done = await this.dp.apply(want);
        this.publish({
          type: 'log',
          time: Date.now(),
          message: `reconcile: repaired ${done.changes.length} differences (${done.changes
            .slice(0, 5)
            .map((c) => `${c.op} ${c.kind} ${c.name}`)
            .join(', ')}${done.changes.length > 5 ? ', …' : ''})`,
        });
        return done;
      } catch (err) {
        this.stats.reconcileErrors++;
        this.log(`reconcile: ${(err as Error).message}`);
        this.publish({
          type: 'log',
          time: Date.now(),
          message: `reconcile failed: ${(err as Error).message}`,
        });
        throw err;
      }
    });
  }

  /**
   * Removes what a topology document names from the desired topology: its hosts and modules
   * (with their links and what is stacked on them) and its links. Names that are not there are
   * ignored, so deleting twice is harmless. `iovisor delete -f FILE` sends the file here.
   */
  remove(doc: unknown): Promise<ChangeResult> {
    const d = objectBody(doc, ['hosts', 'modules', 'links'], 'topology');
    const names = (v: unknown, field: string): string[] => {
      if (v === undefined) return [];
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        throw new InputError(`${field}: must be an object of names`);
      return Object.keys(v);
    };
    const hosts = names(d.hosts, 'hosts');
    const modules = names(d.modules, 'modules');
    if (d.links !== undefined && !Array.isArray(d.links))
      throw new InputError('links: must be a list of [a, b] pairs');
    const links = ((d.links ?? []) as unknown[]).map((l, i) => {
      if (!Array.isArray(l) || l.length !== 2)
        throw new InputError(`links[${i}]: must be a pair [a, b] of endpoints`);
      parseEndpoint(l[0], `links[${i}][0]`);
      parseEndpoint(l[1], `links[${i}][1]`);
      return stableJson(canonicalLink([l[0] as string, l[1] as string]));
    });
    return this.change((t) => {
      for (const h of hosts) delete t.hosts?.[h];
      for (const m of modules) delete t.modules?.[m];
      const drop = new Set(links);
      t.links = (t.links ?? []).filter((l) => !drop.has(stableJson(canonicalLink(l))));
      pruneDangling(t);
      return t;
    });
  }

  // ---- resource edits (each one a change of the desired topology) -----------------------

  /** Creates an instance. */
  createInstance(body: unknown): Promise<ChangeResult> {
    const b = objectBody(body, ['name', 'type', 'config', 'ports', 'attach'], 'instance');
    if (typeof b.name !== 'string') throw new InputError('instance.name: must be a string');
    const name = b.name;
    const { name: _n, ...spec } = b;
    return this.change((t) => {
      if (t.modules?.[name]) throw new InputError(`instance ${name} already exists`, 409);
      if (t.hosts?.[name]) throw new InputError(`a host is named ${name}`, 409);
      t.modules = { ...t.modules, [name]: spec as unknown as TopologyModule };
      return t;
    });
  }

  /** Replaces an instance's spec (type, config, ports, attach). */
  replaceInstance(name: string, body: unknown): Promise<ChangeResult> {
    const b = objectBody(body, ['type', 'config', 'ports', 'attach'], 'instance');
    return this.change((t) => {
      mustModule(t, name);
      t.modules![name] = b as unknown as TopologyModule;
      pruneDangling(t, name);
      return t;
    });
  }

  /** Deletes an instance, its links and what is attached to its ports. */
  deleteInstance(name: string): Promise<ChangeResult> {
    return this.change((t) => {
      mustModule(t, name);
      delete t.modules![name];
      pruneDangling(t);
      return t;
    });
  }

  /** Replaces an instance's config. */
  configure(name: string, body: unknown): Promise<ChangeResult> {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new InputError('config: must be an object');
    return this.change((t) => {
      mustModule(t, name).config = body as Record<string, unknown>;
      return t;
    });
  }

  /** Adds a port. */
  addPort(instance: string, body: unknown): Promise<ChangeResult> {
    const b = objectBody(body, ['name', 'config'], 'port');
    if (typeof b.name !== 'string') throw new InputError('port.name: must be a string');
    const port = b.name;
    const config = b.config ?? {};
    return this.change((t) => {
      const m = mustModule(t, instance);
      if (m.ports?.[port]) throw new InputError(`port ${instance}:${port} already exists`, 409);
      m.ports = { ...m.ports, [port]: config as Record<string, unknown> };
      return t;
    });
  }

  /** Replaces a port's config. */
  configurePort(instance: string, port: string, body: unknown): Promise<ChangeResult> {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new InputError('port config: must be an object');
    return this.change((t) => {
      const m = mustModule(t, instance);
      if (!m.ports?.[port]) throw new InputError(`no port ${instance}:${port}`, 404);
      m.ports[port] = body as Record<string, unknown>;
      return t;
    });
  }

  /** Removes a port, its link and what is stacked on it. */
  deletePort(instance: string, port: string): Promise<ChangeResult> {
    return this.change((t) => {
      const m = mustModule(t, instance);
      if (!m.ports?.[port]) throw new InputError(`no port ${instance}:${port}`, 404);
      delete m.ports[port];
      pruneDangling(t);
      return t;
    });
  }

  /** Links two endpoints. */
  connect(body: unknown): Promise<ChangeResult> {
    const b = objectBody(body, ['a', 'b'], 'connection');
    parseEndpoint(b.a, 'connection.a');
    parseEndpoint(b.b, 'connection.b');
    const l = canonicalLink([b.a as string, b.b as string]);
    return this.change((t) => {
      if ((t.links ?? []).some((x) => stableJson(canonicalLink(x)) === stableJson(l)))
        throw new InputError(`${l[0]} and ${l[1]} are already linked`, 409);
      t.links = [...(t.links ?? []), l];
      return t;
    });
  }

  /** Removes the link at an endpoint. */
  disconnect(endpoint: string): Promise<ChangeResult> {
    parseEndpoint(endpoint, 'endpoint');
    return this.change((t) => {
      const before = (t.links ?? []).length;
      t.links = (t.links ?? []).filter(([a, b]) => a !== endpoint && b !== endpoint);
      if (t.links.length === before) throw new InputError(`${endpoint} is not linked`, 404);
      return t;
    });
  }

  // ---- events -------------------------------------------------------------------------

  /** Sends an event to subscribers and keeps it in the recent list. */
  publish(ev: DaemonEvent): void {
    if (ev.type !== 'counters') {
      this.recent.push(ev);
      if (this.recent.length > 500) this.recent.splice(0, this.recent.length - 500);
    }
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (err) {
        this.log(`event listener: ${(err as Error).message}`);
      }
    }
  }

  /** The last events (up to 500), oldest first. */
  recentEvents(limit: number): DaemonEvent[] {
    return this.recent.slice(-limit);
  }

  /** Subscribes to events; returns the unsubscribe function. */
  subscribe(l: (ev: DaemonEvent) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Number of subscribers. */
  get subscribers(): number {
    return this.listeners.size;
  }

  /** Waits for queued changes, then stops listening to the data plane. */
  async close(): Promise<void> {
    await this.queue;
    this.unsub();
    this.listeners.clear();
  }
}

function objectBody(body: unknown, known: string[], what: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InputError(`${what}: the body must be a JSON object`);
  for (const k of Object.keys(body))
    if (!known.includes(k))
      throw new InputError(`${what}.${k}: unknown field (known: ${known.join(', ')})`);
  return body as Record<string, unknown>;
}

function mustModule(t: Topology, name: string): TopologyModule {
  const m = t.modules?.[name];
  if (!m) throw new InputError(`no instance ${name}`, 404);
  return m;
}

/**
 * Drops links and attachments whose endpoints no longer exist (in the stored, already checked
 * part of the topology; `except` names an instance whose new spec the caller is about to set).
 */
function pruneDangling(t: Topology, except?: string): void {
  const exists = (ep: string): boolean => {
    if (ep.startsWith('netdev:')) return true;
    const i = ep.indexOf(':');
    if (i < 0) return !!t.hosts?.[ep];
    return !!t.modules?.[ep.slice(0, i)]?.ports?.[ep.slice(i + 1)];
  };
  t.links = (t.links ?? []).filter(([a, b]) => exists(a) && exists(b));
  for (const [n, m] of Object.entries(t.modules ?? {}))
    if (n !== except && Array.isArray(m.attach)) m.attach = m.attach.filter(exists);
}
