/**
 * Adoption: re-opening a data plane that keeps forwarding while no process owns it (after a
 * daemon restart or `kill -9`). The kernel holds everything that moves packets — the patch
 * panel's pinned maps, the pinned tcx links of every port netdev, the instances' programs in
 * the pinned program array and their pinned maps — but not the names, configs and wiring that
 * the control plane keeps in memory. {@link snapshotOf} captures those as a JSON document
 * ({@link DataplaneState}, written by the owner after each change, e.g. the daemon's
 * `running.json`); {@link adoptInto} checks that the kernel still holds what the snapshot
 * describes, re-opens it and starts the controllers again (bridge aging, router ARP/ND slow
 * path), so later changes work without a rebuild.
 *
 * Nothing is detached or re-created. Each instance's object is loaded again against its pinned
 * maps and its patch-panel slot switched to the new program in one atomic update: the same
 * operation as a hot swap, so no packet is lost (its maps, and so its state, are the same).
 *
 * This file only knows the Dataplane's shape as types (no runtime import of dataplane.ts), and
 * works on its private fields through {@link DataplaneInternals}; `Dataplane.adopt` and
 * `Dataplane.snapshot` are the public entry points.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Collection, Link, loadCollectionSpec, type CollectionSpec } from '../bpf/index.js';
import type { Program } from '../bpf/index.js';
import { linkByName, netnsExists } from '../net/index.js';
import type { Endpoint, HostConfig } from './dataplane.js';
import type { InstanceContext, ModuleController, ModuleType, PortInfo } from './module.js';
import { patchPanelObject, SHARED_MAPS } from './paths.js';
import type { InstanceState, PortState } from './state.js';
import { xdpBuildOf } from './xdp.js';

/** What a running data plane is, beyond what the kernel holds: see the file comment. */
export interface DataplaneState {
  version: 1;
  name: string;
  netns: string;
  pinDir: string;
  hosts: { name: string; config: HostConfig; link?: { instance: string; port: string } }[];
  instances: {
    name: string;
    type: string;
    /** Patch-panel slot. */
    id: number;
    hook: string;
    /** The object file the slot runs (after hot swaps: the last one). */
    object: string;
    config: Record<string, unknown>;
    /**
     * The live port state, with `device` as the port's netdev name in the data plane namespace
     * (its tcx link is pinned by this name) instead of the live attachment.
     */
    ports: (Omit<PortState, 'device'> & { device?: string })[];
    attachments: { instance: string; port: string }[];
  }[];
}

/** The kernel no longer holds what a snapshot describes: adopt refused, nothing changed. */
export class AdoptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdoptError';
  }
}

/** The pinned links of a port's netdev (names under links/; see Dataplane.bindNetdev). */
function devicePins(dev: string, hook: string, peer?: Endpoint): string[] {
  if (hook !== 'xdp') return [dev];
  return peer?.kind === 'host'
    ? [dev, `${dev}:xdp`, `${dev}:host`, `${dev}:hostrx`]
    : [dev, `${dev}:xdp`];
}

/** The Dataplane's private fields and helpers that adoption fills in (see dataplane.ts). */
export interface DataplaneInternals {
  readonly name: string;
  readonly netns: string;
  readonly pinDir: string;
  types: Map<string, ModuleType>;
  instances: Map<string, InstanceState>;
  byId: Map<number, InstanceState>;
  hosts: Map<
    string,
    { name: string; config: HostConfig; link?: { instance: string; port: string } }
  >;
  log: (msg: string) => void;
  panel: Collection;
  panelXdp: Collection;
  pktout: Program;
  loopLink?: Link;
  context(inst: InstanceState): InstanceContext;
  portInfo(p: PortState): PortInfo;
  loadInstanceObject(spec: CollectionSpec, dir: string, type: ModuleType, name: string): Collection;
  loadXdpBuild(object: string, dir: string, type: ModuleType, name: string): Collection | undefined;
  setSlots(inst: InstanceState): void;
}

const LOOP_DEV = 'iovloop0';

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

