/**
 * Declarative topologies: a YAML file of hosts, module instances (with config, ports and
 * attachments) and links. `applyTopology` validates the whole file first (every error names
 * its field), computes the difference from what is running, and applies it all or nothing:
 * if a step fails, the steps already done are undone in reverse. Applying the same file
 * twice changes nothing. `deleteTopology` removes what a file describes.
 */
import { parse as parseYaml } from 'yaml';
import { netnsExists } from '../net/index.js';
import { Dataplane, endpointName, type Endpoint, type HostConfig } from './dataplane.js';
import { checkXdpHook } from './xdp.js';
import { ConfigError, validate, type Schema } from './schema.js';

/** A host of a topology. */
export interface TopoHost extends HostConfig {
  name: string;
}

/** A module instance of a topology. */
export interface TopoModule {
  name: string;
  type: string;
  hook?: 'tcx' | 'xdp';
  config: Record<string, unknown>;
  ports: Record<string, Record<string, unknown>>;
  /** Ports ("r1:p2") a transparent module is stacked on, in order. */
  attach: string[];
  /** Position in each port's stack (0 = nearest the wire; default: nearest the module). */
  position?: number;
}

/** A validated topology. */
export interface Topology {
  hosts: TopoHost[];
  modules: TopoModule[];
  links: [Endpoint, Endpoint][];
}

const STRUCTURAL = new Set(['type', 'hook', 'ports', 'attach', 'position', 'config']);

const hostSchema: Schema & { type: 'object' } = {
  type: 'object',
  properties: {
    address: { type: 'string', format: 'cidr' },
    gateway: { type: 'string', format: 'ipv4' },
    address6: { type: 'string', format: 'cidr' },
    gateway6: { type: 'string', format: 'ipv6' },
  },
};

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses and checks a topology's structure (YAML text or an already-parsed object). Module
 * types and configs are checked against a data plane by {@link validateTopology}.
 */
