/**
 * The data plane: a network namespace holding every port netdev, a patch panel (shared,
 * pinned maps and the entry programs), module instances loaded into patch-panel slots, hosts
 * (namespaces for demos and tests) and the links between them. One object owns all of it and
 * can tear it all down again.
 *
 * How a port is realised: a port whose peer is a host is a veth pair, one end inside the
 * host's namespace (its `eth0`), the other in the data plane namespace with the entry program
 * on tcx ingress. A port whose peer is a netdev uses that netdev (it must live in the data
 * plane namespace). A link between two module ports has no netdev at all: the packet moves by
 * tail call. See docs/dataplane.md.
 */
import { mkdirSync, readdirSync, rmSync, rmdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import {
  BpfMap,
  Collection,
  loadCollectionSpec,
  Link,
  RingBuffer,
  type CollectionSpec,
  type Program,
} from '../bpf/index.js';
import {
  addAddress,
  addRoute,
  attachTcx,
  attachXdp,
  createNetns,
  createVeth,
  deleteLink,
  deleteNetns,
  linkByName,
  netnsExists,
  setLinkUp,
  withNetns,
} from '../net/index.js';
import { possibleCpus } from '../sys/index.js';
import type {
  AttachmentInfo,
  InstanceContext,
  ModuleController,
  ModuleType,
  PacketIn,
  PortInfo,
} from './module.js';
import { adoptInto, snapshotOf, type DataplaneInternals, type DataplaneState } from './adopt.js';
import { DEFAULT_BPFFS_ROOT, patchPanelObject, SHARED_MAPS } from './paths.js';
import { ConfigError, validate } from './schema.js';
import { checkXdpHook, xdpBuildOf } from './xdp.js';
import type { InstanceState, PortDevice, PortState } from './state.js';

/** Options for {@link Dataplane.open}. */
export interface DataplaneOptions {
  /** Data plane name: names its pin directory (default "iovisor"). */
  name?: string;
  /** Namespace holding the port netdevs (default: the name). Created, and removed on close. */
  netns?: string;
  /** bpffs directory for all data planes (default /sys/fs/bpf/iovisor). */
  bpffsRoot?: string;
  /** Module types instances can be created from. */
  types: ModuleType[];
  /** Log lines (slow path events, swaps); default: none. */
  log?: (msg: string) => void;
  /** Every slow-path packet, after its instance's controller saw it (event streams, capture). */
  onPacketIn?: (instance: string, pkt: PacketIn) => void;
}

/** A host: a network namespace named after it, with one interface once linked. */
export interface HostConfig {
  /** IPv4 address with prefix, e.g. 198.18.1.10/24. */
  address?: string;
  gateway?: string;
  /** IPv6 address with prefix, e.g. 2001:db8:1::10/64. */
  address6?: string;
  gateway6?: string;
}

/** One end of a link. */
export type Endpoint =
  | { kind: 'port'; instance: string; port: string }
  | { kind: 'host'; host: string }
  | { kind: 'netdev'; dev: string };

/** Formats an endpoint the way topologies write it. */
export function endpointName(e: Endpoint): string {
  if (e.kind === 'port') return `${e.instance}:${e.port}`;
  if (e.kind === 'host') return e.host;
  return `netdev:${e.dev}`;
}

/** Options for {@link Dataplane.createInstance}. */
export interface InstanceOptions {
  config?: Record<string, unknown>;
  /** Ports to create now, with their configs. */
  ports?: Record<string, Record<string, unknown>>;
  /**
   * Hook of the instance's port netdevs: 'tcx' (the default) or 'xdp' (the XDP build of the
   * entry in front of tcx; see xdp.ts). Needs the object's XDP build.
   */
  hook?: 'tcx' | 'xdp';
  /** Load this object instead of the type's prebuilt one. */
  object?: string;
}

/** Packet and byte counters of a port, summed over CPUs. */
export interface PortStats {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  drops: number;
}

/** The running graph, as `topology show` prints it. */
export interface TopologyView {
  name: string;
  netns: string;
  pinDir: string;
  hosts: { name: string; config: HostConfig; link?: string }[];
  instances: {
    name: string;
    type: string;
    kind: 'standard' | 'transparent';
    id: number;
    hook: string;
    object: string;
    config: Record<string, unknown>;
    ports: (PortInfo & { stack: string[]; stats: PortStats })[];
    attachedTo: string[];
  }[];
  links: [string, string][];
}

/** Options for {@link Dataplane.upgrade}. */
export interface UpgradeOptions {
  /** The new object file (default: the type's prebuilt object, i.e. a reload). */
  object?: string;
}

interface HostState {
  name: string;
  config: HostConfig;
  /** The port this host is linked to. */
  link?: { instance: string; port: string };
}

const PORT_BITS = 6;
const IOV_PORT_SIZE = 44;
const STATS_SIZE = 48;
/** iov_port.flags: the entry is a port (unused array elements are all zero). */
const PORT_USED = 1;
/** iov_port.flags: the host side of the port's veth runs XDP (the XDP build may redirect). */
const PORT_XDP_TX = 2;
const PEER_KIND = { none: 0, host: 1, netdev: 2, port: 3 } as const;
const LOOP_DEV = 'iovloop0';
const LOOP_PEER = 'iovloop1';

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

/** A data-plane operation refused before anything changed. */
export class DataplaneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataplaneError';
  }
}

/** The data plane: see the file comment. Create with {@link Dataplane.open}. */
export class Dataplane {
  readonly name: string;
  readonly netns: string;
  readonly pinDir: string;
  private readonly types = new Map<string, ModuleType>();
  private readonly instances = new Map<string, InstanceState>();
  private readonly byId = new Map<number, InstanceState>();
  private readonly hosts = new Map<string, HostState>();
  private readonly log: (msg: string) => void;
  private readonly packetInHook?: (instance: string, pkt: PacketIn) => void;
  private panel!: Collection;
  /** The patch panel's XDP build (entry and iov_pass) over the same pinned maps. */
  private panelXdp!: Collection;
  private pktout!: Program;
  private loopLink?: Link;
  private ring?: RingBuffer<PacketInRecord>;
  private closed = false;
  private readonly cpus = possibleCpus();