/** The snapshot of a data plane (JSON-serialisable; configs are copied). */
export function snapshotOf(dp: DataplaneInternals): DataplaneState {
  return structuredClone({
    version: 1 as const,
    name: dp.name,
    netns: dp.netns,
    pinDir: dp.pinDir,
    hosts: [...dp.hosts.values()].map((h) => ({
      name: h.name,
      config: h.config,
      ...(h.link ? { link: { ...h.link } } : {}),
    })),
    instances: [...dp.instances.values()].map((i) => ({
      name: i.name,
      type: i.type.name,
      id: i.id,
      hook: i.hook,
      object: i.object,
      config: i.config,
      ports: [...i.ports.values()]
        .sort((a, b) => a.index - b.index)
        .map((p) => ({
          name: p.name,
          index: p.index,
          gid: p.gid,
          config: p.config,
          mac: p.mac,
          ...(p.peer ? { peer: p.peer } : {}),
          ...(p.device ? { device: p.device.name } : {}),
          stack: [...p.stack],
        })),
      attachments: i.attachments.map((a) => ({ ...a })),
    })),
  });
}

/**
 * Re-opens what `state` describes into the (empty) data plane `dp`; see the file comment.
 * Throws {@link AdoptError} before touching the kernel when something is missing; the caller
 * releases whatever was opened (without removing pins).
 */