export function parseTopology(input: string | unknown): Topology {
  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = parseYaml(input);
    } catch (err) {
      throw new ConfigError('topology', `not valid YAML: ${(err as Error).message}`);
    }
  }
  doc ??= {};
  if (!isObj(doc)) throw new ConfigError('topology', 'must be a mapping of hosts, modules, links');
  for (const k of Object.keys(doc))
    if (!['hosts', 'modules', 'links'].includes(k))
      throw new ConfigError(k, 'unknown section (known: hosts, modules, links)');
  const topo: Topology = { hosts: [], modules: [], links: [] };
  const hosts = doc.hosts ?? {};
  if (!isObj(hosts)) throw new ConfigError('hosts', 'must be a mapping of host names');
  for (const [name, h] of Object.entries(hosts)) {
    const field = `hosts.${name}`;
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,14}$/.test(name))
      throw new ConfigError(
        field,
        'a host name (its namespace name) needs 1-15 letters, digits, - or _',
      );
    validate(hostSchema, h ?? {}, field);
    const hc = (h ?? {}) as HostConfig;
    if (hc.address && hc.address.includes(':'))
      throw new ConfigError(`${field}.address`, 'IPv4 address expected (use address6 for IPv6)');
    if (hc.address6 && !hc.address6.includes(':'))
      throw new ConfigError(`${field}.address6`, 'IPv6 address expected');
    topo.hosts.push({ name, ...hc });
  }
  const modules = doc.modules ?? {};
  if (!isObj(modules)) throw new ConfigError('modules', 'must be a mapping of instance names');
  for (const [name, m] of Object.entries(modules)) {
    const field = `modules.${name}`;
    if (hosts[name] !== undefined) throw new ConfigError(field, `name ${name} is also a host`);
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,30}$/.test(name))
      throw new ConfigError(field, 'an instance name needs letters, digits, - or _');
    if (!isObj(m)) throw new ConfigError(field, 'must be a mapping with at least "type"');
    if (typeof m.type !== 'string')
      throw new ConfigError(`${field}.type`, 'is required (a module type name)');
    if (m.hook !== undefined && m.hook !== 'tcx' && m.hook !== 'xdp')
      throw new ConfigError(`${field}.hook`, `must be tcx or xdp, got ${JSON.stringify(m.hook)}`);
    const ports = m.ports ?? {};
    if (!isObj(ports)) throw new ConfigError(`${field}.ports`, 'must be a mapping of port names');
    for (const [p, pc] of Object.entries(ports))
      if (pc !== null && pc !== undefined && !isObj(pc))
        throw new ConfigError(`${field}.ports.${p}`, 'must be a mapping (port config)');
    const attach = m.attach === undefined ? [] : Array.isArray(m.attach) ? m.attach : [m.attach];
    attach.forEach((a, i) => {
      if (typeof a !== 'string')
        throw new ConfigError(
          `${field}.attach${Array.isArray(m.attach) ? `[${i}]` : ''}`,
          'must be "module:port" or a host name',
        );
    });
    if (m.position !== undefined && (!Number.isInteger(m.position) || (m.position as number) < 0))
      throw new ConfigError(`${field}.position`, 'must be a non-negative integer');
    const config: Record<string, unknown> = isObj(m.config) ? { ...m.config } : {};
    for (const [k, v] of Object.entries(m)) if (!STRUCTURAL.has(k)) config[k] = v;
    topo.modules.push({
      name,
      type: m.type,
      ...(m.hook ? { hook: m.hook as 'tcx' | 'xdp' } : {}),
      config,
      ports: Object.fromEntries(
        Object.entries(ports).map(([p, pc]) => [p, (pc ?? {}) as Record<string, unknown>]),
      ),
      attach: attach as string[],
      ...(m.position !== undefined ? { position: m.position as number } : {}),
    });
  }
  const links = doc.links ?? [];
  if (!Array.isArray(links)) throw new ConfigError('links', 'must be a list of [a, b] pairs');
  const hostNames = new Set(topo.hosts.map((h) => h.name));
  const modByName = new Map(topo.modules.map((m) => [m.name, m]));
  const used = new Map<string, string>();
  links.forEach((l, i) => {
    if (!Array.isArray(l) || l.length !== 2)
      throw new ConfigError(`links[${i}]`, 'must be a pair [a, b]');
    const ends = l.map((e, j) => {
      const field = `links[${i}][${j}]`;
      if (typeof e !== 'string') throw new ConfigError(field, 'must be a string');
      const ep = parseEndpoint(e, field, hostNames, modByName);
      const key = endpointName(ep);
      const prev = used.get(key);
      if (prev) throw new ConfigError(field, `${key} is already used by ${prev}`);
      used.set(key, field);
      return ep;
    }) as [Endpoint, Endpoint];
    if (ends[0].kind !== 'port' && ends[1].kind !== 'port')
      throw new ConfigError(`links[${i}]`, 'one end must be a module port ("module:port")');
    // A port named by a link exists even if the module does not list it.
    for (const ep of ends)
      if (ep.kind === 'port') {
        const m = modByName.get(ep.instance)!;
        m.ports[ep.port] ??= {};
      }
    topo.links.push(ends);
  });
  for (const m of topo.modules) {
    m.attach = m.attach.map((a, i) => {
      const field = `modules.${m.name}.attach${m.attach.length > 1 ? `[${i}]` : ''}`;
      if (hostNames.has(a)) {
        const l = topo.links.find((x) => x.some((e) => e.kind === 'host' && e.host === a));
        const pe = l?.find((e) => e.kind === 'port');
        if (!pe || pe.kind !== 'port')
          throw new ConfigError(field, `host ${a} is not linked to a module port`);
        return `${pe.instance}:${pe.port}`;
      }
      const [inst, port] = a.split(':');
      const target = modByName.get(inst ?? '');
      if (!target || port === undefined)
        throw new ConfigError(
          field,
          `${JSON.stringify(a)}: no module ${inst} in this topology (use "module:port")`,
        );
      if (target.ports[port] === undefined)
        throw new ConfigError(field, `${a}: module ${inst} has no port ${port}`);
      return a;
    });
  }
  return topo;
}

function parseEndpoint(
  s: string,
  field: string,
  hosts: Set<string>,
  modules: Map<string, TopoModule>,
): Endpoint {
  if (s.startsWith('netdev:')) {
    const [dev, ns] = s.slice(7).split('@');
    if (!dev) throw new ConfigError(field, 'netdev:NAME[@NAMESPACE] needs a name');
    return ns === undefined
      ? { kind: 'netdev', dev }
      : ({ kind: 'netdev', dev, netns: ns } as Endpoint);
  }
  if (s.includes(':')) {
    const [inst, port, extra] = s.split(':');
    if (!inst || !port || extra !== undefined)
      throw new ConfigError(field, `${JSON.stringify(s)} is not "module:port"`);
    if (!modules.has(inst))
      throw new ConfigError(
        field,
        `${JSON.stringify(s)}: no module ${inst} in this topology (dangling peer)`,
      );
    if (!/^[A-Za-z0-9_-]{1,16}$/.test(port))
      throw new ConfigError(
        field,
        `port name ${JSON.stringify(port)}: use letters, digits, - and _`,
      );
    return { kind: 'port', instance: inst, port };
  }
  if (!hosts.has(s))
    throw new ConfigError(
      field,
      `${JSON.stringify(s)}: no host or module port of that name (dangling peer)`,
    );
  return { kind: 'host', host: s };
}

