/**
 * The data plane's in-memory state of instances and ports, shared by the Dataplane
 * (dataplane.ts) and adoption of a running data plane (adopt.ts).
 */
import type { Collection, Link } from '../bpf/index.js';
import type { Endpoint } from './dataplane.js';
import type { ModuleController, ModuleType } from './module.js';

/** A port's netdev in the data plane namespace and the pinned links on it. */
export interface PortDevice {
  name: string;
  ifindex: number;
  link: Link;
  pin: string;
  /** Instances on hook xdp: the XDP entry on the netdev. */
  xdp?: { link: Link; pin: string };
  /**
   * Host ports of instances on hook xdp: iov_pass (XDP) and iov_host_rx (tcx ingress) on the
   * host side of the veth pair.
   */
  hostXdp?: { link: Link; pin: string; rx?: { link: Link; pin: string } };
}

/** One port of an instance. */
export interface PortState {
  name: string;
  index: number;
  gid: number;
  config: Record<string, unknown>;
  mac: string;
  peer?: Endpoint;
  device?: PortDevice;
  /** Transparent instances on this port, wire side first. */
  stack: string[];
}

/** One live module instance: its objects, ports and controller. */
export interface InstanceState {
  name: string;
  type: ModuleType;
  id: number;
  hook: 'tcx' | 'xdp';
  config: Record<string, unknown>;
  object: string;
  ports: Map<string, PortState>;
  collection: Collection;
  /** The XDP build of the object over the same maps (when the object has one). */
  xdp?: Collection;
  controller: ModuleController;
  attachments: { instance: string; port: string }[];
  dir: string;
}
