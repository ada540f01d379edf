/**
 * IP addresses, routes and neighbour entries over rtnetlink, plus namespace-scoped sysctls.
 * IPv4 and IPv6 are parsed here (no dependency), prefixes as "198.18.1.10/24".
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { attr, attrsAfter, fixedHeader, type Attr, type NlMsg } from './codec.js';
import { ifindex, parseMac, withSocket, formatMac, type NetnsOption } from './link.js';
import { maybeInNetns } from './netns.js';
import type { NetlinkSocket } from './socket.js';

/** Address families. */
export const AF_INET = 2;
/** IPv6. */
export const AF_INET6 = 10;

const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_GETADDR = 22;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTM_GETROUTE = 26;
const RTM_NEWNEIGH = 28;
const RTM_DELNEIGH = 29;
const RTM_GETNEIGH = 30;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_FLAGS = 8;
const IFA_F_NODAD = 0x02;

const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_TABLE = 15;

const NDA_DST = 1;
const NDA_LLADDR = 2;
/** NUD_PERMANENT: a static neighbour entry. */
const NUD_PERMANENT = 0x80;

const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RTN_UNICAST = 1;

const NLM_F_CREATE = 0x400;
const NLM_F_EXCL = 0x200;
const NLM_F_REPLACE = 0x100;

/** An IP address in bytes with its family. */
export interface IpAddr {
  family: typeof AF_INET | typeof AF_INET6;
  bytes: Uint8Array;
}

/** Parses an IPv4 or IPv6 address (no prefix). */
export function parseIp(s: string): IpAddr {
  const v = isIP(s);
  if (v === 4) return { family: AF_INET, bytes: Uint8Array.from(s.split('.'), Number) };
  if (v === 6) return { family: AF_INET6, bytes: parseIpv6(s) };
  throw new Error(`invalid IP address ${JSON.stringify(s)}`);
}

function parseIpv6(s: string): Uint8Array {
  let text = s;
  const out = new Uint8Array(16);
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two groups.
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (m) {
    const q = m[2]!.split('.').map(Number);
    tail = [(q[0]! << 8) | q[1]!, (q[2]! << 8) | q[3]!];
    text = m[1]!.endsWith('::') ? m[1]! : m[1]!.slice(0, -1);
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const hs = head === '' ? [] : head!.split(':').map((g) => parseInt(g, 16));
  const rs = rest === undefined || rest === '' ? [] : rest.split(':').map((g) => parseInt(g, 16));
  const groups =
    rest === undefined
      ? [...hs, ...tail]
      : [...hs, ...new Array(8 - hs.length - rs.length - tail.length).fill(0), ...rs, ...tail];
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** Formats address bytes (4 or 16) as text; IPv6 in the RFC 5952 short form. */
export function formatIp(b: Uint8Array): string {
  if (b.byteLength === 4) return Array.from(b).join('.');
  if (b.byteLength !== 16) throw new Error(`address of ${b.byteLength} bytes`);
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[i * 2]! << 8) | b[i * 2 + 1]!);
  // Longest run of zero groups (length ≥ 2) becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** An address with prefix length, e.g. 198.18.1.10/24. */
export interface Prefix extends IpAddr {
  prefixLen: number;
}

/** Parses "ADDR/LEN"; without "/LEN" the prefix is a host (32 or 128). */
export function parsePrefix(s: string): Prefix {
  const [a, l] = s.split('/');
  const ip = parseIp(a!);
  const max = ip.family === AF_INET ? 32 : 128;
  const prefixLen = l === undefined ? max : Number(l);
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max || l === '') {
    throw new Error(`invalid prefix length in ${JSON.stringify(s)}`);
  }
  return { ...ip, prefixLen };
}

function ifaddrmsg(
  family: number,
  prefixLen: number,
  flags: number,
  scope: number,
  index: number,
): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint8(0, family);
  dv.setUint8(1, prefixLen);
  dv.setUint8(2, flags & 0xff);
  dv.setUint8(3, scope);
  dv.setUint32(4, index, true);
  return b;
}

/** Options for {@link addAddress}. */
export interface AddressOptions extends NetnsOption {
  /** IPv6: skip duplicate address detection so the address is usable at once (tests want this). */
  nodad?: boolean;
}

