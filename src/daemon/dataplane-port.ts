/**
 * What the daemon needs from a data plane, as one small interface. The daemon is written
 * against this seam so that its API, store, metrics and dashboard are tested without root
 * (against {@link FakeDataplane}) and wired to the real library by an adapter
 * (`dataplane-adapter.ts`). Everything here is JSON-serialisable: it goes straight to the API.
 */
import type { Schema } from '../dataplane/index.js';

/** A host of a topology: a network namespace with one interface once linked. */
export interface TopologyHost {
  /** IPv4 address with prefix, e.g. 198.18.1.10/24. */
  address?: string;
  gateway?: string;
  /** IPv6 address with prefix, e.g. 2001:db8:1::10/64. */
  address6?: string;
  gateway6?: string;
}

/** A module instance of a topology. */
export interface TopologyModule {
  /** Module type name ("bridge"). */
  type: string;
  /** Instance config, checked against the type's schema. */
  config?: Record<string, unknown>;
  /** Ports by name with their config, checked against the type's port schema. */
  ports?: Record<string, Record<string, unknown>>;
  /** Transparent modules: the ports ("inst:port") this instance is stacked on. */
  attach?: string[];
}

/**
 * The desired state: what `apply` makes true. Links join two endpoints written as
 * "inst:port", a host name, or "netdev:NAME"; at least one end is a module port.
 */
export interface Topology {
  hosts?: Record<string, TopologyHost>;
  modules?: Record<string, TopologyModule>;
  links?: [string, string][];
}

/** One change `apply` made (or would make). */
export interface TopologyChange {
  op: 'add' | 'remove' | 'update';
  kind: 'host' | 'module' | 'port' | 'link' | 'attach';
  /** What changed: a host or instance name, "inst:port", "a - b" for links. */
  name: string;
}

/** The changes between the running and the desired topology; empty when in sync. */
export interface TopologyDiff {
  changes: TopologyChange[];
}

/** Counters of a port (summed over CPUs). rx: entering the module; tx: leaving it. */
export interface PortCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  drops: number;
}

/** A port in the running graph. */
export interface GraphPort {
  name: string;
  /** "inst:port". */
  id: string;
  /** What it is linked to ("h1", "r1:p1", "netdev:veth3"), if anything. */
  peer?: string;
  /** Transparent instances stacked on it, wire side first. */
  stack: string[];
  config: Record<string, unknown>;
  counters: PortCounters;
  /** Patch-panel port id and MAC (the real data plane). */
  gid?: number;
  mac?: string;
}

/** A module instance in the running graph. */
export interface GraphInstance {
  name: string;
  type: string;
  kind: 'standard' | 'transparent';
  /** Patch-panel slot and hook (the real data plane). */
  slot?: number;
  hook?: string;
  config: Record<string, unknown>;
  ports: GraphPort[];
  /** Transparent instances: "inst:port" they are stacked on. */
  attachedTo: string[];
}

/** The running graph: every node and edge the dashboard draws. */
export interface Graph {
  /** Which data plane (the real one): its name, namespace and pin directory. */
  dataplane?: { name: string; netns: string; pinDir: string };
  hosts: { name: string; config: TopologyHost; link?: string }[];
  /** Netdevs ports are bound to (host veths and named netdevs). */
  netdevs: { name: string; port: string }[];
  instances: GraphInstance[];
  links: [string, string][];
}

/** Per-instance counters: sums over its ports, and program run time when stats are on. */
export interface ModuleCounters {
  packets: number;
  bytes: number;
  drops: number;
  /** Program runs and total run time (ns); present when kernel BPF stats are enabled. */
  runCount?: number;
  runTimeNs?: number;
}

/** A counter snapshot of the whole data plane. */
export interface Counters {
  /** Keyed by "inst:port". */
  ports: Record<string, PortCounters>;
  /** Keyed by instance name. */
  modules: Record<string, ModuleCounters>;
}

/** A module type as the API lists it. */
export interface ModuleTypeInfo {
  name: string;
  kind: 'standard' | 'transparent';
  description: string;
  schema: Schema;
  portSchema?: Schema;
}

/** A map of an instance. */
export interface MapSummary {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

/** A decoded map entry; 64-bit integers come as decimal strings so JSON keeps them exact. */
export interface MapEntry {
  key: unknown;
  value: unknown;
}

/** Something that happened in the data plane. */
export type DataplaneEvent =
  | { type: 'log'; time: number; instance?: string; message: string }
  | {
      type: 'packet';
      time: number;
      instance: string;
      port: string;
      reason: number;
      length: number;
      /** The first bytes of the frame, hex. */
      head: string;
    }
  | { type: 'change'; time: number; changes: TopologyChange[] };

/** An error in the caller's input (bad config, unknown name): the API answers 4xx. */
export class InputError extends Error {
  constructor(
    message: string,
    /** HTTP status to answer with: 400 bad input, 404 unknown thing, 409 conflict. */
    readonly status: 400 | 404 | 409 | 413 | 422 = 400,
  ) {
    super(message);
    this.name = 'InputError';
  }
}

/**
 * The data plane as the daemon sees it. Implementations throw {@link InputError} (or the data
 * plane's ConfigError/DataplaneError, which the daemon maps to 4xx) for anything the caller
 * got wrong, before changing anything.
 */
export interface DataplanePort {
  /** Module types instances can be created from. */
  moduleTypes(): ModuleTypeInfo[];
  /** Checks a topology (schemas, names, links) without touching anything. */
  validate(topology: Topology): void;
  /** What {@link apply} would change. */
  diff(topology: Topology): TopologyDiff;
  /** Makes the running data plane equal `topology`; returns what changed. */
  apply(topology: Topology): Promise<TopologyDiff>;
  /** Removes everything the topology created. */
  delete(): Promise<TopologyDiff>;
  /** The running graph with counters. */
  show(): Graph;
  /** Counters of every port and instance. */
  counters(): Counters;
  /** Maps of an instance. */
  maps(instance: string): MapSummary[];
  /** Entries of an instance's map, decoded through BTF; at most `limit`. */
  mapEntries(instance: string, map: string, limit: number): MapEntry[];
  /** One entry, or undefined. */
  mapGet(instance: string, map: string, key: unknown): unknown;
  /** Writes one entry (key and value encoded through BTF). */
  mapSet(instance: string, map: string, key: unknown, value: unknown): void;
  /** Deletes one entry; false if absent. */
  mapDelete(instance: string, map: string, key: unknown): boolean;
  /** Live controller status of an instance (tables and such). */
  status(instance: string): unknown;
  /** Subscribes to events; returns the unsubscribe function. */
  subscribe(listener: (ev: DataplaneEvent) => void): () => void;
  /**
   * Releases user-space handles. With `keep` (daemon stop, restart), pinned state stays and
   * traffic keeps flowing; without it everything is torn down.
   */
  close(opts?: { keep?: boolean }): void;
}
