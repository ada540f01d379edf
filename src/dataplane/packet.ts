/**
 * Frames for slow-path controllers: parse and build Ethernet, ARP, IPv4, IPv6, ICMP and
 * ICMPv6 (neighbour discovery, echo, errors) with correct checksums. Controllers use these to
 * answer what the data plane punts to them.
 */
import { formatIp, parseIp } from '../net/index.js';

/** EtherTypes. */
export const ETH_P = { IP: 0x0800, ARP: 0x0806, IPV6: 0x86dd, VLAN: 0x8100 } as const;

/** MAC text → 6 bytes. */
export function macToBytes(mac: string): Uint8Array {
  const parts = mac.split(':');
  if (parts.length !== 6) throw new Error(`invalid MAC ${JSON.stringify(mac)}`);
  return Uint8Array.from(parts, (h) => parseInt(h, 16));
}

/** 6 bytes → MAC text. */
export function bytesToMac(b: Uint8Array): string {
  return Array.from(b.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** IP text → bytes (4 or 16). */
export function ipBytes(ip: string): Uint8Array {
  return parseIp(ip).bytes;
}

/** Bytes (4 or 16) → IP text. */
export function ipText(b: Uint8Array): string {
  return formatIp(b);
}

/** The Internet checksum (RFC 1071) over `parts`, as a 16-bit value. */
export function inetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i + 1 < p.length; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
    if (p.length % 2) sum += p[p.length - 1]! << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** A parsed Ethernet frame. */
export interface EthFrame {
  dst: string;
  src: string;
  type: number;
  payload: Uint8Array;
}

/** Parses an Ethernet header (an in-band 802.1Q tag is skipped, its id returned as vlan). */
export function parseEth(f: Uint8Array): EthFrame & { vlan?: number } {
  if (f.length < 14) throw new Error('frame shorter than an Ethernet header');
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  let type = dv.getUint16(12);
  let off = 14;
  let vlan: number | undefined;
  if (type === ETH_P.VLAN && f.length >= 18) {
    vlan = dv.getUint16(14) & 0xfff;
    type = dv.getUint16(16);
    off = 18;
  }
  const out: EthFrame & { vlan?: number } = {
    dst: bytesToMac(f.subarray(0, 6)),
    src: bytesToMac(f.subarray(6, 12)),
    type,
    payload: f.subarray(off),
  };
  if (vlan !== undefined) out.vlan = vlan;
  return out;
}

/** Builds an Ethernet frame. */
export function buildEth(dst: string, src: string, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set(macToBytes(dst), 0);
  f.set(macToBytes(src), 6);
  new DataView(f.buffer).setUint16(12, type);
  f.set(payload, 14);
  return f;
}

/** An ARP packet (Ethernet/IPv4). */
export interface Arp {
  op: 1 | 2;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

/** Parses an ARP payload; undefined when it is not Ethernet/IPv4 ARP. */
export function parseArp(p: Uint8Array): Arp | undefined {
  if (p.length < 28) return undefined;
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (dv.getUint16(0) !== 1 || dv.getUint16(2) !== ETH_P.IP || p[4] !== 6 || p[5] !== 4)
    return undefined;
  const op = dv.getUint16(6);
  if (op !== 1 && op !== 2) return undefined;
  return {
    op,
    senderMac: bytesToMac(p.subarray(8, 14)),
    senderIp: ipText(p.subarray(14, 18)),
    targetMac: bytesToMac(p.subarray(18, 24)),
    targetIp: ipText(p.subarray(24, 28)),
  };
}

/** Builds an ARP payload. */
export function buildArp(a: Arp): Uint8Array {
  const p = new Uint8Array(28);
  const dv = new DataView(p.buffer);
  dv.setUint16(0, 1);
  dv.setUint16(2, ETH_P.IP);
  p[4] = 6;
  p[5] = 4;
  dv.setUint16(6, a.op);
  p.set(macToBytes(a.senderMac), 8);
  p.set(ipBytes(a.senderIp), 14);
  p.set(macToBytes(a.targetMac), 18);
  p.set(ipBytes(a.targetIp), 24);
  return p;
}

/** A parsed IPv4 header and its payload. */
export interface Ipv4 {
  ihl: number;
  ttl: number;
  protocol: number;
  src: string;
  dst: string;
  header: Uint8Array;
  payload: Uint8Array;
}

/** Parses an IPv4 packet. */
export function parseIpv4(p: Uint8Array): Ipv4 | undefined {
  if (p.length < 20 || p[0]! >> 4 !== 4) return undefined;
  const ihl = (p[0]! & 15) * 4;
  const total = Math.min((p[2]! << 8) | p[3]!, p.length);
  if (ihl < 20 || total < ihl) return undefined;
  return {
    ihl,
    ttl: p[8]!,
    protocol: p[9]!,
    src: ipText(p.subarray(12, 16)),
    dst: ipText(p.subarray(16, 20)),
    header: p.subarray(0, ihl),
    payload: p.subarray(ihl, total),
  };
}

/** Builds an IPv4 packet (20-byte header, DF clear) with a correct header checksum. */
export function buildIpv4(
  src: string,
  dst: string,
  protocol: number,
  payload: Uint8Array,
  ttl = 64,
): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  const dv = new DataView(p.buffer);
  p[0] = 0x45;
  dv.setUint16(2, p.length);
  dv.setUint16(4, Math.floor(Math.random() * 0xffff));
  p[8] = ttl;
  p[9] = protocol;
  p.set(ipBytes(src), 12);
  p.set(ipBytes(dst), 16);
  dv.setUint16(10, inetChecksum(p.subarray(0, 20)));
  p.set(payload, 20);
  return p;
}

/** Recomputes an IPv4 header's checksum in place (after changing the TTL, say). */
export function fixIpv4Checksum(header: Uint8Array): void {
  header[10] = 0;
  header[11] = 0;
  const c = inetChecksum(header);
  header[10] = c >> 8;
  header[11] = c & 0xff;
}

/** An ICMP (v4) message with its checksum. */
export function buildIcmp4(type: number, code: number, rest: Uint8Array): Uint8Array {
  const m = new Uint8Array(4 + rest.length);
  m[0] = type;
  m[1] = code;
  m.set(rest, 4);
  const c = inetChecksum(m);
  m[2] = c >> 8;
  m[3] = c & 0xff;
  return m;
}

/** A parsed IPv6 header and payload (no extension headers). */
export interface Ipv6 {
  nextHeader: number;
  hopLimit: number;
  src: string;
  dst: string;
  payload: Uint8Array;
}

/** Parses an IPv6 packet. */
export function parseIpv6(p: Uint8Array): Ipv6 | undefined {
  if (p.length < 40 || p[0]! >> 4 !== 6) return undefined;
  const len = (p[4]! << 8) | p[5]!;
  return {
    nextHeader: p[6]!,
    hopLimit: p[7]!,
    src: ipText(p.subarray(8, 24)),
    dst: ipText(p.subarray(24, 40)),
    payload: p.subarray(40, Math.min(40 + len, p.length)),
  };
}

/** Builds an IPv6 packet. */
export function buildIpv6(
  src: string,
  dst: string,
  nextHeader: number,
  payload: Uint8Array,
  hopLimit = 64,
): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  const dv = new DataView(p.buffer);
  p[0] = 0x60;
  dv.setUint16(4, payload.length);
  p[6] = nextHeader;
  p[7] = hopLimit;
  p.set(ipBytes(src), 8);
  p.set(ipBytes(dst), 24);
  p.set(payload, 40);
  return p;
}

/** An ICMPv6 message with its checksum over the IPv6 pseudo-header. */
export function buildIcmp6(
  src: string,
  dst: string,
  type: number,
  code: number,
  rest: Uint8Array,
): Uint8Array {
  const m = new Uint8Array(4 + rest.length);
  m[0] = type;
  m[1] = code;
  m.set(rest, 4);
  const pseudo = new Uint8Array(40);
  pseudo.set(ipBytes(src), 0);
  pseudo.set(ipBytes(dst), 16);
  new DataView(pseudo.buffer).setUint32(32, m.length);
  pseudo[39] = 58;
  const c = inetChecksum(pseudo, m);
  m[2] = c >> 8;
  m[3] = c & 0xff;
  return m;
}

/** The solicited-node multicast address of an IPv6 address, and its MAC. */
export function solicitedNode(ip: string): { ip: string; mac: string } {
  const b = ipBytes(ip);
  const s = ipBytes('ff02::1:ff00:0');
  s.set(b.subarray(13, 16), 13);
  const h = (n: number): string => n.toString(16).padStart(2, '0');
  return { ip: ipText(s), mac: `33:33:ff:${h(b[13]!)}:${h(b[14]!)}:${h(b[15]!)}` };
}

/** A neighbour-discovery message (NS 135 / NA 136) as the router needs it. */
export interface NdMessage {
  type: number;
  target: string;
  /** Source (NS) or target (NA) link-layer address option. */
  lladdr?: string;
  flags: number;
}

/** Parses NS/NA from an ICMPv6 message. */
export function parseNd(m: Uint8Array): NdMessage | undefined {
  if (m.length < 24 || (m[0] !== 135 && m[0] !== 136)) return undefined;
  const out: NdMessage = { type: m[0], target: ipText(m.subarray(8, 24)), flags: m[4]! };
  for (let off = 24; off + 8 <= m.length;) {
    const t = m[off]!;
    const len = m[off + 1]! * 8;
    if (len === 0) break;
    if ((t === 1 || t === 2) && len >= 8) out.lladdr = bytesToMac(m.subarray(off + 2, off + 8));
    off += len;
  }
  return out;
}

/** Builds the body (after type/code/checksum) of an NS or NA with a link-layer option. */
export function ndBody(type: 135 | 136, target: string, mac: string, flags = 0): Uint8Array {
  const b = new Uint8Array(4 + 16 + 8);
  b[0] = flags;
  b.set(ipBytes(target), 4);
  b[20] = type === 135 ? 1 : 2;
  b[21] = 1;
  b.set(macToBytes(mac), 22);
  return b;
}