/**
 * Adds an address like `ip addr add 198.18.1.10/24 dev IFNAME` (IPv4 or IPv6). IPv4 sets
 * IFA_LOCAL and IFA_ADDRESS to the same value, as iproute2 does for non-point-to-point links.
 */
export function addAddress(ifname: string, cidr: string, opts: AddressOptions = {}): void {
  const p = parsePrefix(cidr);
  withSocket(opts.netns, (s) => {
    const index = ifindex(s, ifname);
    const flags = opts.nodad && p.family === AF_INET6 ? IFA_F_NODAD : 0;
    const attrs: Attr[] = [attr.bytes(IFA_LOCAL, p.bytes), attr.bytes(IFA_ADDRESS, p.bytes)];
    if (flags !== 0) attrs.push(attr.u32(IFA_FLAGS, flags));
    s.request(
      RTM_NEWADDR,
      NLM_F_CREATE | NLM_F_EXCL,
      ifaddrmsg(p.family, p.prefixLen, flags, RT_SCOPE_UNIVERSE, index),
      attrs,
      `add address ${cidr} to ${ifname}`,
    );
  });
}

/** Removes an address from a link. */
export function deleteAddress(ifname: string, cidr: string, opts: NetnsOption = {}): void {
  const p = parsePrefix(cidr);
  withSocket(opts.netns, (s) => {
    const index = ifindex(s, ifname);
    s.request(
      RTM_DELADDR,
      0,
      ifaddrmsg(p.family, p.prefixLen, 0, 0, index),
      [attr.bytes(IFA_LOCAL, p.bytes), attr.bytes(IFA_ADDRESS, p.bytes)],
      `delete address ${cidr} from ${ifname}`,
    );
  });
}

/** An address assigned to a link. */
export interface Address {
  /** ifindex of the link. */
  index: number;
  family: number;
  /** The address as text, e.g. "198.18.1.10". */
  address: string;
  prefixLen: number;
  /** "198.18.1.10/24". */
  cidr: string;
  scope: number;
  label?: string;
}

function decodeAddress(m: NlMsg): Address {
  const h = fixedHeader(m.payload, 8, 'ifaddrmsg');
  const a = attrsAfter(m.payload, 8);
  const raw = a.bytes(IFA_LOCAL) ?? a.bytes(IFA_ADDRESS) ?? new Uint8Array(0);
  const address = raw.byteLength ? formatIp(raw) : '';
  const out: Address = {
    index: h.getUint32(4, true),
    family: h.getUint8(0),
    address,
    prefixLen: h.getUint8(1),
    cidr: `${address}/${h.getUint8(1)}`,
    scope: h.getUint8(3),
  };
  const label = a.str(IFA_LABEL);
  if (label !== undefined) out.label = label;
  return out;
}

/** Options for {@link listAddresses}. */
export interface ListAddressOptions extends NetnsOption {
  /** Only this link's addresses. */
  ifname?: string;
  /** Only AF_INET or AF_INET6. */
  family?: number;
}

/** Lists addresses in the namespace, optionally for one link or family. */
export function listAddresses(opts: ListAddressOptions = {}): Address[] {
  return withSocket(opts.netns, (s) => {
    const index = opts.ifname === undefined ? undefined : ifindex(s, opts.ifname);
    return s
      .dump(RTM_GETADDR, ifaddrmsg(opts.family ?? 0, 0, 0, 0, 0), [], 'list addresses')
      .filter((m) => m.type === RTM_NEWADDR)
      .map(decodeAddress)
      .filter((a) => index === undefined || a.index === index)
      .filter((a) => opts.family === undefined || a.family === opts.family);
  });
}

/** A route to add: `dst` "default" or a prefix, via `gateway` and/or out of `dev`. */
export interface RouteSpec {
  dst: 'default' | string;
  gateway?: string;
  dev?: string;
  /** Route metric (RTA_PRIORITY). */
  metric?: number;
  /** Routing table id (default main, 254). */
  table?: number;
  /** Preferred source address. */
  src?: string;
}

