/**
 * The data plane's own trace points (src/dataplane/bpf/iov.h): every instance's object and the
 * patch panel write {time, port gid, hook, argument, packet head} to their iov_tracebuf ring
 * while their iov_trace_on switch is set. Inside the data plane modules are chained by tail
 * calls without netdevs, so these are the only hops the kernel's tracepoints cannot show.
 * The rings are found under the data plane's pin directory
 * (/sys/fs/bpf/iovisor/<name>/{shared,instances/<instance>}/).
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { BpfMap } from '../bpf/map.js';
import { RingBuffer } from '../bpf/ringbuf.js';
import { DEFAULT_BPFFS_ROOT } from '../dataplane/paths.js';
import { formatAddr, view } from './core.js';

/** Trace point ids, as iov.h numbers them (IOV_TR_*). */
export const DP_TRACE_HOOKS: Record<number, string> = {
  1: 'in',
  2: 'out',
  3: 'flood',
  4: 'drop',
  5: 'slowpath',
  6: 'to_host',
  7: 'to_netdev',
  8: 'filtered',
};

/** One module hop inside a data plane. */
export interface DataplaneHop {
  ts: bigint;
  dataplane: string;
  /** Instance name ("" for the patch panel itself). */
  instance: string;
  /** Patch-panel slot and local port index (gid = slot << 6 | port). */
  slot: number;
  port: number;
  hook: string;
  /** "pass" (in/out/flood/to_host/to_netdev), "drop", "filtered" or "slowpath". */
  verdict: string;
  /** Slow-path reason or redirect ifindex. */
  arg: number;
  len: number;
  hash: number;
  proto: string;
  saddr: string;
  daddr: string;
  icmpType?: number;
  icmpId?: number;
  icmpSeq?: number;
  sport: number;
  dport: number;
}

const PROTO_NAME: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6' };

/** Decodes struct iov_trace_rec (ts u64, gid, hook, arg, len, hash, ifindex, cb1, caplen, head[64]). */
export function decodeDataplaneHop(
  b: Uint8Array,
  dataplane: string,
  instance: string,
): DataplaneHop {
  const dv = view(b);
  const gid = dv.getUint32(8, true);
  const hookId = dv.getUint32(12, true);
  const hook = DP_TRACE_HOOKS[hookId] ?? `hook${hookId}`;
  const caplen = Math.min(dv.getUint32(36, true), 64);
  const head = b.subarray(40, 40 + caplen);
  const hop: DataplaneHop = {
    ts: dv.getBigUint64(0, true),
    dataplane,
    instance,
    slot: gid >>> 6,
    port: gid & 63,
    hook,
    verdict: hook === 'drop' || hook === 'filtered' || hook === 'slowpath' ? hook : 'pass',
    arg: dv.getUint32(16, true),
    len: dv.getUint32(20, true),
    hash: dv.getUint32(24, true),
    proto: '',
    saddr: '',
    daddr: '',
    sport: 0,
    dport: 0,
  };
  parseHead(head, hop);
  return hop;
}

/** Fills the flow fields from an Ethernet frame's first bytes (IPv4/IPv6, one VLAN tag). */
function parseHead(h: Uint8Array, hop: DataplaneHop): void {
  if (h.length < 14) return;
  const dv = view(h);
  let off = 12;
  let type = dv.getUint16(off, false);
  if (type === 0x8100 && h.length >= 18) {
    off += 4;
    type = dv.getUint16(off, false);
  }
  off += 2;
  let l4 = 0;
  if (type === 0x0800 && h.length >= off + 20) {
    l4 = h[off + 9]!;
    hop.saddr = formatAddr(4, h.subarray(off + 12, off + 16));
    hop.daddr = formatAddr(4, h.subarray(off + 16, off + 20));
    off += (h[off]! & 15) * 4;
  } else if (type === 0x86dd && h.length >= off + 40) {
    l4 = h[off + 6]!;
    hop.saddr = formatAddr(6, h.subarray(off + 8, off + 24));
    hop.daddr = formatAddr(6, h.subarray(off + 24, off + 40));
    off += 40;
  } else if (type === 0x0806) {
    hop.proto = 'ARP';
    return;
  } else return;
  hop.proto = PROTO_NAME[l4] ?? String(l4);
  if ((l4 === 1 || l4 === 58) && h.length >= off + 8) {
    hop.icmpType = h[off]!;
    hop.icmpId = dv.getUint16(off + 4, false);
    hop.icmpSeq = dv.getUint16(off + 6, false);
  } else if ((l4 === 6 || l4 === 17) && h.length >= off + 4) {
    hop.sport = dv.getUint16(off, false);
    hop.dport = dv.getUint16(off + 2, false);
  }
}

/** One opened trace ring: its switch, its reader and whose it is. */
export interface DataplaneTraceSource {
  dataplane: string;
  instance: string;
  ring: RingBuffer<DataplaneHop>;
  /** Decodes a raw record from `ring.consume()`. */
  decode: (b: Uint8Array) => DataplaneHop;
  on: BpfMap;
}

/**
 * Opens every data plane's trace rings under `root` (only `names` when given) and switches
 * tracing on. Objects built before the trace points existed have no ring and are skipped.
 */
export function openDataplaneTraces(
  opts: { root?: string; names?: string[] } = {},
): DataplaneTraceSource[] {
  const root = opts.root ?? DEFAULT_BPFFS_ROOT;
  if (!existsSync(root)) return [];
  const out: DataplaneTraceSource[] = [];
  const dps = opts.names ?? readdirSync(root);
  try {
    for (const dp of dps) {
      const dirs: [string, string][] = [['', path.join(root, dp, 'shared')]];
      const inst = path.join(root, dp, 'instances');
      if (existsSync(inst)) for (const n of readdirSync(inst)) dirs.push([n, path.join(inst, n)]);
      for (const [instance, dir] of dirs) {
        const ringPin = path.join(dir, 'iov_tracebuf');
        const onPin = path.join(dir, 'iov_trace_on');
        if (!existsSync(ringPin) || !existsSync(onPin)) continue;
        const on = BpfMap.openPinned(onPin);
        const decode = (b: Uint8Array): DataplaneHop => decodeDataplaneHop(b, dp, instance);
        const ring = new RingBuffer<DataplaneHop>(ringPin, { decode });
        on.updateBytes(new Uint8Array(4), new Uint8Array([1, 0, 0, 0]));
        out.push({ dataplane: dp, instance, ring, decode, on });
      }
    }
  } catch (err) {
    closeDataplaneTraces(out);
    throw new Error(`packets: open data plane traces under ${root}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return out;
}

/** Switches tracing off and closes the rings. */
export function closeDataplaneTraces(srcs: DataplaneTraceSource[]): void {
  for (const s of srcs) {
    try {
      s.on.updateBytes(new Uint8Array(4), new Uint8Array(4));
    } catch {
      // the instance may be gone already
    }
    s.ring.close();
    s.on.close();
  }
}
