/**
 * Topology documents as the daemon handles them: a strict structural check of untrusted input
 * (names, types, links that make sense) before any module schema sees it, a canonical copy, and
 * the pure diff between two documents that apply, dry runs and the reconcile loop share.
 */
import { ConfigError, validate as validateSchema, type Schema } from '../dataplane/index.js';
import {
  InputError,
  type ModuleTypeInfo,
  type Topology,
  type TopologyChange,
  type TopologyDiff,
  type TopologyHost,
  type TopologyModule,
} from './dataplane-port.js';

/** Host names double as network namespace names. */
export const HOST_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,14}$/;
/** Instance names (the data plane's rule). */
export const INSTANCE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,30}$/;
/** Port names (the data plane's rule). */
export const PORT_NAME = /^[A-Za-z0-9_-]{1,16}$/;
/** Netdev names (IFNAMSIZ). */
export const NETDEV_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** Limits on a topology's size, so one request cannot make the daemon build a huge graph. */
export const LIMITS = { hosts: 256, modules: 1000, portsPerModule: 64, links: 4096 } as const;

const hostSchema: Schema & { type: 'object' } = {
  type: 'object',
  properties: {
    address: { type: 'string', format: 'cidr' },
    gateway: { type: 'string', format: 'ip' },
    address6: { type: 'string', format: 'cidr' },
    gateway6: { type: 'string', format: 'ip' },
  },
};

/** A link endpoint, parsed. */
export type EndpointRef =
  | { kind: 'port'; instance: string; port: string }
  | { kind: 'host'; host: string }
  | { kind: 'netdev'; dev: string };

/** Parses "inst:port", "netdev:NAME" or a host name; throws an InputError naming `field`. */
export function parseEndpoint(s: unknown, field: string): EndpointRef {
  if (typeof s !== 'string') throw new InputError(`${field}: must be a string, got ${typeof s}`);
  if (s.startsWith('netdev:')) {
    const dev = s.slice(7);
    if (!NETDEV_NAME.test(dev)) throw new InputError(`${field}: invalid netdev name ${q(dev)}`);
    return { kind: 'netdev', dev };
  }
  const i = s.indexOf(':');
  if (i >= 0) {
    const instance = s.slice(0, i);
    const port = s.slice(i + 1);
    if (!INSTANCE_NAME.test(instance) || !PORT_NAME.test(port))
      throw new InputError(`${field}: ${q(s)} is not an endpoint (inst:port, host or netdev:NAME)`);
    return { kind: 'port', instance, port };
  }
  if (!HOST_NAME.test(s)) throw new InputError(`${field}: ${q(s)} is not a valid host name`);
  return { kind: 'host', host: s };
}