function rtmsg(
  family: number,
  dstLen: number,
  table: number,
  scope: number,
  type: number,
): Uint8Array {
  const b = new Uint8Array(12);
  b[0] = family;
  b[1] = dstLen;
  b[4] = table < 256 ? table : 252; // RT_TABLE_COMPAT; the real id goes in RTA_TABLE
  b[5] = RTPROT_BOOT;
  b[6] = scope;
  b[7] = type;
  return b;
}

function routeRequest(s: NetlinkSocket, r: RouteSpec): { family: Uint8Array; attrs: Attr[] } {
  const gw = r.gateway === undefined ? undefined : parseIp(r.gateway);
  const dst = r.dst === 'default' ? undefined : parsePrefix(r.dst);
  const family = dst?.family ?? gw?.family;
  if (family === undefined) {
    throw new Error(`route ${r.dst}: a default route needs a gateway to know its family`);
  }
  if (gw && gw.family !== family) throw new Error(`route ${r.dst}: gateway family differs`);
  if (!gw && r.dev === undefined) throw new Error(`route ${r.dst}: needs a gateway or a dev`);
  const table = r.table ?? RT_TABLE_MAIN;
  const attrs: Attr[] = [];
  if (dst) attrs.push(attr.bytes(RTA_DST, dst.bytes));
  if (gw) attrs.push(attr.bytes(RTA_GATEWAY, gw.bytes));
  if (r.dev !== undefined) attrs.push(attr.u32(RTA_OIF, ifindex(s, r.dev)));
  if (r.metric !== undefined) attrs.push(attr.u32(RTA_PRIORITY, r.metric));
  if (r.src !== undefined) attrs.push(attr.bytes(RTA_PREFSRC, parseIp(r.src).bytes));
  attrs.push(attr.u32(RTA_TABLE, table));
  // Without a gateway the destination is directly on the link, as `ip route add ... dev X` says.
  const scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  return { family: rtmsg(family, dst?.prefixLen ?? 0, table, scope, RTN_UNICAST), attrs };
}

/** Adds a route like `ip route add DST via GW dev DEV`; EEXIST if it is already there. */
export function addRoute(r: RouteSpec, opts: NetnsOption = {}): void {
  withSocket(opts.netns, (s) => {
    const { family, attrs } = routeRequest(s, r);
    s.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, family, attrs, `add route ${r.dst}`);
  });
}

/** Deletes a route matching the spec. */
export function deleteRoute(r: RouteSpec, opts: NetnsOption = {}): void {
  withSocket(opts.netns, (s) => {
    const { family, attrs } = routeRequest(s, r);
    s.request(RTM_DELROUTE, 0, family, attrs, `delete route ${r.dst}`);
  });
}

/** A route as the kernel reports it. */
export interface Route {
  family: number;
  /** "default" or "198.18.2.0/24". */
  dst: string;
  gateway?: string;
  /** ifindex of the output link. */
  oif?: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  metric?: number;
}

function decodeRoute(m: NlMsg): Route {
  const h = fixedHeader(m.payload, 12, 'rtmsg');
  const a = attrsAfter(m.payload, 12);
  const dst = a.bytes(RTA_DST);
  const gw = a.bytes(RTA_GATEWAY);
  const route: Route = {
    family: h.getUint8(0),
    dst: dst ? `${formatIp(dst)}/${h.getUint8(1)}` : 'default',
    table: a.u32(RTA_TABLE) ?? h.getUint8(4),
    protocol: h.getUint8(5),
    scope: h.getUint8(6),
    type: h.getUint8(7),
  };
  if (gw) route.gateway = formatIp(gw);
  const oif = a.u32(RTA_OIF);
  if (oif !== undefined) route.oif = oif;
  const metric = a.u32(RTA_PRIORITY);
  if (metric !== undefined) route.metric = metric;
  return route;
}

/** Options for {@link listRoutes}. */
export interface ListRouteOptions extends NetnsOption {
  family?: number;
  /** Only this table (default: main). Pass 0 for all tables. */
  table?: number;
}

/** Lists routes (main table by default). */
export function listRoutes(opts: ListRouteOptions = {}): Route[] {
  const table = opts.table ?? RT_TABLE_MAIN;
  return withSocket(opts.netns, (s) =>
    s
      .dump(RTM_GETROUTE, rtmsg(opts.family ?? 0, 0, 0, 0, 0), [], 'list routes')
      .filter((m) => m.type === RTM_NEWROUTE)
      .map(decodeRoute)
      .filter((r) => table === 0 || r.table === table),
  );
}

