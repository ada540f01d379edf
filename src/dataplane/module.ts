/**
 * The IO module model. A module type is an eBPF object (C source plus the prebuilt .o), a
 * TypeScript control plane, a config schema and a README. Instances are created at run time;
 * standard modules have ports whose peers are netdevs, hosts or other instances' ports;
 * transparent modules have no ports and are stacked on ports of other instances.
 */
import type { BpfMap } from '../bpf/index.js';
import type { Schema } from './schema.js';

/** A port as a controller sees it. */
export interface PortInfo {
  /** Port name within its instance ("p1"). */
  name: string;
  /** Local index: what the data plane reports as the ingress port (0..63). */
  index: number;
  /** Global port id in the patch panel: instance id << 6 | index. */
  gid: number;
  /** The port's config, already validated against the module's port schema. */
  config: Record<string, unknown>;
  /** The port's MAC address (from config `mac`, or derived from its gid). */
  mac: string;
  /** What the port is connected to, e.g. "h1", "r1:p1", "netdev:veth3"; undefined when down. */
  peer?: string;
}

/** Where a transparent instance sits: a port of a standard instance. */
export interface AttachmentInfo {
  instance: string;
  port: string;
  gid: number;
}

/** A packet the data plane handed to an instance's controller (slow path). */
export interface PacketIn {
  /** The port the packet is at (ingress port for standard modules). */
  port: PortInfo;
  /** Module-defined reason code and argument. */
  reason: number;
  arg: number;
  /** The frame, from the Ethernet header (VLAN tag, if any, in `vlan`). */
  data: Uint8Array;
  /** 802.1Q VLAN id if the frame carried a tag outside the data. */
  vlan?: number;
}

/** What the data plane gives each instance's controller. */
export interface InstanceContext {
  /** Instance name and patch-panel slot. */
  readonly name: string;
  readonly id: number;
  /** A map of the instance's current object (after a hot swap: the new object's handle). */
  map(name: string): BpfMap;
  /** A global variable of the current object (e.g. a version constant), decoded. */
  variable(name: string): unknown;
  /** The instance's ports, in index order. */
  ports(): PortInfo[];
  /** Where a transparent instance is attached. */
  attachments(): AttachmentInfo[];
  /**
   * Packet-out: injects `frame` at port `port`, leaving the instance through it ('out', the
   * default: the port's egress chain then its peer) or entering the instance ('in').
   */
  packetOut(port: string, frame: Uint8Array, dir?: 'out' | 'in'): void;
  /** The patch panel's counters of a port (packets in/out of its module, drops). */
  portStats(gid: number): {
    rxPackets: number;
    rxBytes: number;
    txPackets: number;
    txBytes: number;
    drops: number;
  };
  /** Logs a line through the data plane's logger. */
  log(msg: string): void;
}

/** The TypeScript side of one instance. */
export interface ModuleController {
  /** Writes the (validated) instance config into the maps; called at creation and on change. */
  configure(config: Record<string, unknown>): void;
  /** A port appeared or its config changed. */
  portAdded?(port: PortInfo): void;
  /** A port went away (it is no longer in ctx.ports()). */
  portRemoved?(port: PortInfo): void;
  /** A port's peer changed (connected or disconnected). */
  peerChanged?(port: PortInfo): void;
  /**
   * A transparent instance is being stacked on a port: called before the port's chain names it,
   * so per-port state (e.g. counter slots) exists before the first packet. Throwing refuses the
   * attach and changes nothing.
   */
  attached?(at: AttachmentInfo): void;
  /** A transparent instance was taken off a port (after the chain no longer names it). */
  detached?(at: AttachmentInfo): void;
  /** Slow path: a packet the data plane punted. */
  packetIn?(pkt: PacketIn): void;
  /** Live, JSON-serialisable state (tables, counters). */
  status?(): unknown;
  /** Stops timers; called before the instance's programs are removed. */
  close?(): void;
}

/** A module type: everything needed to create instances of it. */
export interface ModuleType {
  /** Type name used in topologies ("bridge"). */
  name: string;
  /** Standard modules have ports; transparent ones attach to ports. */
  kind: 'standard' | 'transparent';
  /** One line for listings. */
  description: string;
  /** Absolute path of the prebuilt object and of its source. */
  object: string;
  source: string;
  /** The program that the patch panel tail-calls. */
  program: string;
  /** Absolute path of the README. */
  readme: string;
  /** Schema of the instance config (an object schema). */
  schema: Schema & { type: 'object' };
  /** Schema of each port's config (standard modules). */
  portSchema?: Schema & { type: 'object' };
  /** Most ports an instance may have (≤ 64; the bridge floods to at most 16). */
  maxPorts?: number;
  /** Builds the controller of a new instance. */
  create(ctx: InstanceContext): ModuleController;
}