  private constructor(opts: DataplaneOptions) {
    this.name = opts.name ?? 'iovisor';
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(this.name))
      throw new DataplaneError(`dataplane: invalid name ${JSON.stringify(this.name)}`);
    this.netns = opts.netns ?? this.name;
    this.pinDir = path.join(opts.bpffsRoot ?? DEFAULT_BPFFS_ROOT, this.name);
    for (const t of opts.types) this.types.set(t.name, t);
    this.log = opts.log ?? (() => undefined);
    this.packetInHook = opts.onPacketIn;
  }

  /**
   * Creates the data plane: its namespace, the loop device, the patch panel maps (pinned
   * under the pin directory) and the slow-path reader. State left by an earlier run of the
   * same name (pins, namespace) is removed first.
   */
  static open(opts: DataplaneOptions): Dataplane {
    const dp = new Dataplane(opts);
    try {
      dp.init();
    } catch (err) {
      dp.teardown();
      throw err;
    }
    return dp;
  }

  private init(): void {
    Dataplane.removeStale(this.pinDir, this.netns);
    mkdirSync(path.join(this.pinDir, 'links'), { recursive: true });
    mkdirSync(path.join(this.pinDir, 'instances'), { recursive: true });
    createNetns(this.netns);
    setLinkUp('lo', { netns: this.netns });
    createVeth(LOOP_DEV, LOOP_PEER, { netns: this.netns });
    setLinkUp(LOOP_PEER, { netns: this.netns });
    setLinkUp(LOOP_DEV, { netns: this.netns });
    const loopIndex = linkByName(LOOP_DEV, { netns: this.netns }).index;
    this.panel = Collection.loadFile(patchPanelObject(), {
      pinPath: path.join(this.pinDir, 'shared'),
    });
    this.panelXdp = Collection.loadFile(xdpBuildOf(patchPanelObject())!, {
      pinPath: path.join(this.pinDir, 'shared'),
    });
    this.panel.map('iov_cfg').updateBytes(u32(0), u32(loopIndex));
    this.pktout = this.panel.program('iov_pktout');
    this.loopLink = attachTcx(this.panel.program('iov_entry'), {
      dev: LOOP_DEV,
      netns: this.netns,
      direction: 'ingress',
    });
    this.loopLink.pin(path.join(this.pinDir, 'links', LOOP_DEV));
    this.startSlowPath();
  }

  private startSlowPath(): void {
    this.ring = new RingBuffer(this.panel.map('iov_pktin'), { decode: decodePacketIn });
    this.ring.on('data', (rec: PacketInRecord) => this.onPacketIn(rec));
    this.ring.on('error', (err: Error) => this.log(`slow path: ${err.message}`));
  }

  /**
   * Re-opens a data plane that kept forwarding without an owner (daemon restart, kill -9) from
   * its {@link Dataplane.snapshot}: pinned maps, links and slots are re-used as they are and the
   * controllers start again (see adopt.ts). Throws AdoptError, changing nothing, when the
   * kernel no longer holds what the snapshot describes.
   */
  static adopt(opts: DataplaneOptions & { state: DataplaneState }): Dataplane {
    const dp = new Dataplane(opts);
    try {
      adoptInto(dp as unknown as DataplaneInternals, opts.state);
      dp.startSlowPath();
    } catch (err) {
      dp.release();
      throw err;
    }
    return dp;
  }

  /** What {@link Dataplane.adopt} needs besides the kernel's state; save it after each change. */
  snapshot(): DataplaneState {
    return snapshotOf(this as unknown as DataplaneInternals);
  }

  /**
   * Stops the user-space side (slow path, controllers' timers) and closes every handle while
   * the kernel keeps forwarding: pins, links and namespaces stay for a later adopt.
   */
  release(): void {
    if (this.closed) return;
    this.closed = true;
    this.ring?.close();
    this.ring = undefined;
    for (const i of this.instances.values()) {
      try {
        i.controller?.close?.();
      } catch (err) {
        this.log(`instance ${i.name}: controller close: ${(err as Error).message}`);
      }
      i.collection?.close();
      i.xdp?.close();
      for (const p of i.ports.values()) {
        p.device?.link.close();
        p.device?.xdp?.link.close();
        p.device?.hostXdp?.link.close();
        p.device?.hostXdp?.rx?.link.close();
      }
    }
    this.loopLink?.close();
    this.loopLink = undefined;
    this.panel?.close();
    this.panelXdp?.close();
  }

  /** Removes what an earlier data plane of this name left behind (pinned links, maps, netns). */
  static removeStale(pinDir: string, netns: string): void {
    const linksDir = path.join(pinDir, 'links');
    if (existsSync(linksDir)) {
      for (const f of readdirSync(linksDir)) {
        try {
          const l = Link.openPinned(path.join(linksDir, f));
          l.detach();
          l.close();
        } catch {
          // already gone
        }
      }
    }
    rmSync(pinDir, { recursive: true, force: true });
    // The shared root (/sys/fs/bpf/iovisor) goes too once no data plane uses it.
    try {
      rmdirSync(path.dirname(pinDir));
    } catch {
      // Not empty (another data plane) or already gone.
    }
    if (netnsExists(netns)) deleteNetns(netns);
  }

  // ---- module types -------------------------------------------------------------------

  /** The module types this data plane knows. */
  moduleTypes(): ModuleType[] {
    return [...this.types.values()];
  }

  /** A module type by name; throws listing the known ones. */
  moduleType(name: string): ModuleType {
    const t = this.types.get(name);
    if (!t)
      throw new DataplaneError(
        `unknown module type ${JSON.stringify(name)} (known: ${[...this.types.keys()].join(', ')})`,
      );
    return t;
  }

  // ---- hosts --------------------------------------------------------------------------

  /** Host names. */
  hostNames(): string[] {
    return [...this.hosts.keys()];
  }

  /** A host's config. */
  hostConfig(name: string): HostConfig | undefined {
    return this.hosts.get(name)?.config;
  }

  /** Creates a host: a network namespace of that name with loopback up. */
  addHost(name: string, config: HostConfig = {}): void {
    if (this.hosts.has(name)) throw new DataplaneError(`host ${name} already exists`);
    if (netnsExists(name))
      throw new DataplaneError(
        `host ${name}: a network namespace named ${name} already exists (not created by this data plane)`,
      );
    createNetns(name);
    try {
      setLinkUp('lo', { netns: name });
    } catch (err) {
      deleteNetns(name);
      throw err;
    }
    this.hosts.set(name, { name, config: { ...config } });
  }

  /** Removes a host (and the link to it). */
  removeHost(name: string): void {
    const h = this.hosts.get(name);
    if (!h) throw new DataplaneError(`no host ${name}`);
    if (h.link) this.disconnect({ kind: 'host', host: name });
    if (netnsExists(name)) deleteNetns(name);
    this.hosts.delete(name);
  }

  // ---- instances ----------------------------------------------------------------------

  /** Instance names. */
  instanceNames(): string[] {
    return [...this.instances.keys()];
  }

  /** Type, config and port names of an instance, or undefined. */
  instance(name: string):
    | {
        type: string;
        config: Record<string, unknown>;
        ports: Record<string, Record<string, unknown>>;
      }
    | undefined {
    const i = this.instances.get(name);
    if (!i) return undefined;
    return {
      type: i.type.name,
      config: i.config,
      ports: Object.fromEntries([...i.ports.values()].map((p) => [p.name, p.config])),
    };
  }

  /** Checks an instance config against its type's schema without changing anything. */
  validateConfig(typeName: string, config: Record<string, unknown>, field: string): void {
    validate(this.moduleType(typeName).schema, config, field);
  }

  /** Checks a port config against its type's port schema without changing anything. */
  validatePortConfig(typeName: string, config: Record<string, unknown>, field: string): void {
    const t = this.moduleType(typeName);
    if (t.kind === 'transparent')
      throw new ConfigError(field, `${t.name} is transparent: it has no ports`);
    if (t.portSchema) validate(t.portSchema, config, field);
  }

  /**
   * Creates an instance: loads its object into a fresh patch-panel slot, sharing the patch
   * panel's maps, runs its controller's configure, and creates the given ports.
   */
  createInstance(name: string, typeName: string, opts: InstanceOptions = {}): void {
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,30}$/.test(name))
      throw new DataplaneError(
        `instance name ${JSON.stringify(name)}: use letters, digits, - and _`,
      );
    if (this.instances.has(name)) throw new DataplaneError(`instance ${name} already exists`);
    const type = this.moduleType(typeName);
    const config = opts.config ?? {};
    validate(type.schema, config, `modules.${name}`);
    const hook = opts.hook ?? 'tcx';
    if (hook !== 'tcx' && hook !== 'xdp')
      throw new ConfigError(`modules.${name}.hook`, `hook ${String(hook)}: must be tcx or xdp`);
    if (hook === 'xdp') checkXdpHook(type, `modules.${name}.hook`, opts.object ?? type.object);
    for (const [p, pc] of Object.entries(opts.ports ?? {}))
      this.validatePortConfig(typeName, pc, `modules.${name}.ports.${p}`);
    const id = this.freeSlot();
    const dir = path.join(this.pinDir, 'instances', name);
    const object = opts.object ?? type.object;
    const spec = loadCollectionSpec(object);
    const collection = this.loadInstanceObject(spec, dir, type, name);
    let xdp: Collection | undefined;
    try {
      xdp = this.loadXdpBuild(object, dir, type, name);
    } catch (err) {
      collection.close();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const inst: InstanceState = {
      name,
      type,
      id,
      hook,
      config,
      object,
      ports: new Map(),
      collection,
      ...(xdp ? { xdp } : {}),
      controller: undefined as unknown as ModuleController,
      attachments: [],
      dir,
    };
    try {
      inst.controller = type.create(this.context(inst));
      inst.controller.configure(config);
      this.setSlots(inst);
    } catch (err) {
      inst.controller?.close?.();
      collection.close();
      xdp?.close();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    this.instances.set(name, inst);
    this.byId.set(id, inst);
    try {
      for (const [p, pc] of Object.entries(opts.ports ?? {})) this.addPort(name, p, pc);
    } catch (err) {
      this.deleteInstance(name);
      throw err;
    }
    this.log(`instance ${name} (${type.name}) created in slot ${id}`);
  }

  /**
   * Points the instance's slot in both program arrays at its programs (each one atomic update;
   * an instance without an XDP build has an empty XDP slot, so XDP packets drop to tc there).
   */
  private setSlots(inst: InstanceState): void {
    const prog = inst.type.program;
    this.panel
      .map('iov_patch')
      .updateBytes(u32(inst.id), u32(inst.collection.program(prog).fd.raw));
    if (inst.xdp)
      this.panel.map('iov_patch_xdp').updateBytes(u32(inst.id), u32(inst.xdp.program(prog).fd.raw));
    else this.panel.map('iov_patch_xdp').delete(inst.id);
  }

  /** Loads the XDP build next to `object` over the instance's maps, if there is one. */
  private loadXdpBuild(
    object: string,
    dir: string,
    type: ModuleType,
    name: string,
  ): Collection | undefined {
    const x = xdpBuildOf(object);
    return x ? this.loadInstanceObject(loadCollectionSpec(x), dir, type, name) : undefined;
  }

  private freeSlot(): number {
    for (let id = 1; id < 1024; id++) if (!this.byId.has(id)) return id;
    throw new DataplaneError('no free patch-panel slot (1023 instances)');
  }

  /**
   * Loads an object for an instance so that it shares the patch panel: the shared maps are
   * pinned into the instance's directory under their names first, then the object is loaded
   * with that directory as its pin path, which re-uses them and pins (or re-uses) its own.
   */
  private loadInstanceObject(
    spec: CollectionSpec,
    dir: string,
    type: ModuleType,
    name: string,
  ): Collection {
    const prog = spec.programs.get(type.program);
    if (!prog)
      throw new DataplaneError(
        `module ${type.name}: object ${spec.name} has no program ${type.program}`,
      );
    for (const m of spec.maps.values()) {
      if (m.name.startsWith('iov_') && m.pinning !== 'by_name')
        throw new DataplaneError(`module ${type.name}: map ${m.name} must be pinned by name`);
    }
    mkdirSync(dir, { recursive: true });
    for (const shared of SHARED_MAPS) {
      const at = path.join(dir, shared);
      if (!existsSync(at) && spec.maps.has(shared)) this.panel.map(shared).pin(at);
    }
    try {
      return Collection.load(spec, { pinPath: dir });
    } catch (err) {
      throw new Error(`instance ${name}: load ${spec.name}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Deletes an instance: its ports (and links), attachments, slot, maps and pins. */
  deleteInstance(name: string): void {
    const inst = this.mustInstance(name);
    for (const a of [...inst.attachments]) this.detach(name, a.instance, a.port);
    for (const p of [...inst.ports.keys()]) this.removePort(name, p);
    try {
      inst.controller.close?.();
    } catch (err) {
      this.log(`instance ${name}: controller close: ${(err as Error).message}`);
    }
    this.panel.map('iov_patch').delete(inst.id);
    this.panel.map('iov_patch_xdp').delete(inst.id);
    inst.collection.close();
    inst.xdp?.close();
    rmSync(inst.dir, { recursive: true, force: true });
    this.instances.delete(name);
    this.byId.delete(inst.id);
    this.log(`instance ${name} deleted`);
  }

  /** Replaces an instance's config (validated first; the controller rewrites its maps). */
  reconfigure(name: string, config: Record<string, unknown>): void {
    const inst = this.mustInstance(name);
    validate(inst.type.schema, config, `modules.${name}`);
    inst.controller.configure(config);
    inst.config = config;
  }

  /**
   * Hot swap: loads a new object for the instance re-using its pinned maps (state survives),
   * then switches the patch-panel slot in one atomic map update. Packets in flight finish in
   * the old program; the next ones run the new one. Nothing changes if the load fails (e.g. a
   * map's layout differs).
   */
  upgrade(name: string, opts: UpgradeOptions = {}): { object: string } {
    const inst = this.mustInstance(name);
    const object = opts.object ?? inst.type.object;
    if (inst.hook === 'xdp') checkXdpHook(inst.type, `modules.${name}.hook`, object);
    const spec = loadCollectionSpec(object);
    const next = this.loadInstanceObject(spec, inst.dir, inst.type, name);
    let nextXdp: Collection | undefined;
    try {
      nextXdp = this.loadXdpBuild(object, inst.dir, inst.type, name);
    } catch (err) {
      next.close();
      throw err;
    }
    const old = { collection: inst.collection, xdp: inst.xdp };
    inst.collection = next;
    inst.xdp = nextXdp;
    try {
      this.setSlots(inst);
    } catch (err) {
      inst.collection = old.collection;
      inst.xdp = old.xdp;
      next.close();
      nextXdp?.close();
      throw err;
    }
    inst.object = object;
    old.collection.close();
    old.xdp?.close();
    this.log(`instance ${name} upgraded to ${object}`);
    return { object };
  }

  // ---- ports --------------------------------------------------------------------------

  /** Adds a port to a standard instance (down until connected). */
  addPort(instance: string, port: string, config: Record<string, unknown> = {}): PortInfo {
    const inst = this.mustInstance(instance);
    if (inst.type.kind !== 'standard')
      throw new DataplaneError(`${instance} is a transparent ${inst.type.name}: it has no ports`);
    if (!/^[A-Za-z0-9_-]{1,16}$/.test(port))
      throw new DataplaneError(`port name ${JSON.stringify(port)}: use letters, digits, - and _`);
    if (inst.ports.has(port)) throw new DataplaneError(`port ${instance}:${port} already exists`);
    this.validatePortConfig(inst.type.name, config, `modules.${instance}.ports.${port}`);
    const max = Math.min(inst.type.maxPorts ?? 64, 64);
    const used = new Set([...inst.ports.values()].map((p) => p.index));
    let index = 0;
    while (used.has(index)) index++;
    if (index >= max)
      throw new DataplaneError(`${instance}: ${inst.type.name} takes at most ${max} ports`);
    const gid = (inst.id << PORT_BITS) | index;
    const p: PortState = {
      name: port,
      index,
      gid,
      config,
      mac: typeof config.mac === 'string' ? config.mac : gidMac(gid),
      stack: [],
    };
    this.panel.map('iov_stats').updateBytes(u32(gid), new Uint8Array(this.statsBufSize()));
    inst.ports.set(port, p);
    this.writePort(p);
    try {
      inst.controller.portAdded?.(this.portInfo(p));
    } catch (err) {
      inst.ports.delete(port);
      this.clearPort(gid);
      this.panel.map('iov_stats').delete(gid);
      throw err;
    }
    return this.portInfo(p);
  }

  /** Changes a port's config. */
  updatePort(instance: string, port: string, config: Record<string, unknown>): void {
    const inst = this.mustInstance(instance);
    const p = this.mustPort(inst, port);
    this.validatePortConfig(inst.type.name, config, `modules.${instance}.ports.${port}`);
    p.config = config;
    if (typeof config.mac === 'string') p.mac = config.mac;
    inst.controller.portAdded?.(this.portInfo(p));
  }

  /** Removes a port (disconnecting it and detaching what is stacked on it). */
  removePort(instance: string, port: string): void {
    const inst = this.mustInstance(instance);
    const p = this.mustPort(inst, port);
    for (const t of [...p.stack]) this.detach(t, instance, port);
    if (p.peer) this.disconnect({ kind: 'port', instance, port });
    this.clearPort(p.gid);
    this.panel.map('iov_stats').delete(p.gid);
    inst.ports.delete(port);
    try {
      inst.controller.portRemoved?.(this.portInfo(p));
    } catch (err) {
      this.log(`${instance}: port ${port} removed: ${(err as Error).message}`);
    }
  }

  private statsBufSize(): number {
    return STATS_SIZE * this.cpus;
  }

  /** iov_ports is an array indexed by gid: a removed port's entry is zeroed, not deleted. */
  private clearPort(gid: number): void {
    this.panel.map('iov_ports').updateBytes(u32(gid), new Uint8Array(IOV_PORT_SIZE));
  }

  /**
   * Writes a port's patch-panel entry: one atomic update of its array element (chains, peer
   * and flags together; the kernel copies the value under the element, so a packet sees either
   * the old entry or the new one).
   */
  private writePort(p: PortState): void {
    const b = new Uint8Array(IOV_PORT_SIZE);
    const dv = new DataView(b.buffer);
    let kind: number = PEER_KIND.none;
    let peerGid = 0;
    if (p.peer?.kind === 'host') kind = PEER_KIND.host;
    else if (p.peer?.kind === 'netdev') kind = PEER_KIND.netdev;
    else if (p.peer?.kind === 'port') {
      kind = PEER_KIND.port;
      peerGid = this.mustPort(this.mustInstance(p.peer.instance), p.peer.port).gid;
    }
    dv.setUint32(0, p.device?.ifindex ?? 0, true);
    dv.setUint32(4, peerGid, true);
    dv.setUint8(8, kind);
    dv.setUint8(11, PORT_USED | (p.device?.hostXdp ? PORT_XDP_TX : 0));
    const ids = p.stack.map((t) => this.mustInstance(t).id);
    dv.setUint8(9, ids.length);
    dv.setUint8(10, ids.length);
    ids.forEach((id, i) => dv.setUint32(12 + i * 4, id, true));
    [...ids].reverse().forEach((id, i) => dv.setUint32(28 + i * 4, id, true));
    this.panel.map('iov_ports').updateBytes(u32(p.gid), b);
  }

  /** Counters of a port, summed over CPUs. */
  portStats(instance: string, port: string): PortStats {
    const p = this.mustPort(this.mustInstance(instance), port);
    return this.statsOf(p.gid);
  }

  /**
   * Of a port's transmitted packets, those the XDP build sent itself (redirected to the host or
   * netdev without going through tc): shows that traffic took the XDP fast path.
   */
  xdpTxPackets(instance: string, port: string): number {
    const p = this.mustPort(this.mustInstance(instance), port);
    const raw = this.panel.map('iov_stats').lookupBytes(u32(p.gid));
    if (!raw) return 0;
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    let n = 0;
    for (let o = 40; o + 8 <= raw.byteLength; o += STATS_SIZE)
      n += Number(dv.getBigUint64(o, true));
    return n;
  }

  private statsOf(gid: number): PortStats {
    const raw = this.panel.map('iov_stats').lookupBytes(u32(gid));
    const s: PortStats = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, drops: 0 };
    if (!raw) return s;
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let c = 0; c * STATS_SIZE < raw.byteLength; c++) {
      const o = c * STATS_SIZE;
      s.rxPackets += Number(dv.getBigUint64(o, true));
      s.rxBytes += Number(dv.getBigUint64(o + 8, true));
      s.txPackets += Number(dv.getBigUint64(o + 16, true));
      s.txBytes += Number(dv.getBigUint64(o + 24, true));
      s.drops += Number(dv.getBigUint64(o + 32, true));
    }
    return s;
  }

  // ---- links --------------------------------------------------------------------------

  /** Connects two endpoints; at least one must be a module port. */
  connect(a: Endpoint, b: Endpoint): void {
    if (a.kind !== 'port' && b.kind !== 'port')
      throw new DataplaneError(
        `link ${endpointName(a)} - ${endpointName(b)}: one end must be a module port`,
      );
    const [pe, other] = a.kind === 'port' ? [a, b] : [b as Endpoint & { kind: 'port' }, a];
    const inst = this.mustInstance(pe.instance);
    const port = this.mustPort(inst, pe.port);
    if (port.peer)
      throw new DataplaneError(
        `port ${pe.instance}:${pe.port} is already linked to ${endpointName(port.peer)}`,
      );
    if (other.kind === 'port') {
      const oi = this.mustInstance(other.instance);
      const op = this.mustPort(oi, other.port);
      if (op.peer)
        throw new DataplaneError(
          `port ${other.instance}:${other.port} is already linked to ${endpointName(op.peer)}`,
        );
      if (op === port) throw new DataplaneError(`port ${pe.instance}:${pe.port}: linked to itself`);
      port.peer = other;
      op.peer = pe;
      // Write the far side first: a packet sent into port never finds a half-made link.
      this.writePort(op);
      this.writePort(port);
      oi.controller.peerChanged?.(this.portInfo(op));
    } else if (other.kind === 'host') {
      const h = this.hosts.get(other.host);
      if (!h) throw new DataplaneError(`no host ${other.host}`);
      if (h.link)
        throw new DataplaneError(
          `host ${other.host} is already linked to ${h.link.instance}:${h.link.port} (a host has one interface)`,
        );
      this.linkHost(h, port);
      h.link = { instance: pe.instance, port: pe.port };
    } else {
      this.bindNetdev(port, other.dev);
      port.peer = other;
      this.writePort(port);
    }
    inst.controller.peerChanged?.(this.portInfo(port));
  }

  private linkHost(h: HostState, port: PortState): void {
    const dev = `iovp${port.gid}`;
    createVeth(dev, 'eth0', { netns: this.netns, peerNetns: h.name });
    let hostXdp: PortDevice['hostXdp'];
    try {
      // XDP port: the host side runs iov_pass, so that it receives frames XDP redirects to it.
      if (this.instanceOfGid(port.gid).hook === 'xdp') {
        const link = attachXdp(this.panelXdp.program('iov_pass'), {
          dev: 'eth0',
          netns: h.name,
          mode: 'driver',
          via: 'link',
        }) as Link;
        const pin = path.join(this.pinDir, 'links', `${dev}:host`);
        link.pin(pin);
        hostXdp = { link, pin };
        // ...and iov_host_rx on tcx ingress: XDP loses the frames' checksum state (see
        // patchpanel.bpf.c).
        const rx = attachTcx(this.panel.program('iov_host_rx'), {
          dev: 'eth0',
          netns: h.name,
          direction: 'ingress',
        });
        const rxPin = path.join(this.pinDir, 'links', `${dev}:hostrx`);
        rx.pin(rxPin);
        hostXdp.rx = { link: rx, pin: rxPin };
      }
      const c = h.config;
      if (c.address) addAddress('eth0', c.address, { netns: h.name });
      if (c.address6) addAddress('eth0', c.address6, { netns: h.name, nodad: true });
      setLinkUp('eth0', { netns: h.name });
      if (c.gateway) addRoute({ dst: 'default', gateway: c.gateway }, { netns: h.name });
      if (c.gateway6) addRoute({ dst: 'default', gateway: c.gateway6 }, { netns: h.name });
      this.bindNetdev(port, dev);
      if (hostXdp) port.device!.hostXdp = hostXdp;
      hostXdp = undefined;
      port.peer = { kind: 'host', host: h.name };
      this.writePort(port);
    } catch (err) {
      port.peer = undefined;
      this.unbindNetdev(port);
      if (hostXdp?.rx) closeLink(hostXdp.rx);
      if (hostXdp) closeLink(hostXdp);
      deleteLinkQuiet(dev, this.netns);
      throw err;
    }
  }

  private instanceOfGid(gid: number): InstanceState {
    const i = this.byId.get(gid >> PORT_BITS);
    if (!i) throw new DataplaneError(`no instance in slot ${gid >> PORT_BITS}`);
    return i;
  }

  /** Makes `dev` (in the data plane namespace) the port's netdev: entry program on ingress. */
  private bindNetdev(port: PortState, dev: string): void {
    let ifindex: number;
    try {
      setLinkUp(dev, { netns: this.netns });
      ifindex = linkByName(dev, { netns: this.netns }).index;
    } catch (err) {
      throw new DataplaneError(
        `netdev ${dev}: not found in the data plane namespace ${this.netns} (${(err as Error).message})`,
      );
    }
    this.panel.map('iov_ifports').updateBytes(u32(ifindex), u32(port.gid));
    const link = attachTcx(this.panel.program('iov_entry'), {
      dev,
      netns: this.netns,
      direction: 'ingress',
    });
    const pin = path.join(this.pinDir, 'links', `${dev}`);
    link.pin(pin);
    port.device = { name: dev, ifindex, link, pin };
    if (this.instanceOfGid(port.gid).hook === 'xdp') {
      try {
        const x = attachXdp(this.panelXdp.program('iov_entry'), {
          dev,
          netns: this.netns,
          mode: 'driver',
          via: 'link',
        }) as Link;
        const xpin = path.join(this.pinDir, 'links', `${dev}:xdp`);
        x.pin(xpin);
        port.device.xdp = { link: x, pin: xpin };
      } catch (err) {
        this.unbindNetdev(port);
        throw err;
      }
    }
  }

  private unbindNetdev(port: PortState): void {
    const d = port.device;
    if (!d) return;
    if (d.hostXdp?.rx) closeLink(d.hostXdp.rx);
    if (d.hostXdp) closeLink(d.hostXdp);
    if (d.xdp) closeLink(d.xdp);
    closeLink(d);
    this.panel.map('iov_ifports').delete(d.ifindex);
    port.device = undefined;
  }

  /** Removes the link at an endpoint (both sides). */
  disconnect(e: Endpoint): void {
    if (e.kind === 'host') {
      const h = this.hosts.get(e.host);
      if (!h?.link) return;
      this.disconnect({ kind: 'port', ...h.link });
      return;
    }
    if (e.kind === 'netdev') {
      for (const inst of this.instances.values())
        for (const p of inst.ports.values())
          if (p.peer?.kind === 'netdev' && p.peer.dev === e.dev)
            this.disconnect({ kind: 'port', instance: inst.name, port: p.name });
      return;
    }
    const inst = this.mustInstance(e.instance);
    const port = this.mustPort(inst, e.port);
    const peer = port.peer;
    if (!peer) return;
    port.peer = undefined;
    this.writePort(port);
    if (peer.kind === 'port') {
      const oi = this.mustInstance(peer.instance);
      const op = this.mustPort(oi, peer.port);
      op.peer = undefined;
      this.writePort(op);
      oi.controller.peerChanged?.(this.portInfo(op));
    } else {
      const dev = port.device?.name;
      this.unbindNetdev(port);
      this.writePort(port);
      if (peer.kind === 'host') {
        const h = this.hosts.get(peer.host);
        if (h) h.link = undefined;
        if (dev) deleteLinkQuiet(dev, this.netns);
      }
    }
    inst.controller.peerChanged?.(this.portInfo(port));
  }

  /** The links, each once. */
  links(): [string, string][] {
    const out: [string, string][] = [];
    for (const inst of this.instances.values()) {
      for (const p of inst.ports.values()) {
        if (!p.peer) continue;
        const me = `${inst.name}:${p.name}`;
        const other = endpointName(p.peer);
        if (p.peer.kind === 'port' && other < me) continue;
        out.push(p.peer.kind === 'host' ? [other, me] : [me, other]);
      }
    }
    return out;
  }

  // ---- transparent modules ------------------------------------------------------------

  /**
   * Stacks transparent instance `name` on port `instance:port` at `position` (0 = nearest the
   * wire; default: nearest the module). The port's chains change in one atomic map update.
   */
  attach(name: string, instance: string, port: string, position?: number): void {
    const t = this.mustInstance(name);
    if (t.type.kind !== 'transparent')
      throw new DataplaneError(
        `${name} is a standard ${t.type.name}: only transparent modules attach`,
      );
    const inst = this.mustInstance(instance);
    if (inst.type.kind !== 'standard')
      throw new DataplaneError(`${instance} is transparent: attach to a standard module's port`);
    const p = this.mustPort(inst, port);
    if (p.stack.includes(name))
      throw new DataplaneError(`${name} is already attached to ${instance}:${port}`);
    if (p.stack.length >= 4)
      throw new DataplaneError(`${instance}:${port}: at most 4 transparent modules per port`);
    const pos = Math.max(0, Math.min(position ?? p.stack.length, p.stack.length));
    t.controller.attached?.({ instance, port, gid: p.gid });
    p.stack.splice(pos, 0, name);
    t.attachments.push({ instance, port });
    this.writePort(p);
    this.log(`${name} attached to ${instance}:${port} at ${pos}`);
  }

  /** Removes transparent instance `name` from port `instance:port`. */
  detach(name: string, instance: string, port: string): void {
    const t = this.mustInstance(name);
    const inst = this.mustInstance(instance);
    const p = this.mustPort(inst, port);
    const i = p.stack.indexOf(name);
    if (i < 0) throw new DataplaneError(`${name} is not attached to ${instance}:${port}`);
    p.stack.splice(i, 1);
    t.attachments = t.attachments.filter((a) => !(a.instance === instance && a.port === port));
    this.writePort(p);
    try {
      t.controller.detached?.({ instance, port, gid: p.gid });
    } catch (err) {
      this.log(`${name}: detached from ${instance}:${port}: ${(err as Error).message}`);
    }
    this.log(`${name} detached from ${instance}:${port}`);
  }

  /** Where a transparent instance is attached. */
  attachmentsOf(name: string): AttachmentInfo[] {
    const t = this.mustInstance(name);
    return t.attachments.map((a) => ({
      ...a,
      gid: this.mustPort(this.mustInstance(a.instance), a.port).gid,
    }));
  }

  // ---- controllers --------------------------------------------------------------------

  /** An instance's live status from its controller. */
  status(name: string): unknown {
    const inst = this.mustInstance(name);
    return inst.controller.status?.() ?? {};
  }

  /** A global variable of an instance's current object (e.g. its version constant). */
  variable(name: string, variable: string): unknown {
    const inst = this.mustInstance(name);
    const v = inst.collection.variables.get(variable);
    if (!v) throw new DataplaneError(`instance ${name}: no variable ${variable}`);
    return v.get();
  }

  /** The patch-panel program of an instance's current object (for test runs and benchmarks). */
  program(name: string): Program {
    const inst = this.mustInstance(name);
    return inst.collection.program(inst.type.program);
  }

  /** A port's global id (instance id << 6 | index). */
  portGid(instance: string, port: string): number {
    return this.mustPort(this.mustInstance(instance), port).gid;
  }

  /** A map of an instance's current object.*/
  map(name: string, map: string): BpfMap {
    return this.mustInstance(name).collection.map(map);
  }

  /** Injects a frame at a port (see {@link InstanceContext.packetOut}). */
  packetOut(instance: string, port: string, frame: Uint8Array, dir: 'out' | 'in' = 'out'): void {
    const p = this.mustPort(this.mustInstance(instance), port);
    this.injectAt(p.gid, frame, dir);
  }

  private injectAt(gid: number, frame: Uint8Array, dir: 'out' | 'in'): void {
    if (frame.byteLength < 14) throw new DataplaneError('packet-out: frame shorter than 14 bytes');
    const ctx = new Uint8Array(SKB_CTX_SIZE);
    const dv = new DataView(ctx.buffer);
    dv.setUint32(SKB_CB_OFF, gid, true);
    dv.setUint32(SKB_CB_OFF + 4, dir === 'out' ? 1 : 0, true);
    const r = withNetns(this.netns, () => this.pktout.run({ data: frame, ctx }));
    if (r.retval !== 0) throw new DataplaneError(`packet-out at port ${gid}: injection failed`);
  }

  private onPacketIn(rec: PacketInRecord): void {
    const inst = this.byId.get(rec.instance);
    if (!inst || (!inst.controller.packetIn && !this.packetInHook)) return;
    const port = [...inst.ports.values()].find((p) => p.gid === rec.gid);
    const info: PortInfo = port
      ? this.portInfo(port)
      : { name: '?', index: rec.gid & 63, gid: rec.gid, config: {}, mac: gidMac(rec.gid) };
    const pkt: PacketIn = { port: info, reason: rec.reason, arg: rec.arg, data: rec.data };
    if (rec.vlan & 0x10000) pkt.vlan = rec.vlan & 0xfff;
    try {
      inst.controller.packetIn?.(pkt);
    } catch (err) {
      this.log(`instance ${inst.name}: packet-in: ${(err as Error).message}`);
    }
    try {
      this.packetInHook?.(inst.name, pkt);
    } catch (err) {
      this.log(`packet-in hook: ${(err as Error).message}`);
    }
  }

  private context(inst: InstanceState): InstanceContext {
    return {
      name: inst.name,
      id: inst.id,
      map: (n) => inst.collection.map(n),
      variable: (n) => inst.collection.variables.get(n)?.get(),
      ports: () =>
        [...inst.ports.values()].sort((a, b) => a.index - b.index).map((p) => this.portInfo(p)),
      // From the state itself: configure runs before the instance is registered by name.
      attachments: () =>
        inst.attachments.map((a) => ({
          ...a,
          gid: this.mustPort(this.mustInstance(a.instance), a.port).gid,
        })),
      packetOut: (port, frame, dir) => this.packetOut(inst.name, port, frame, dir),
      portStats: (gid) => this.statsOf(gid),
      log: (msg) => this.log(`${inst.name}: ${msg}`),
    };
  }

  private portInfo(p: PortState): PortInfo {
    const info: PortInfo = {
      name: p.name,
      index: p.index,
      gid: p.gid,
      config: p.config,
      mac: p.mac,
    };
    if (p.peer) info.peer = endpointName(p.peer);
    return info;
  }

  private mustInstance(name: string): InstanceState {
    const i = this.instances.get(name);
    if (!i) throw new DataplaneError(`no instance ${name}`);
    return i;
  }

  private mustPort(inst: InstanceState, port: string): PortState {
    const p = inst.ports.get(port);
    if (!p)
      throw new DataplaneError(
        `no port ${inst.name}:${port} (ports: ${[...inst.ports.keys()].join(', ') || 'none'})`,
      );
    return p;
  }

  // ---- view and teardown --------------------------------------------------------------

  /** The running graph with counters. */
  topology(): TopologyView {
    return {
      name: this.name,
      netns: this.netns,
      pinDir: this.pinDir,
      hosts: [...this.hosts.values()].map((h) => ({
        name: h.name,
        config: h.config,
        ...(h.link ? { link: `${h.link.instance}:${h.link.port}` } : {}),
      })),
      instances: [...this.instances.values()].map((i) => ({
        name: i.name,
        type: i.type.name,
        kind: i.type.kind,
        id: i.id,
        hook: i.hook,
        object: i.object,
        config: i.config,
        ports: [...i.ports.values()]
          .sort((a, b) => a.index - b.index)
          .map((p) => ({ ...this.portInfo(p), stack: [...p.stack], stats: this.statsOf(p.gid) })),
        attachedTo: i.attachments.map((a) => `${a.instance}:${a.port}`),
      })),
      links: this.links(),
    };
  }

  /**
   * Tears everything down: instances (their links and pins), hosts (their namespaces), the
   * patch panel and the data plane namespace. Safe to call twice.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const errors: unknown[] = [];
    const attempt = (fn: () => void): void => {
      try {
        fn();
      } catch (err) {
        errors.push(err);
      }
    };
    // Transparent instances first, so nothing is stacked on ports being removed.
    const order = [...this.instances.values()].sort(
      (a, b) => Number(b.type.kind === 'transparent') - Number(a.type.kind === 'transparent'),
    );
    for (const i of order) attempt(() => this.deleteInstance(i.name));
    for (const h of [...this.hosts.keys()]) attempt(() => this.removeHost(h));
    this.teardown();
    if (errors.length) throw new AggregateError(errors, `dataplane ${this.name}: teardown`);
  }

  private teardown(): void {
    this.ring?.close();
    this.ring = undefined;
    try {
      this.loopLink?.detach();
    } catch {
      // gone with the namespace
    }
    this.loopLink?.close();
    this.loopLink = undefined;
    this.panel?.close();
    this.panelXdp?.close();
    for (const i of this.instances.values()) {
      i.collection.close();
      i.xdp?.close();
    }
    for (const h of this.hosts.keys()) if (netnsExists(h)) deleteNetns(h);
    Dataplane.removeStale(this.pinDir, this.netns);
  }
}

/** __sk_buff: its size and the offset of cb[0], for BPF_PROG_TEST_RUN contexts. */
const SKB_CTX_SIZE = 192;
const SKB_CB_OFF = 48;

interface PacketInRecord {
  instance: number;
  gid: number;
  reason: number;
  arg: number;
  vlan: number;
  data: Uint8Array;
}

function decodePacketIn(b: Uint8Array): PacketInRecord {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const len = Math.min(dv.getUint32(16, true), b.byteLength - 24);
  return {
    instance: dv.getUint32(0, true),
    gid: dv.getUint32(4, true),
    reason: dv.getUint32(8, true),
    arg: dv.getUint32(12, true),
    vlan: dv.getUint32(20, true),
    data: b.slice(24, 24 + len),
  };
}

/** A locally administered MAC derived from a port's gid: 02:69:6f:00:HH:LL. */
export function gidMac(gid: number): string {
  const h = (n: number): string => n.toString(16).padStart(2, '0');
  return `02:69:6f:00:${h((gid >> 8) & 0xff)}:${h(gid & 0xff)}`;
}

/** Detaches a pinned link (quietly: its netdev may be gone already), closes it, unpins it. */
function closeLink(l: { link: Link; pin: string }): void {
  try {
    l.link.detach();
  } catch {
    // the netdev went away with its namespace
  }
  l.link.close();
  rmSync(l.pin, { force: true });
}

function deleteLinkQuiet(dev: string, netns: string): void {
  try {
    deleteLink(dev, { netns });
  } catch {
    // already gone
  }
}
