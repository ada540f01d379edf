/**
 * `packets`: pwru-like packet following on the kernel's skb tracepoints. Each hop of a
 * matching packet (device receive, stack receive, queue for transmit, driver transmit, drop
 * with the kernel's drop reason, consume) is one {@link PacketHop}; hops of one packet share
 * its skb address, so they can be grouped in order.
 */
import { Btf } from '../bpf/btf/btf.js';
import { BtfKind } from '../bpf/btf/types.js';
import {
  attachAll,
  cstr,
  EventStream,
  type ExtraSource,
  formatAddr,
  type HookSet,
  loadTool,
  parseAddr,
  view,
} from './core.js';
import { attachRawTracepoint, attachTracing } from '../bpf/link/index.js';
import { closeDataplaneTraces, type DataplaneHop, openDataplaneTraces } from './dptrace.js';

/** The hooks, by the id the program reports. */
export const PACKET_HOOKS: Record<number, string> = {
  1: 'netif_rx',
  2: 'netif_receive_skb',
  3: 'net_dev_queue',
  4: 'net_dev_start_xmit',
  5: 'kfree_skb',
  6: 'consume_skb',
};

const TRACEPOINTS = [
  'netif_rx',
  'netif_receive_skb',
  'net_dev_queue',
  'net_dev_start_xmit',
  'kfree_skb',
  'consume_skb',
];

/** One hop of a packet. */
export interface PacketHop {
  ts: bigint;
  /** The skb's kernel address: the same for every hop of one packet. */
  skb: string;
  /** Tracepoint name (see {@link PACKET_HOOKS}). */
  hook: string;
  /** "pass" at receive/transmit points, "drop" with a reason at kfree_skb, "consumed" when freed normally. */
  verdict: 'pass' | 'drop' | 'consumed';
  /** The kernel's drop reason without SKB_DROP_REASON_ ("NO_SOCKET", "TC_INGRESS"...). */
  reason?: string;
  dev: string;
  ifindex: number;
  /** Network namespace inode of the device (as in /proc/PID/ns/net). */
  netns: number;
  len: number;
  mark: number;
  /** "ICMP", "TCP", "UDP", "ICMPv6" or the protocol number. */
  proto: string;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  icmpType?: number;
  icmpCode?: number;
  icmpId?: number;
  icmpSeq?: number;
  cpu: number;
  pid: number;
  comm: string;
  /** Set on hops inside a data plane (its own trace points): data plane and instance names. */
  dataplane?: string;
  instance?: string;
  /** Patch-panel slot and local port index of a data plane hop. */
  slot?: number;
  port?: number;
}

/** Filters for {@link packets}; all must match (pcap-like). */
export interface PacketFilter {
  /** Either address. */
  host?: string;
  src?: string;
  dst?: string;
  /** Either port. */
  port?: number;
  /** "icmp", "tcp", "udp", "icmp6" or a number. */
  proto?: string | number;
  /** 4 or 6. */
  family?: 4 | 6;
  /** Only hops in this network namespace (inode) — hops after a match are still followed. */
  netns?: number;
  ifindex?: number;
}

/** Options for {@link packets}. */
export interface PacketsOptions extends PacketFilter {
  hook?: string;
  signal?: AbortSignal;
  /**
   * Also report the data planes' own trace points (module hops inside tail-call chains),
   * merged in time order: true (default) for every data plane under `bpffsRoot`, a list of
   * names, or false.
   */
  dataplane?: boolean | string[];
  /** Where data planes pin their state (default /sys/fs/bpf/iovisor). */
  bpffsRoot?: string;
}

const PROTO_NUM: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmp6: 58, icmpv6: 58 };
const PROTO_NAME: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6' };

let reasonNames: Map<number, string> | undefined;