function ndmsg(family: number, index: number, state: number): Uint8Array {
  const b = new Uint8Array(12);
  const dv = new DataView(b.buffer);
  dv.setUint8(0, family);
  dv.setInt32(4, index, true);
  dv.setUint16(8, state, true);
  return b;
}

/**
 * Adds (or replaces) a permanent neighbour entry like `ip neigh replace IP lladdr MAC dev IF
 * nud permanent`: tests use it so the first packet is not spent on ARP/ND.
 */
export function addNeighbor(ifname: string, ip: string, mac: string, opts: NetnsOption = {}): void {
  const addr = parseIp(ip);
  withSocket(opts.netns, (s) => {
    const index = ifindex(s, ifname);
    s.request(
      RTM_NEWNEIGH,
      NLM_F_CREATE | NLM_F_REPLACE,
      ndmsg(addr.family, index, NUD_PERMANENT),
      [attr.bytes(NDA_DST, addr.bytes), attr.bytes(NDA_LLADDR, parseMac(mac))],
      `add neighbour ${ip} on ${ifname}`,
    );
  });
}

/** Deletes a neighbour entry. */
export function deleteNeighbor(ifname: string, ip: string, opts: NetnsOption = {}): void {
  const addr = parseIp(ip);
  withSocket(opts.netns, (s) => {
    const index = ifindex(s, ifname);
    s.request(
      RTM_DELNEIGH,
      0,
      ndmsg(addr.family, index, 0),
      [attr.bytes(NDA_DST, addr.bytes)],
      `delete neighbour ${ip} on ${ifname}`,
    );
  });
}

/** A neighbour (ARP/ND) entry. */
export interface Neighbor {
  index: number;
  family: number;
  ip: string;
  mac?: string;
  /** NUD_* state bits. */
  state: number;
}

/** Lists neighbour entries, optionally for one link. */
export function listNeighbors(opts: NetnsOption & { ifname?: string } = {}): Neighbor[] {
  return withSocket(opts.netns, (s) => {
    const index = opts.ifname === undefined ? undefined : ifindex(s, opts.ifname);
    const out: Neighbor[] = [];
    for (const m of s.dump(RTM_GETNEIGH, ndmsg(0, 0, 0), [], 'list neighbours')) {
      if (m.type !== RTM_NEWNEIGH) continue;
      const h = fixedHeader(m.payload, 12, 'ndmsg');
      const a = attrsAfter(m.payload, 12);
      const dst = a.bytes(NDA_DST);
      if (!dst) continue;
      const n: Neighbor = {
        index: h.getInt32(4, true),
        family: h.getUint8(0),
        ip: formatIp(dst),
        state: h.getUint16(8, true),
      };
      const ll = a.bytes(NDA_LLADDR);
      if (ll && ll.byteLength === 6) n.mac = formatMac(ll);
      if (index === undefined || n.index === index) out.push(n);
    }
    return out;
  });
}

function sysctlPath(key: string): string {
  if (!/^[A-Za-z0-9_.\-/]+$/.test(key) || key.includes('..')) {
    throw new Error(`invalid sysctl name ${JSON.stringify(key)}`);
  }
  return `/proc/sys/${key.includes('/') ? key : key.replace(/\./g, '/')}`;
}

/**
 * Writes a sysctl, e.g. `setSysctl('net.ipv4.ip_forward', '1', {netns})`. /proc/sys/net shows
 * the network namespace of the thread that opens the file, so the file is opened (and written)
 * while the thread is inside `netns`.
 */
export function setSysctl(key: string, value: string | number, opts: NetnsOption = {}): void {
  const path = sysctlPath(key);
  maybeInNetns(opts.netns, () => writeFileSync(path, String(value)));
}

/** Reads a sysctl (trimmed), in `netns` when given. */
export function getSysctl(key: string, opts: NetnsOption = {}): string {
  const path = sysctlPath(key);
  return maybeInNetns(opts.netns, () => readFileSync(path, 'utf8').trim());
}
