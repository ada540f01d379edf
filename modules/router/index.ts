/**
 * router: the control plane of the IPv4/IPv6 router IO module. It keeps the data plane's
 * tables (port MACs, local addresses, connected and static routes in LPM tries, neighbours)
 * and runs the slow path: ARP and neighbour discovery (answering for its addresses, resolving
 * next hops while queueing the packets that wait for them), echo replies for its own
 * addresses, and ICMP errors (TTL/hop limit exceeded, no route).
 */
import path from 'node:path';
import type { BpfMap } from '../../src/bpf/index.js';
import {
  buildArp,
  buildEth,
  buildIcmp4,
  buildIcmp6,
  buildIpv4,
  buildIpv6,
  ETH_P,
  fixIpv4Checksum,
  ipBytes,
  ipText,
  macToBytes,
  ndBody,
  parseArp,
  parseEth,
  parseIpv4,
  parseIpv6,
  parseNd,
  repoRoot,
  solicitedNode,
  type InstanceContext,
  type ModuleController,
  type ModuleType,
  type PacketIn,
  type PortInfo,
  type Schema,
} from '../../src/dataplane/index.js';

/** Slow-path reasons, as router.bpf.c sends them. */
export const REASON = { ARP: 1, LOCAL: 2, NO_ROUTE: 3, TTL: 4, NEIGH_MISS: 5, ND: 6 } as const;

/** Instance config schema. */
export const routerSchema: Schema & { type: 'object' } = {
  type: 'object',
  properties: {
    routes: {
      type: 'array',
      maxItems: 4000,
      items: {
        type: 'object',
        properties: {
          dst: { type: 'string', format: 'cidr' },
          via: { type: 'string', format: 'ip' },
        },
        required: ['dst', 'via'],
      },
    },
  },
};

/** Port config schema: one address or a list (IPv4 and/or IPv6, with prefix). */
export const routerPortSchema: Schema & { type: 'object' } = {
  type: 'object',
  properties: {
    address: {
      type: 'oneOf',
      options: [
        { type: 'string', format: 'cidr' },
        { type: 'array', items: { type: 'string', format: 'cidr' }, maxItems: 8 },
      ],
    },
    mac: { type: 'string', format: 'mac' },
  },
};

interface Addr {
  ip: string;
  bytes: Uint8Array;
  len: number;
  v6: boolean;
}

interface Route {
  net: Uint8Array;
  len: number;
  port: number;
  via?: Uint8Array;
  v6: boolean;
}

function parseCidr(s: string): Addr {
  const [ip, l] = s.split('/');
  const bytes = ipBytes(ip!);
  return { ip: ip!, bytes, len: Number(l), v6: bytes.length === 16 };
}