function q(s: string): string {
  return JSON.stringify(s.length > 80 ? s.slice(0, 80) + '…' : s);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(obj: Record<string, unknown>, known: string[], field: string): void {
  for (const k of Object.keys(obj))
    if (!known.includes(k))
      throw new InputError(`${field}.${k}: unknown field (known: ${known.join(', ')})`);
}

/** Wraps the schema validator so its ConfigError becomes an InputError with the field path. */
function schemaCheck(schema: Schema, value: unknown, field: string): void {
  try {
    validateSchema(schema, value, field);
  } catch (err) {
    if (err instanceof ConfigError) throw new InputError(err.message);
    throw err;
  }
}

/**
 * Checks an untrusted topology document: its shape, names, sizes, module types and configs
 * against their schemas, and that links and attachments point at things that exist. Returns a
 * canonical copy (only known fields, defaults filled). Throws {@link InputError}.
 */
export function checkTopology(doc: unknown, types: ModuleTypeInfo[]): Topology {
  if (!isPlainObject(doc)) throw new InputError('topology: must be an object');
  checkKeys(doc, ['hosts', 'modules', 'links'], 'topology');
  const byType = new Map(types.map((t) => [t.name, t]));
  const out: Required<Topology> = { hosts: {}, modules: {}, links: [] };

  if (doc.hosts !== undefined) {
    if (!isPlainObject(doc.hosts)) throw new InputError('hosts: must be an object of host names');
    const names = Object.keys(doc.hosts);
    if (names.length > LIMITS.hosts)
      throw new InputError(`hosts: at most ${LIMITS.hosts} hosts, got ${names.length}`);
    for (const [name, h] of Object.entries(doc.hosts)) {
      if (!HOST_NAME.test(name))
        throw new InputError(`hosts.${q(name)}: invalid host name (letters, digits, - and _; ≤15)`);
      const cfg = h ?? {};
      schemaCheck(hostSchema, cfg, `hosts.${name}`);
      out.hosts[name] = { ...(cfg as TopologyHost) };
    }
  }

  if (doc.modules !== undefined) {
    if (!isPlainObject(doc.modules))
      throw new InputError('modules: must be an object of instance names');
    const names = Object.keys(doc.modules);
    if (names.length > LIMITS.modules)
      throw new InputError(`modules: at most ${LIMITS.modules} instances, got ${names.length}`);
    for (const [name, m] of Object.entries(doc.modules)) {
      const f = `modules.${name}`;
      if (!INSTANCE_NAME.test(name))
        throw new InputError(
          `modules.${q(name)}: invalid instance name (letters, digits, - and _)`,
        );
      if (out.hosts[name]) throw new InputError(`${f}: a host has the same name`);
      if (!isPlainObject(m)) throw new InputError(`${f}: must be an object with a type`);
      checkKeys(m, ['type', 'config', 'ports', 'attach'], f);
      if (typeof m.type !== 'string') throw new InputError(`${f}.type: must be a string`);
      const t = byType.get(m.type);
      if (!t)
        throw new InputError(
          `${f}.type: unknown module type ${q(m.type)} (known: ${[...byType.keys()].join(', ')})`,
        );
      const mod: TopologyModule = { type: m.type, config: {}, ports: {}, attach: [] };
      if (m.config !== undefined) {
        if (!isPlainObject(m.config)) throw new InputError(`${f}.config: must be an object`);
        schemaCheck(t.schema, m.config, `${f}.config`);
        mod.config = structuredClone(m.config);
      }
      if (m.ports !== undefined) {
        if (!isPlainObject(m.ports)) throw new InputError(`${f}.ports: must be an object`);
        if (t.kind === 'transparent' && Object.keys(m.ports).length)
          throw new InputError(`${f}.ports: ${t.name} is transparent: it has no ports`);
        const pn = Object.keys(m.ports);
        if (pn.length > LIMITS.portsPerModule)
          throw new InputError(`${f}.ports: at most ${LIMITS.portsPerModule} ports`);
        for (const [p, pc] of Object.entries(m.ports)) {
          if (!PORT_NAME.test(p)) throw new InputError(`${f}.ports.${q(p)}: invalid port name`);
          const c = pc ?? {};
          if (!isPlainObject(c)) throw new InputError(`${f}.ports.${p}: must be an object`);
          if (t.portSchema) schemaCheck(t.portSchema, c, `${f}.ports.${p}`);
          else if (Object.keys(c).length)
            throw new InputError(`${f}.ports.${p}: ${t.name} ports take no config`);
          mod.ports![p] = structuredClone(c);
        }
      }
      if (m.attach !== undefined) {
        if (!Array.isArray(m.attach) || m.attach.length > 64)
          throw new InputError(`${f}.attach: must be a list of "inst:port" (at most 64)`);
        if (t.kind !== 'transparent' && m.attach.length)
          throw new InputError(`${f}.attach: only transparent modules attach (${t.name} is not)`);
        mod.attach = m.attach.map((a, i) => {
          const e = parseEndpoint(a, `${f}.attach[${i}]`);
          if (e.kind !== 'port') throw new InputError(`${f}.attach[${i}]: must be "inst:port"`);
          return `${e.instance}:${e.port}`;
        });
      }
      out.modules[name] = mod;
    }
  }

  const portOf = (e: EndpointRef, field: string): void => {
    if (e.kind === 'port') {
      const m = out.modules[e.instance];
      if (!m) throw new InputError(`${field}: no module ${q(e.instance)} in this topology`);
      if (!m.ports?.[e.port])
        throw new InputError(`${field}: module ${e.instance} has no port ${q(e.port)}`);
    } else if (e.kind === 'host' && !out.hosts[e.host]) {
      throw new InputError(`${field}: no host ${q(e.host)} in this topology`);
    }
  };

  if (doc.links !== undefined) {
    if (!Array.isArray(doc.links)) throw new InputError('links: must be a list of [a, b] pairs');
    if (doc.links.length > LIMITS.links)
      throw new InputError(`links: at most ${LIMITS.links} links, got ${doc.links.length}`);
    const used = new Map<string, number>();
    doc.links.forEach((l, i) => {
      const f = `links[${i}]`;
      if (!Array.isArray(l) || l.length !== 2)
        throw new InputError(`${f}: must be a pair [a, b] of endpoints`);
      const a = parseEndpoint(l[0], `${f}[0]`);
      const b = parseEndpoint(l[1], `${f}[1]`);
      if (a.kind !== 'port' && b.kind !== 'port')
        throw new InputError(`${f}: one end must be a module port (inst:port)`);
      portOf(a, `${f}[0]`);
      portOf(b, `${f}[1]`);
      for (const s of [l[0] as string, l[1] as string]) {
        if (used.has(s))
          throw new InputError(`${f}: ${q(s)} is already linked by links[${used.get(s)}]`);
        used.set(s, i);
      }
      out.links.push(canonicalLink([l[0] as string, l[1] as string]));
    });
  }

  for (const [name, m] of Object.entries(out.modules)) {
    m.attach?.forEach((a, i) => {
      const e = parseEndpoint(a, `modules.${name}.attach[${i}]`) as EndpointRef & { kind: 'port' };
      portOf(e, `modules.${name}.attach[${i}]`);
      const target = out.modules[e.instance]!;
      if (byType.get(target.type)?.kind !== 'standard')
        throw new InputError(
          `modules.${name}.attach[${i}]: ${e.instance} is not a standard module`,
        );
    });
  }
  return out;
}

/** Links compare equal in either order: keep the smaller string first. */
export function canonicalLink(l: [string, string]): [string, string] {
  return l[0] <= l[1] ? [l[0], l[1]] : [l[1], l[0]];
}

/** Deterministic JSON (sorted keys) so configs compare by value. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (isPlainObject(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

function linkKey(l: [string, string]): string {
  const [a, b] = canonicalLink(l);
  return `${a} - ${b}`;
}

/**
 * The changes that turn `from` into `to`, in an order that can be executed: removals (links,
 * attachments, ports, modules, hosts) before additions (hosts, modules, ports, attachments,
 * links). A module whose type changed, or a host whose addresses changed, is removed and added.
 */
export function diffTopology(from: Topology, to: Topology): TopologyDiff {
  const rm: TopologyChange[] = [];
  const add: TopologyChange[] = [];
  const upd: TopologyChange[] = [];
  const fh = from.hosts ?? {};
  const th = to.hosts ?? {};
  const fm = from.modules ?? {};
  const tm = to.modules ?? {};
  const replacedHosts = new Set<string>();
  const replacedModules = new Set<string>();
  for (const h of Object.keys(fh)) {
    if (!th[h]) rm.push({ op: 'remove', kind: 'host', name: h });
    else if (stableJson(fh[h]) !== stableJson(th[h])) {
      replacedHosts.add(h);
      rm.push({ op: 'remove', kind: 'host', name: h });
      add.push({ op: 'add', kind: 'host', name: h });
    }
  }
  for (const h of Object.keys(th)) if (!fh[h]) add.push({ op: 'add', kind: 'host', name: h });

  const portsRm: TopologyChange[] = [];
  const portsAdd: TopologyChange[] = [];
  for (const [n, m] of Object.entries(fm)) {
    const t = tm[n];
    if (!t || t.type !== m.type) {
      rm.push({ op: 'remove', kind: 'module', name: n });
      if (t) {
        replacedModules.add(n);
        add.push({ op: 'add', kind: 'module', name: n });
      }
      continue;
    }
    if (stableJson(m.config ?? {}) !== stableJson(t.config ?? {}))
      upd.push({ op: 'update', kind: 'module', name: n });
    const fp = m.ports ?? {};
    const tp = t.ports ?? {};
    for (const p of Object.keys(fp))
      if (!tp[p]) portsRm.push({ op: 'remove', kind: 'port', name: `${n}:${p}` });
      else if (stableJson(fp[p]) !== stableJson(tp[p]))
        upd.push({ op: 'update', kind: 'port', name: `${n}:${p}` });
    for (const p of Object.keys(tp))
      if (!fp[p]) portsAdd.push({ op: 'add', kind: 'port', name: `${n}:${p}` });
  }
  for (const n of Object.keys(tm)) {
    if (!fm[n]) add.push({ op: 'add', kind: 'module', name: n });
    if (!fm[n] || replacedModules.has(n))
      for (const p of Object.keys(tm[n]!.ports ?? {}))
        portsAdd.push({ op: 'add', kind: 'port', name: `${n}:${p}` });
  }

  // An endpoint that goes away takes its links and attachments with it; they are re-made.
  const gone = (ep: string): boolean => {
    const i = ep.indexOf(':');
    if (ep.startsWith('netdev:')) return false;
    if (i < 0) return replacedHosts.has(ep);
    return replacedModules.has(ep.slice(0, i));
  };
  const attachSet = (t: Topology): Map<string, string> => {
    const s = new Map<string, string>();
    for (const [n, m] of Object.entries(t.modules ?? {}))
      for (const a of m.attach ?? []) s.set(`${n} @ ${a}`, a);
    return s;
  };
  const fa = attachSet(from);
  const ta = attachSet(to);
  const attRm: TopologyChange[] = [];
  const attAdd: TopologyChange[] = [];
  for (const [k, a] of fa)
    if (!ta.has(k) || gone(a) || replacedModules.has(k.split(' @ ')[0]!))
      attRm.push({ op: 'remove', kind: 'attach', name: k });
  for (const [k, a] of ta)
    if (!fa.has(k) || gone(a) || replacedModules.has(k.split(' @ ')[0]!))
      attAdd.push({ op: 'add', kind: 'attach', name: k });

  const fl = new Map((from.links ?? []).map((l) => [linkKey(l), l]));
  const tl = new Map((to.links ?? []).map((l) => [linkKey(l), l]));
  const linkRm: TopologyChange[] = [];
  const linkAdd: TopologyChange[] = [];
  for (const [k, l] of fl)
    if (!tl.has(k) || gone(l[0]) || gone(l[1]))
      linkRm.push({ op: 'remove', kind: 'link', name: k });
  for (const [k, l] of tl)
    if (!fl.has(k) || gone(l[0]) || gone(l[1])) linkAdd.push({ op: 'add', kind: 'link', name: k });

  const hostsRm = rm.filter((c) => c.kind === 'host');
  const modsRm = rm.filter((c) => c.kind === 'module');
  const hostsAdd = add.filter((c) => c.kind === 'host');
  const modsAdd = add.filter((c) => c.kind === 'module');
  return {
    changes: [
      ...linkRm,
      ...attRm,
      ...portsRm,
      ...modsRm,
      ...hostsRm,
      ...hostsAdd,
      ...modsAdd,
      ...upd,
      ...portsAdd,
      ...attAdd,
      ...linkAdd,
    ],
  };
}

/** An empty topology. */
export function emptyTopology(): Topology {
  return { hosts: {}, modules: {}, links: [] };
}