/**
 * Checks a parsed topology against a data plane: module types exist, configs and port configs
 * fit their schemas, transparent modules have no ports or links, hosts' namespaces are free,
 * netdevs exist in the data plane namespace. Changes nothing.
 */
export function validateTopology(dp: Dataplane, topo: Topology): void {
  const known = new Set(dp.moduleTypes().map((t) => t.name));
  const kinds = new Map<string, string>();
  for (const m of topo.modules) {
    const field = `modules.${m.name}`;
    if (!known.has(m.type))
      throw new ConfigError(
        `${field}.type`,
        `unknown module type ${JSON.stringify(m.type)} (known: ${[...known].join(', ')})`,
      );
    const t = dp.moduleType(m.type);
    kinds.set(m.name, t.kind);
    if (m.hook === 'xdp') checkXdpHook(t, `${field}.hook`);
    validate(t.schema, m.config, field);
    if (t.kind === 'transparent') {
      if (Object.keys(m.ports).length)
        throw new ConfigError(
          `${field}.ports`,
          `${m.type} is transparent: it has no ports (use attach)`,
        );
    } else {
      if (m.attach.length)
        throw new ConfigError(
          `${field}.attach`,
          `${m.type} is a standard module: only transparent modules attach`,
        );
      const max = Math.min(t.maxPorts ?? 64, 64);
      if (Object.keys(m.ports).length > max)
        throw new ConfigError(`${field}.ports`, `${m.type} takes at most ${max} ports`);
      for (const [p, pc] of Object.entries(m.ports))
        dp.validatePortConfig(m.type, pc, `${field}.ports.${p}`);
    }
  }
  for (const m of topo.modules)
    m.attach.forEach((a) => {
      const inst = a.split(':')[0]!;
      if (kinds.get(inst) !== 'standard')
        throw new ConfigError(
          `modules.${m.name}.attach`,
          `${a}: ${inst} is transparent; attach to a standard module's port`,
        );
    });
  const running = new Set(dp.hostNames());
  for (const h of topo.hosts)
    if (!running.has(h.name) && netnsExists(h.name))
      throw new ConfigError(
        `hosts.${h.name}`,
        `a network namespace named ${h.name} already exists and is not managed by this data plane`,
      );
  topo.links.forEach((l, i) =>
    l.forEach((e, j) => {
      if (e.kind !== 'netdev') return;
      const field = `links[${i}][${j}]`;
      const ns = (e as { netns?: string }).netns;
      if (ns !== undefined && !netnsExists(ns))
        throw new ConfigError(field, `namespace ${ns} does not exist`);
      if (ns !== undefined && ns !== dp.netns)
        throw new ConfigError(
          field,
          `netdev ${e.dev} is in namespace ${ns}: port netdevs must live in the data plane namespace ${dp.netns}`,
        );
    }),
  );
  for (const l of topo.links)
    for (const e of l)
      if (e.kind === 'port' && kinds.get(e.instance) === 'transparent')
        throw new ConfigError(
          `modules.${e.instance}`,
          `${e.instance} is transparent: it has no ports to link`,
        );
}