export function adoptInto(dp: DataplaneInternals, state: DataplaneState): void {
  const where = `adopt ${dp.name}`;
  if (state?.version !== 1) throw new AdoptError(`${where}: not a data plane snapshot (version 1)`);
  if (state.name !== dp.name || state.pinDir !== dp.pinDir || state.netns !== dp.netns)
    throw new AdoptError(
      `${where}: the snapshot is of ${state.name} (pins ${state.pinDir}, netns ${state.netns})`,
    );
  if (!netnsExists(dp.netns)) throw new AdoptError(`${where}: namespace ${dp.netns} is gone`);
  const shared = path.join(dp.pinDir, 'shared');
  for (const m of SHARED_MAPS)
    if (!existsSync(path.join(shared, m)))
      throw new AdoptError(`${where}: patch-panel map ${m} is not pinned in ${shared}`);
  const loopPin = path.join(dp.pinDir, 'links', LOOP_DEV);
  if (!existsSync(loopPin)) throw new AdoptError(`${where}: loop link ${loopPin} is not pinned`);
  for (const h of state.hosts)
    if (!netnsExists(h.name)) throw new AdoptError(`${where}: host namespace ${h.name} is gone`);

  // Checks that need only files: types known, hooks adoptable, every map and link pinned.
  const specs = new Map<string, CollectionSpec>();
  for (const s of state.instances) {
    const type = dp.types.get(s.type);
    if (!type) throw new AdoptError(`${where}: instance ${s.name}: unknown module type ${s.type}`);
    if (s.hook !== 'tcx' && s.hook !== 'xdp')
      throw new AdoptError(`${where}: instance ${s.name}: hook ${s.hook} cannot be adopted`);
    const dir = path.join(dp.pinDir, 'instances', s.name);
    const spec = loadCollectionSpec(s.object);
    for (const m of spec.maps.values())
      if (m.pinning === 'by_name' && !existsSync(path.join(dir, m.name.replace(/\./g, '_'))))
        throw new AdoptError(`${where}: instance ${s.name}: map ${m.name} is not pinned in ${dir}`);
    for (const p of s.ports)
      for (const pin of p.device ? devicePins(p.device, s.hook, p.peer) : [])
        if (!existsSync(path.join(dp.pinDir, 'links', pin)))
          throw new AdoptError(
            `${where}: port ${s.name}:${p.name}: link ${pin} of netdev ${p.device} is not pinned`,
          );
    specs.set(s.name, spec);
  }

  // The patch panel again, over its pinned maps (nothing in them is rewritten).
  dp.panel = Collection.loadFile(patchPanelObject(), { pinPath: shared });
  dp.panelXdp = Collection.loadFile(xdpBuildOf(patchPanelObject())!, { pinPath: shared });
  dp.pktout = dp.panel.program('iov_pktout');
  dp.loopLink = Link.openPinned(loopPin);
  const slots = dp.panel.map('iov_patch');
  const ports = dp.panel.map('iov_ports');
  for (const s of state.instances) {
    if (!slots.lookupBytes(u32(s.id)))
      throw new AdoptError(`${where}: instance ${s.name}: patch-panel slot ${s.id} is empty`);
    // iov_ports is an array: every gid has an element, a port's has the "used" flag (byte 11).
    for (const p of s.ports)
      if (!((ports.lookupBytes(u32(p.gid))?.[11] ?? 0) & 1))
        throw new AdoptError(`${where}: port ${s.name}:${p.name} (${p.gid}) is not in iov_ports`);
  }

  for (const h of state.hosts)
    dp.hosts.set(h.name, {
      name: h.name,
      config: { ...h.config },
      ...(h.link ? { link: { ...h.link } } : {}),
    });
  // Every instance is registered before any controller runs: controllers read each other's
  // ports and attachments through their contexts.
  const created: InstanceState[] = [];
  for (const s of state.instances) {
    const type = dp.types.get(s.type)!;
    const dir = path.join(dp.pinDir, 'instances', s.name);
    const inst: InstanceState = {
      name: s.name,
      type,
      id: s.id,
      hook: s.hook as InstanceState['hook'], // checked above
      config: s.config,
      object: s.object,
      ports: new Map(),
      collection: undefined as unknown as Collection,
      controller: undefined as unknown as ModuleController,
      attachments: s.attachments.map((a) => ({ ...a })),
      dir,
    };
    dp.instances.set(s.name, inst);
    dp.byId.set(s.id, inst);
    created.push(inst);
    inst.collection = dp.loadInstanceObject(specs.get(s.name)!, dir, type, s.name);
    const xdp = dp.loadXdpBuild(s.object, dir, type, s.name);
    if (xdp) inst.xdp = xdp;
    for (const p of s.ports) {
      const ps: PortState = {
        name: p.name,
        index: p.index,
        gid: p.gid,
        config: p.config,
        mac: p.mac,
        stack: [...p.stack],
        ...(p.peer ? { peer: p.peer } : {}),
      };
      if (p.device) {
        const pin = path.join(dp.pinDir, 'links', p.device);
        let ifindex: number;
        try {
          ifindex = linkByName(p.device, { netns: dp.netns }).index;
        } catch (err) {
          throw new AdoptError(
            `${where}: port ${s.name}:${p.name}: netdev ${p.device}: ${(err as Error).message}`,
          );
        }
        ps.device = { name: p.device, ifindex, link: Link.openPinned(pin), pin };
        // Hook xdp: the XDP entry on the netdev and, for a host, iov_pass and iov_host_rx on
        // the host side (pinned as <dev>:xdp, <dev>:host, <dev>:hostrx).
        const opened = (suffix: string): { link: Link; pin: string } => {
          const at = path.join(dp.pinDir, 'links', `${p.device}:${suffix}`);
          return { link: Link.openPinned(at), pin: at };
        };
        if (s.hook === 'xdp') {
          ps.device.xdp = opened('xdp');
          if (p.peer?.kind === 'host')
            ps.device.hostXdp = { ...opened('host'), rx: opened('hostrx') };
        }
      }
      inst.ports.set(p.name, ps);
    }
  }
  // Controllers: configure and ports again (their map writes are idempotent). peerChanged is
  // not replayed: a bridge would forget what it learned.
  for (const inst of created) {
    inst.controller = inst.type.create(dp.context(inst));
    inst.controller.configure(inst.config);
    for (const p of [...inst.ports.values()].sort((a, b) => a.index - b.index))
      inst.controller.portAdded?.(dp.portInfo(p));
  }
  // Last, and atomically per slot: each slot runs the program just loaded over the same maps.
  for (const inst of created) dp.setSlots(inst);
  dp.log(
    `adopted: ${created.length} instances, ${state.hosts.length} hosts (pins ${dp.pinDir}, traffic untouched)`,
  );
}