/** Names of enum skb_drop_reason from the kernel's BTF. */
export function dropReasonName(n: number): string {
  if (!reasonNames) {
    reasonNames = new Map();
    try {
      const btf = Btf.kernel();
      for (const id of btf.findByName('skb_drop_reason', BtfKind.Enum)) {
        const t = btf.type(id);
        if (t.kind !== BtfKind.Enum && t.kind !== BtfKind.Enum64) continue;
        for (const v of t.values)
          reasonNames.set(Number(v.value), v.name.replace(/^SKB_DROP_REASON_/, ''));
      }
    } catch {
      // numbers only
    }
  }
  return reasonNames.get(n) ?? String(n);
}

function hookSets(): HookSet[] {
  return [
    {
      name: 'tp_btf',
      programs: TRACEPOINTS.map((t) => `btf_${t}`),
      attach: (c) => attachAll(TRACEPOINTS.map((t) => () => attachTracing(c.program(`btf_${t}`)))),
    },
    {
      name: 'raw_tp',
      programs: TRACEPOINTS.map((t) => `raw_${t}`),
      attach: (c) =>
        attachAll(TRACEPOINTS.map((t) => () => attachRawTracepoint(c.program(`raw_${t}`), t))),
    },
  ];
}

/** The .rodata values for a filter. */
export function packetFilterVariables(f: PacketFilter): Record<string, unknown> {
  const v: Record<string, unknown> = {};
  const addr = (name: string, s: string | undefined): void => {
    if (s === undefined) return;
    const a = parseAddr(s);
    if (f.family !== undefined && f.family !== a.family)
      throw new Error(`packets: ${name} ${s} is not IPv${f.family}`);
    v[`filter_${name}`] = a.bytes;
    v[`filter_${name}_set`] = 1;
    v.filter_family = a.family;
  };
  addr('host', f.host);
  addr('src', f.src);
  addr('dst', f.dst);
  if (f.family !== undefined) v.filter_family = f.family;
  if (f.port !== undefined) {
    if (!Number.isInteger(f.port) || f.port < 0 || f.port > 65535)
      throw new Error(`packets: invalid port ${f.port}`);
    v.filter_port = f.port;
  }
  if (f.proto !== undefined) {
    const n =
      typeof f.proto === 'number' ? f.proto : (PROTO_NUM[f.proto.toLowerCase()] ?? Number(f.proto));
    if (!Number.isInteger(n) || n < 0 || n > 255)
      throw new Error(`packets: unknown protocol ${f.proto}`);
    v.filter_l4proto = n;
  }
  if (f.netns !== undefined) v.filter_netns = f.netns;
  if (f.ifindex !== undefined) v.filter_ifindex = f.ifindex;
  return v;
}

/** Decodes struct pkt_event. */
export function decodePacket(b: Uint8Array): PacketHop {
  const dv = view(b);
  const hookId = dv.getUint32(24, true);
  const hook = PACKET_HOOKS[hookId] ?? `hook${hookId}`;
  const l4 = b[58]!;
  const family = b[59]!;
  const hop: PacketHop = {
    ts: dv.getBigUint64(0, true),
    skb: '0x' + dv.getBigUint64(8, true).toString(16),
    hook,
    verdict: hookId === 5 ? 'drop' : hookId === 6 ? 'consumed' : 'pass',
    ifindex: dv.getUint32(28, true),
    netns: dv.getUint32(32, true),
    len: dv.getUint32(36, true),
    pid: dv.getUint32(44, true),
    cpu: dv.getUint32(48, true),
    mark: dv.getUint32(52, true),
    proto: PROTO_NAME[l4] ?? String(l4),
    saddr: family ? formatAddr(family, b.subarray(64, 80)) : '',
    daddr: family ? formatAddr(family, b.subarray(80, 96)) : '',
    sport: dv.getUint16(60, true),
    dport: dv.getUint16(62, true),
    dev: cstr(b, 104, 16),
    comm: cstr(b, 120, 16),
  };
  if (hookId === 5) hop.reason = dropReasonName(dv.getUint32(40, true));
  if (l4 === 1 || l4 === 58) {
    hop.icmpType = b[96]!;
    hop.icmpCode = b[97]!;
    hop.icmpId = dv.getUint16(98, false);
    hop.icmpSeq = dv.getUint16(100, false);
  }
  return hop;
}