function masked(b: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) {
    const bits = Math.max(0, Math.min(8, len - i * 8));
    out[i] = b[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

function contains(net: Uint8Array, len: number, ip: Uint8Array): boolean {
  if (net.length !== ip.length) return false;
  const m = masked(ip, len);
  return m.every((x, i) => x === net[i]);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

const QUEUE_MAX = 64;
const RESOLVE_RETRY_MS = 1000;

class RouterController implements ModuleController {
  private staticRoutes: { dst: string; via: string }[] = [];
  private written4 = new Map<string, Uint8Array>();
  private written6 = new Map<string, Uint8Array>();
  private locals = new Map<string, { key: Uint8Array; v6: boolean }>();
  private pending = new Map<string, { frames: Uint8Array[]; port: number; asked: number }>();
  /** Counters of slow-path events, for status. */
  readonly counters = {
    arpIn: 0,
    ndIn: 0,
    resolved: 0,
    queued: 0,
    icmpErrors: 0,
    echoReplies: 0,
  };

  constructor(private readonly ctx: InstanceContext) {}

  private map(n: string): BpfMap {
    return this.ctx.map(n);
  }

  configure(config: Record<string, unknown>): void {
    this.staticRoutes = (config.routes as { dst: string; via: string }[] | undefined) ?? [];
    this.sync();
  }

  private addrs(p: PortInfo): Addr[] {
    const a = p.config.address;
    const list = a === undefined ? [] : Array.isArray(a) ? (a as string[]) : [a as string];
    return list.map(parseCidr);
  }

  private routes(): Route[] {
    const out: Route[] = [];
    const ports = this.ctx.ports();
    for (const p of ports)
      for (const a of this.addrs(p))
        out.push({ net: masked(a.bytes, a.len), len: a.len, port: p.index, v6: a.v6 });
    for (const r of this.staticRoutes) {
      const d = parseCidr(r.dst);
      const via = ipBytes(r.via);
      const c = out.find((x) => !x.via && contains(x.net, x.len, via));
      if (!c) {
        this.ctx.log(
          `route ${r.dst} via ${r.via}: no connected network reaches ${r.via} (skipped)`,
        );
        continue;
      }
      out.push({ net: masked(d.bytes, d.len), len: d.len, port: c.port, via, v6: d.v6 });
    }
    return out;
  }

  /** Longest-prefix match in TS (for packets the slow path forwards). */
  private lookup(ip: Uint8Array): Route | undefined {
    let best: Route | undefined;
    for (const r of this.routes())
      if (contains(r.net, r.len, ip) && (!best || r.len > best.len)) best = r;
    return best;
  }

  /** Rewrites every table from config and ports; entries no longer wanted are removed. */
  private sync(): void {
    const ports = this.ctx.ports();
    for (let i = 0; i < 64; i++) {
      const p = ports.find((x) => x.index === i);
      const v = new Uint8Array(8);
      if (p) {
        v.set(macToBytes(p.mac), 0);
        v[6] = 1;
      }
      this.map('rt_ports').updateBytes(u32(i), v);
    }
    const locals = new Map<string, { key: Uint8Array; v6: boolean; port: number }>();
    for (const p of ports)
      for (const a of this.addrs(p))
        locals.set(hex(a.bytes), { key: a.bytes, v6: a.v6, port: p.index });
    for (const [k, l] of this.locals)
      if (!locals.has(k)) this.map(l.v6 ? 'rt_local6' : 'rt_local4').delete(l.key);
    for (const l of locals.values())
      this.map(l.v6 ? 'rt_local6' : 'rt_local4').updateBytes(l.key, u32(l.port));
    this.locals = locals;

    const want4 = new Map<string, [Uint8Array, Uint8Array]>();
    const want6 = new Map<string, [Uint8Array, Uint8Array]>();
    for (const r of this.routes()) {
      const key = new Uint8Array(4 + r.net.length);
      new DataView(key.buffer).setUint32(0, r.len, true);
      key.set(r.net, 4);
      if (!r.v6) {
        const v = new Uint8Array(8);
        new DataView(v.buffer).setUint32(0, r.port, true);
        if (r.via) v.set(r.via, 4);
        want4.set(hex(key), [key, v]);
      } else {
        const v = new Uint8Array(24);
        new DataView(v.buffer).setUint32(0, r.port, true);
        new DataView(v.buffer).setUint32(4, r.via ? 0 : 1, true);
        if (r.via) v.set(r.via, 8);
        want6.set(hex(key), [key, v]);
      }
    }
    const apply = (
      name: string,
      want: Map<string, [Uint8Array, Uint8Array]>,
      had: Map<string, Uint8Array>,
    ): Map<string, Uint8Array> => {
      for (const [k, key] of had) if (!want.has(k)) this.map(name).delete(key);
      for (const [key, v] of want.values()) this.map(name).updateBytes(key, v);
      return new Map([...want].map(([k, [key]]) => [k, key]));
    };
    this.written4 = apply('rt_routes4', want4, this.written4);
    this.written6 = apply('rt_routes6', want6, this.written6);
  }

  portAdded(): void {
    this.sync();
  }

  portRemoved(): void {
    this.sync();
  }

  // ---- slow path ----------------------------------------------------------------------

  packetIn(pkt: PacketIn): void {
    const eth = parseEth(pkt.data);
    switch (pkt.reason) {
      case REASON.ARP:
        this.counters.arpIn++;
        return this.onArp(pkt.port, eth.payload);
      case REASON.ND:
        this.counters.ndIn++;
        return this.onNd(pkt.port, eth.src, eth.payload);
      case REASON.LOCAL:
        return this.onLocal(pkt.port, eth.src, eth.type, eth.payload);
      case REASON.TTL:
        return this.icmpError(pkt.port, eth.src, eth.type, eth.payload, 'ttl');
      case REASON.NO_ROUTE:
        return this.icmpError(pkt.port, eth.src, eth.type, eth.payload, 'noroute');
      case REASON.NEIGH_MISS:
        return this.onMiss(pkt.arg, eth.type, pkt.data);
    }
  }

  private portByIndex(i: number): PortInfo | undefined {
    return this.ctx.ports().find((p) => p.index === i);
  }

  private learn(ip: Uint8Array, mac: string): void {
    const v = new Uint8Array(8);
    v.set(macToBytes(mac));
    this.map(ip.length === 4 ? 'rt_neigh4' : 'rt_neigh6').updateBytes(ip, v);
    const q = this.pending.get(hex(ip));
    if (!q) return;
    this.pending.delete(hex(ip));
    this.counters.resolved++;
    const port = this.portByIndex(q.port);
    if (!port) return;
    for (const f of q.frames) this.forwardQueued(f, port, mac);
  }

  /** Sends a packet that waited for its next hop: TTL/hop limit down, MACs rewritten. */
  private forwardQueued(frame: Uint8Array, port: PortInfo, mac: string): void {
    const f = frame.slice();
    const type = (f[12]! << 8) | f[13]!;
    if (type === ETH_P.IP) {
      f[14 + 8]!--;
      fixIpv4Checksum(f.subarray(14, 14 + (f[14]! & 15) * 4));
    } else if (type === ETH_P.IPV6) {
      f[14 + 7]!--;
    }
    f.set(macToBytes(mac), 0);
    f.set(macToBytes(port.mac), 6);
    this.ctx.packetOut(port.name, f);
  }

  private onArp(port: PortInfo, payload: Uint8Array): void {
    const a = parseArp(payload);
    if (!a) return;
    const mine = this.addrs(port).filter((x) => !x.v6);
    const sender = ipBytes(a.senderIp);
    if (
      mine.some((m) => contains(masked(m.bytes, m.len), m.len, sender)) &&
      a.senderIp !== '0.0.0.0'
    )
      this.learn(sender, a.senderMac);
    if (a.op === 1 && mine.some((m) => m.ip === a.targetIp)) {
      const reply = buildArp({
        op: 2,
        senderMac: port.mac,
        senderIp: a.targetIp,
        targetMac: a.senderMac,
        targetIp: a.senderIp,
      });
      this.ctx.packetOut(port.name, buildEth(a.senderMac, port.mac, ETH_P.ARP, reply));
    }
  }

  private onNd(port: PortInfo, ethSrc: string, payload: Uint8Array): void {
    const ip6 = parseIpv6(payload);
    if (!ip6 || ip6.nextHeader !== 58) return;
    const nd = parseNd(ip6.payload);
    if (!nd) return;
    const mine = this.addrs(port).filter((x) => x.v6);
    if (nd.type === 135) {
      if (ip6.src !== '::') this.learn(ipBytes(ip6.src), nd.lladdr ?? ethSrc);
      const me = mine.find((m) => m.ip === nd.target || ipEq(m.bytes, ipBytes(nd.target)));
      if (!me) return;
      const dst = ip6.src === '::' ? 'ff02::1' : ip6.src;
      const dmac = ip6.src === '::' ? '33:33:00:00:00:01' : (nd.lladdr ?? ethSrc);
      const body = ndBody(136, nd.target, port.mac, 0x80 | 0x40 | 0x20);
      const icmp = buildIcmp6(me.ip, dst, 136, 0, body);
      this.ctx.packetOut(
        port.name,
        buildEth(dmac, port.mac, ETH_P.IPV6, buildIpv6(me.ip, dst, 58, icmp, 255)),
      );
    } else if (nd.type === 136) {
      this.learn(ipBytes(nd.target), nd.lladdr ?? ethSrc);
    }
  }

  private onLocal(port: PortInfo, ethSrc: string, type: number, payload: Uint8Array): void {
    if (type === ETH_P.IP) {
      const ip = parseIpv4(payload);
      if (!ip || ip.protocol !== 1 || ip.payload[0] !== 8) return;
      const icmp = buildIcmp4(0, 0, ip.payload.subarray(4));
      this.counters.echoReplies++;
      this.ctx.packetOut(
        port.name,
        buildEth(ethSrc, port.mac, ETH_P.IP, buildIpv4(ip.dst, ip.src, 1, icmp)),
      );
    } else if (type === ETH_P.IPV6) {
      const ip = parseIpv6(payload);
      if (!ip || ip.nextHeader !== 58 || ip.payload[0] !== 128) return;
      const icmp = buildIcmp6(ip.dst, ip.src, 129, 0, ip.payload.subarray(4));
      this.counters.echoReplies++;
      this.ctx.packetOut(
        port.name,
        buildEth(ethSrc, port.mac, ETH_P.IPV6, buildIpv6(ip.dst, ip.src, 58, icmp)),
      );
    }
  }

  /** ICMP time exceeded / destination unreachable back to the sender, from the ingress port. */
  private icmpError(
    port: PortInfo,
    ethSrc: string,
    type: number,
    payload: Uint8Array,
    why: 'ttl' | 'noroute',
  ): void {
    if (type === ETH_P.IP) {
      const ip = parseIpv4(payload);
      const me = this.addrs(port).find((a) => !a.v6);
      if (!ip || !me) return;
      if (ip.protocol === 1 && [3, 11, 12].includes(ip.payload[0] ?? 0)) return;
      const quote = payload.subarray(0, ip.ihl + Math.min(8, ip.payload.length));
      const rest = new Uint8Array(4 + quote.length);
      rest.set(quote, 4);
      const icmp = why === 'ttl' ? buildIcmp4(11, 0, rest) : buildIcmp4(3, 0, rest);
      this.counters.icmpErrors++;
      this.ctx.packetOut(
        port.name,
        buildEth(ethSrc, port.mac, ETH_P.IP, buildIpv4(me.ip, ip.src, 1, icmp)),
      );
    } else if (type === ETH_P.IPV6) {
      const ip = parseIpv6(payload);
      const me = this.addrs(port).find((a) => a.v6);
      if (!ip || !me) return;
      if (ip.nextHeader === 58 && (ip.payload[0] ?? 0) < 128) return;
      const quote = payload.subarray(0, Math.min(payload.length, 1232));
      const rest = new Uint8Array(4 + quote.length);
      rest.set(quote, 4);
      const icmp = buildIcmp6(me.ip, ip.src, why === 'ttl' ? 3 : 1, 0, rest);
      this.counters.icmpErrors++;
      this.ctx.packetOut(
        port.name,
        buildEth(ethSrc, port.mac, ETH_P.IPV6, buildIpv6(me.ip, ip.src, 58, icmp)),
      );
    }
  }

  /** No neighbour for the next hop: queue the packet and ask (ARP request or NS). */
  private onMiss(outIndex: number, type: number, frame: Uint8Array): void {
    const port = this.portByIndex(outIndex);
    if (!port) return;
    const payload = frame.subarray(14);
    const dst =
      type === ETH_P.IP
        ? parseIpv4(payload)?.dst
        : type === ETH_P.IPV6
          ? parseIpv6(payload)?.dst
          : undefined;
    if (!dst) return;
    const route = this.lookup(ipBytes(dst));
    if (!route) return;
    const nh = route.via ?? ipBytes(dst);
    const key = hex(nh);
    let q = this.pending.get(key);
    if (!q) {
      q = { frames: [], port: outIndex, asked: 0 };
      this.pending.set(key, q);
    }
    if (q.frames.length < QUEUE_MAX) {
      q.frames.push(frame.slice());
      this.counters.queued++;
    }
    const now = Date.now();
    if (now - q.asked < RESOLVE_RETRY_MS) return;
    q.asked = now;
    if (nh.length === 4) {
      const me = this.addrs(port).find((a) => !a.v6 && contains(masked(a.bytes, a.len), a.len, nh));
      if (!me) return;
      const req = buildArp({
        op: 1,
        senderMac: port.mac,
        senderIp: me.ip,
        targetMac: '00:00:00:00:00:00',
        targetIp: dstText(nh),
      });
      this.ctx.packetOut(port.name, buildEth('ff:ff:ff:ff:ff:ff', port.mac, ETH_P.ARP, req));
    } else {
      const me = this.addrs(port).find((a) => a.v6);
      if (!me) return;
      const target = dstText(nh);
      const sn = solicitedNode(target);
      const icmp = buildIcmp6(me.ip, sn.ip, 135, 0, ndBody(135, target, port.mac));
      this.ctx.packetOut(
        port.name,
        buildEth(sn.mac, port.mac, ETH_P.IPV6, buildIpv6(me.ip, sn.ip, 58, icmp, 255)),
      );
    }
  }

  /** Neighbour tables and counters. */
  status(): unknown {
    const neigh = (name: string): { ip: string; mac: string }[] => {
      const out: { ip: string; mac: string }[] = [];
      const m = this.map(name);
      let k: Uint8Array | undefined;
      while ((k = m.nextKeyBytes(k)) !== undefined) {
        const key = k.slice();
        const v = m.lookupBytes(key);
        if (v) out.push({ ip: dstText(key), mac: macText(v) });
      }
      return out;
    };
    return {
      version: this.ctx.variable('router_version'),
      routes: this.routes().map((r) => ({
        dst: `${dstText(r.net)}/${r.len}`,
        port: this.portByIndex(r.port)?.name,
        ...(r.via ? { via: dstText(r.via) } : {}),
      })),
      neighbors: [...neigh('rt_neigh4'), ...neigh('rt_neigh6')],
      slowPath: this.counters,
    };
  }
}

function ipEq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function dstText(b: Uint8Array): string {
  return ipText(b);
}

function macText(b: Uint8Array): string {
  return Array.from(b.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

const dir = path.join(repoRoot(), 'modules/router');

/** The router module type. */
export const router: ModuleType = {
  name: 'router',
  kind: 'standard',
  description: 'IPv4/IPv6 router: LPM routes, ARP/ND via the slow path, ICMP errors',
  object: path.join(dir, 'router.bpf.o'),
  source: path.join(dir, 'router.bpf.c'),
  program: 'router',
  readme: path.join(dir, 'README.md'),
  schema: routerSchema,
  portSchema: routerPortSchema,
  maxPorts: 64,
  create: (ctx) => new RouterController(ctx),
};