/** One change of a plan, with how to do and undo it. */
export interface Step {
  what: string;
  run(): void;
  undo(): void;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function linkKey(a: Endpoint, b: Endpoint): string {
  return [endpointName(a), endpointName(b)].sort().join(' <-> ');
}

function parseLinkName(s: string): Endpoint {
  if (s.startsWith('netdev:')) return { kind: 'netdev', dev: s.slice(7) };
  if (s.includes(':')) {
    const [instance, port] = s.split(':');
    return { kind: 'port', instance: instance!, port: port! };
  }
  return { kind: 'host', host: s };
}

/** The steps that turn what runs into `topo` (empty when they already match). */
export function planTopology(dp: Dataplane, topo: Topology): Step[] {
  const view = dp.topology();
  const remove: Step[] = [];
  const add: Step[] = [];
  const want = {
    hosts: new Map(topo.hosts.map((h) => [h.name, h])),
    modules: new Map(topo.modules.map((m) => [m.name, m])),
    links: new Map(topo.links.map(([a, b]) => [linkKey(a, b), [a, b] as [Endpoint, Endpoint]])),
  };
  const hostCfg = (h: TopoHost): HostConfig => {
    const { name: _n, ...c } = h;
    return c;
  };
  // Instances to replace (type changed) or drop; hosts to replace or drop.
  const goneModules = new Set<string>();
  for (const i of view.instances) {
    const m = want.modules.get(i.name);
    // A changed hook re-creates the instance (its netdevs get other entry programs).
    if (!m || m.type !== i.type || (m.hook ?? 'tcx') !== i.hook) goneModules.add(i.name);
  }
  const goneHosts = new Set<string>();
  for (const h of view.hosts) {
    const w = want.hosts.get(h.name);
    if (!w || !same(hostCfg(w), h.config)) goneHosts.add(h.name);
  }
  const gonePorts = new Set<string>();
  for (const i of view.instances) {
    if (goneModules.has(i.name)) continue;
    const m = want.modules.get(i.name)!;
    for (const p of i.ports)
      if (m.ports[p.name] === undefined) gonePorts.add(`${i.name}:${p.name}`);
  }
  const touches = (e: Endpoint): boolean =>
    (e.kind === 'port' &&
      (goneModules.has(e.instance) || gonePorts.has(`${e.instance}:${e.port}`))) ||
    (e.kind === 'host' && goneHosts.has(e.host));

  // Attachments.
  const haveAttach = new Set<string>();
  for (const i of view.instances) for (const t of i.attachedTo) haveAttach.add(`${i.name}@${t}`);
  const wantAttach = new Map<string, { t: string; target: string; pos?: number }>();
  for (const m of topo.modules)
    for (const a of m.attach)
      wantAttach.set(`${m.name}@${a}`, {
        t: m.name,
        target: a,
        ...(m.position !== undefined ? { pos: m.position } : {}),
      });
  for (const key of haveAttach) {
    const [t, target] = key.split('@') as [string, string];
    const [inst, port] = target.split(':') as [string, string];
    if (
      wantAttach.has(key) &&
      !goneModules.has(t) &&
      !goneModules.has(inst) &&
      !gonePorts.has(target)
    )
      continue;
    const pos = view.instances
      .find((x) => x.name === inst)
      ?.ports.find((p) => p.name === port)
      ?.stack.indexOf(t);
    remove.push({
      what: `detach ${t} from ${target}`,
      run: () => dp.detach(t, inst, port),
      undo: () => dp.attach(t, inst, port, pos),
    });
  }
  // Links.
  const haveLinks = new Map(
    view.links.map(([a, b]) => [
      linkKey(parseLinkName(a), parseLinkName(b)),
      [parseLinkName(a), parseLinkName(b)] as [Endpoint, Endpoint],
    ]),
  );
  for (const [k, [a, b]] of haveLinks) {
    if (want.links.has(k) && !touches(a) && !touches(b)) continue;
    remove.push({
      what: `unlink ${k}`,
      run: () => dp.disconnect(a.kind === 'port' ? a : b),
      undo: () => dp.connect(a, b),
    });
  }
  // Ports, instances, hosts.
  for (const p of gonePorts) {
    const [inst, port] = p.split(':') as [string, string];
    const cfg = view.instances
      .find((x) => x.name === inst)!
      .ports.find((x) => x.name === port)!.config;
    remove.push({
      what: `remove port ${p}`,
      run: () => dp.removePort(inst, port),
      undo: () => void dp.addPort(inst, port, cfg),
    });
  }
  for (const name of goneModules) {
    const i = view.instances.find((x) => x.name === name)!;
    const ports = Object.fromEntries(i.ports.map((p) => [p.name, p.config]));
    remove.push({
      what: `delete ${i.type} ${name}`,
      run: () => dp.deleteInstance(name),
      undo: () =>
        dp.createInstance(name, i.type, {
          config: i.config,
          ports,
          hook: i.hook === 'xdp' ? 'xdp' : 'tcx',
        }),
    });
  }
  for (const name of goneHosts) {
    const h = view.hosts.find((x) => x.name === name)!;
    remove.push({
      what: `remove host ${name}`,
      run: () => dp.removeHost(name),
      undo: () => dp.addHost(name, h.config),
    });
  }
  // Additions and changes.
  for (const h of topo.hosts) {
    if (view.hosts.some((x) => x.name === h.name) && !goneHosts.has(h.name)) continue;
    add.push({
      what: `add host ${h.name}`,
      run: () => dp.addHost(h.name, hostCfg(h)),
      undo: () => dp.removeHost(h.name),
    });
  }
  for (const m of topo.modules) {
    const cur = view.instances.find((x) => x.name === m.name);
    if (!cur || goneModules.has(m.name)) {
      add.push({
        what: `create ${m.type} ${m.name}`,
        run: () =>
          dp.createInstance(m.name, m.type, {
            config: m.config,
            ports: m.ports,
            ...(m.hook ? { hook: m.hook } : {}),
          }),
        undo: () => dp.deleteInstance(m.name),
      });
      continue;
    }
    if (!same(cur.config, m.config)) {
      const old = cur.config;
      add.push({
        what: `configure ${m.name}`,
        run: () => dp.reconfigure(m.name, m.config),
        undo: () => dp.reconfigure(m.name, old),
      });
    }
    for (const [p, pc] of Object.entries(m.ports)) {
      const cp = cur.ports.find((x) => x.name === p);
      if (!cp)
        add.push({
          what: `add port ${m.name}:${p}`,
          run: () => void dp.addPort(m.name, p, pc),
          undo: () => dp.removePort(m.name, p),
        });
      else if (!same(cp.config, pc)) {
        const old = cp.config;
        add.push({
          what: `configure port ${m.name}:${p}`,
          run: () => dp.updatePort(m.name, p, pc),
          undo: () => dp.updatePort(m.name, p, old),
        });
      }
    }
  }
  for (const [k, [a, b]] of want.links) {
    const had = haveLinks.get(k);
    if (had && !touches(had[0]) && !touches(had[1])) continue;
    add.push({
      what: `link ${k}`,
      run: () => dp.connect(a, b),
      undo: () => dp.disconnect(a.kind === 'port' ? a : b),
    });
  }
  for (const [key, w] of wantAttach) {
    const [inst, port] = w.target.split(':') as [string, string];
    if (
      haveAttach.has(key) &&
      !goneModules.has(w.t) &&
      !goneModules.has(inst) &&
      !gonePorts.has(w.target)
    )
      continue;
    add.push({
      what: `attach ${w.t} to ${w.target}`,
      run: () => dp.attach(w.t, inst, port, w.pos),
      undo: () => dp.detach(w.t, inst, port),
    });
  }
  return [...remove, ...add];
}

/** What an apply did. */
export interface ApplyResult {
  /** The steps taken, in order (empty: nothing to do). */
  changes: string[];
}

/** Runs steps in order; if one fails, undoes the finished ones in reverse and rethrows. */
export function runSteps(steps: Step[]): ApplyResult {
  const done: Step[] = [];
  for (const s of steps) {
    try {
      s.run();
      done.push(s);
    } catch (err) {
      const undoErrors: string[] = [];
      for (const d of done.reverse()) {
        try {
          d.undo();
        } catch (e) {
          undoErrors.push(`${d.what}: ${(e as Error).message}`);
        }
      }
      const msg = `${s.what}: ${(err as Error).message}${undoErrors.length ? ` (rollback incomplete: ${undoErrors.join('; ')})` : ' (rolled back)'}`;
      throw new Error(msg, { cause: err });
    }
  }
  return { changes: steps.map((s) => s.what) };
}

/** Validates `topo` against the data plane and makes it what runs, all or nothing. */
export function applyTopology(dp: Dataplane, input: string | Topology | unknown): ApplyResult {
  const topo = isTopology(input) ? input : parseTopology(input);
  validateTopology(dp, topo);
  return runSteps(planTopology(dp, topo));
}

/** Removes everything `topo` describes that runs (hosts' namespaces included). */
export function deleteTopology(dp: Dataplane, input: string | Topology | unknown): ApplyResult {
  const topo = isTopology(input) ? input : parseTopology(input);
  const view = dp.topology();
  const steps: Step[] = [];
  const mods = new Set(topo.modules.map((m) => m.name));
  const order = [...topo.modules].sort(
    (a, b) => Number(b.attach.length > 0) - Number(a.attach.length > 0),
  );
  for (const m of order) {
    const i = view.instances.find((x) => x.name === m.name);
    if (!i) continue;
    steps.push({
      what: `delete ${i.type} ${m.name}`,
      run: () => dp.deleteInstance(m.name),
      undo: () => undefined,
    });
  }
  for (const h of topo.hosts)
    if (view.hosts.some((x) => x.name === h.name))
      steps.push({
        what: `remove host ${h.name}`,
        run: () => dp.removeHost(h.name),
        undo: () => undefined,
      });
  void mods;
  // Deletion does not roll back: run every step, report what failed at the end.
  const errors: string[] = [];
  const changes: string[] = [];
  for (const s of steps) {
    try {
      s.run();
      changes.push(s.what);
    } catch (err) {
      errors.push(`${s.what}: ${(err as Error).message}`);
    }
  }
  if (errors.length) throw new Error(`delete: ${errors.join('; ')}`);
  return { changes };
}

function isTopology(x: unknown): x is Topology {
  return isObj(x) && Array.isArray(x.hosts) && Array.isArray(x.modules) && Array.isArray(x.links);
}