/** Whether a data plane hop passes the filter (the kernel side filters in the program). */
export function dataplaneHopMatches(h: DataplaneHop, f: PacketFilter): boolean {
  if (f.netns !== undefined || f.ifindex !== undefined) return false;
  if (!h.saddr)
    return (
      f.host === undefined &&
      f.src === undefined &&
      f.dst === undefined &&
      f.port === undefined &&
      f.proto === undefined &&
      f.family === undefined
    );
  if (f.family !== undefined && (f.family === 4) !== h.saddr.includes('.')) return false;
  if (f.host !== undefined && h.saddr !== f.host && h.daddr !== f.host) return false;
  if (f.src !== undefined && h.saddr !== f.src) return false;
  if (f.dst !== undefined && h.daddr !== f.dst) return false;
  if (f.port !== undefined && h.sport !== f.port && h.dport !== f.port) return false;
  if (f.proto !== undefined) {
    const n =
      typeof f.proto === 'number' ? f.proto : (PROTO_NUM[f.proto.toLowerCase()] ?? Number(f.proto));
    if (h.proto !== (PROTO_NAME[n] ?? String(n))) return false;
  }
  return true;
}

/** A data plane hop in the shape of a kernel hop. */
export function dataplaneHopToPacketHop(h: DataplaneHop): PacketHop {
  const hop: PacketHop = {
    ts: h.ts,
    skb: h.hash ? `hash:${h.hash.toString(16)}` : '-',
    hook: `${h.instance || 'patchpanel'}:${h.hook}`,
    verdict: h.verdict === 'pass' ? 'pass' : 'drop',
    dev: `${h.instance || 'patchpanel'}#${h.port}`,
    ifindex: 0,
    netns: 0,
    len: h.len,
    mark: 0,
    proto: h.proto,
    saddr: h.saddr,
    daddr: h.daddr,
    sport: h.sport,
    dport: h.dport,
    cpu: 0,
    pid: 0,
    comm: '',
    dataplane: h.dataplane,
    instance: h.instance,
    slot: h.slot,
    port: h.port,
  };
  if (h.verdict !== 'pass') hop.reason = h.verdict.toUpperCase();
  if (h.icmpType !== undefined) {
    hop.icmpType = h.icmpType;
    hop.icmpCode = 0;
    hop.icmpId = h.icmpId;
    hop.icmpSeq = h.icmpSeq;
  }
  return hop;
}

/**
 * Follows packets matching the filter through the kernel, hop by hop, and (unless
 * `dataplane: false`) through the data planes' modules, merged in time order.
 */
export function packets(opts: PacketsOptions = {}): EventStream<PacketHop> {
  const loaded = loadTool('packets', packetFilterVariables(opts), hookSets(), opts.hook);
  let extras: ExtraSource<PacketHop>[] = [];
  if (opts.dataplane !== false) {
    try {
      const srcs = openDataplaneTraces({
        root: opts.bpffsRoot,
        names: Array.isArray(opts.dataplane) ? opts.dataplane : undefined,
      });
      if (srcs.length > 0)
        extras = [
          {
            drain: (out) => {
              for (const s of srcs)
                s.ring.consume((r) => {
                  const h = s.decode(r);
                  if (dataplaneHopMatches(h, opts)) out.push(dataplaneHopToPacketHop(h));
                });
            },
            close: () => closeDataplaneTraces(srcs),
          },
        ];
    } catch (err) {
      for (const l of loaded.links) l.close();
      loaded.coll.close();
      throw err;
    }
  }
  return new EventStream('packets', loaded, decodePacket, opts.signal, extras);
}
