/**
 * Building test packets: Ethernet frames carrying IPv4/IPv6 with UDP, TCP or ICMP, with correct
 * lengths and checksums so that tshark dissects them without complaint. Used by packet tests and
 * by projects made with `iovisor init`.
 */

/** Addresses and ports of a packet; defaults come from the benchmarking ranges. */
export interface PacketFields {
  srcMac?: string;
  dstMac?: string;
  /** IPv4 dotted quad or IPv6 address. */
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  ttl?: number;
  payload?: Uint8Array | string;
}

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;

function mac(s: string): number[] {
  const parts = s.split(':').map((x) => parseInt(x, 16));
  if (parts.length !== 6 || parts.some((x) => !(x >= 0 && x <= 255)))
    throw new Error(`packet: bad MAC address "${s}"`);
  return parts;
}

function ipv4(s: string): number[] {
  const parts = s.split('.').map(Number);
  if (parts.length !== 4 || parts.some((x) => !Number.isInteger(x) || x < 0 || x > 255))
    throw new Error(`packet: bad IPv4 address "${s}"`);
  return parts;
}

function ipv6(s: string): number[] {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const groups = [...h, ...Array<string>(fill).fill('0'), ...t].map((g) => parseInt(g, 16));
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff)))
    throw new Error(`packet: bad IPv6 address "${s}"`);
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

function bytes(p: Uint8Array | string | undefined): Uint8Array {
  if (p === undefined) return new Uint8Array(0);
  return typeof p === 'string' ? new TextEncoder().encode(p) : p;
}

/** The Internet checksum (RFC 1071) over several byte arrays. */
export function inetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  let odd: number | undefined;
  for (const p of parts) {
    for (const b of p) {
      if (odd === undefined) odd = b;
      else {
        sum += (odd << 8) | b;
        odd = undefined;
      }
    }
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ether(f: PacketFields, type: number, l3: Uint8Array): Uint8Array {
  const out = new Uint8Array(14 + l3.byteLength);
  out.set(mac(f.dstMac ?? '02:00:00:00:00:02'), 0);
  out.set(mac(f.srcMac ?? '02:00:00:00:00:01'), 6);
  out[12] = type >> 8;
  out[13] = type & 0xff;
  out.set(l3, 14);
  return out;
}

function ip(f: PacketFields, proto: number, l4: (pseudo: Uint8Array) => Uint8Array): Uint8Array {
  const src = f.src ?? '198.18.0.1';
  const dst = f.dst ?? '198.18.0.2';
  if (src.includes(':') || dst.includes(':')) {
    const s = ipv6(src.includes(':') ? src : '2001:db8::1');
    const d = ipv6(dst.includes(':') ? dst : '2001:db8::2');
    const probe = l4(new Uint8Array(0));
    const pseudo = new Uint8Array(40);
    pseudo.set(s, 0);
    pseudo.set(d, 16);
    new DataView(pseudo.buffer).setUint32(32, probe.byteLength);
    pseudo[39] = proto;
    const payload = l4(pseudo);
    const h = new Uint8Array(40 + payload.byteLength);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, 0x60000000);
    dv.setUint16(4, payload.byteLength);
    h[6] = proto;
    h[7] = f.ttl ?? 64;
    h.set(s, 8);
    h.set(d, 24);
    h.set(payload, 40);
    return ether(f, ETH_P_IPV6, h);
  }
  const s = ipv4(src);
  const d = ipv4(dst);
  const probe = l4(new Uint8Array(0));
  const pseudo = Uint8Array.of(
    ...s,
    ...d,
    0,
    proto,
    probe.byteLength >> 8,
    probe.byteLength & 0xff,
  );
  const payload = l4(pseudo);
  const h = new Uint8Array(20 + payload.byteLength);
  const dv = new DataView(h.buffer);
  h[0] = 0x45;
  dv.setUint16(2, h.byteLength);
  dv.setUint16(6, 0x4000); // don't fragment
  h[8] = f.ttl ?? 64;
  h[9] = proto;
  h.set(s, 12);
  h.set(d, 16);
  dv.setUint16(10, inetChecksum(h.subarray(0, 20)));
  h.set(payload, 20);
  return ether(f, ETH_P_IP, h);
}

/** An Ethernet + IPv4/IPv6 + UDP packet. */
export function udpPacket(f: PacketFields = {}): Uint8Array {
  const data = bytes(f.payload);
  return ip(f, 17, (pseudo) => {
    const u = new Uint8Array(8 + data.byteLength);
    const dv = new DataView(u.buffer);
    dv.setUint16(0, f.sport ?? 40000);
    dv.setUint16(2, f.dport ?? 7);
    dv.setUint16(4, u.byteLength);
    u.set(data, 8);
    if (pseudo.byteLength > 0) dv.setUint16(6, inetChecksum(pseudo, u) || 0xffff);
    return u;
  });
}

/** An Ethernet + IPv4/IPv6 + TCP packet (flags default to SYN). */
export function tcpPacket(f: PacketFields & { flags?: number; seq?: number } = {}): Uint8Array {
  const data = bytes(f.payload);
  return ip(f, 6, (pseudo) => {
    const t = new Uint8Array(20 + data.byteLength);
    const dv = new DataView(t.buffer);
    dv.setUint16(0, f.sport ?? 40000);
    dv.setUint16(2, f.dport ?? 80);
    dv.setUint32(4, f.seq ?? 1);
    t[12] = 5 << 4;
    t[13] = f.flags ?? 0x02;
    dv.setUint16(14, 65535);
    t.set(data, 20);
    if (pseudo.byteLength > 0) dv.setUint16(16, inetChecksum(pseudo, t));
    return t;
  });
}

/** An Ethernet + IPv4 ICMP echo request (or ICMPv6 echo request for IPv6 addresses). */
export function icmpEchoPacket(f: PacketFields & { id?: number; seq?: number } = {}): Uint8Array {
  const data = bytes(f.payload ?? 'ping');
  const v6 = (f.src ?? '').includes(':') || (f.dst ?? '').includes(':');
  return ip(f, v6 ? 58 : 1, (pseudo) => {
    const m = new Uint8Array(8 + data.byteLength);
    const dv = new DataView(m.buffer);
    m[0] = v6 ? 128 : 8;
    dv.setUint16(4, f.id ?? 1);
    dv.setUint16(6, f.seq ?? 1);
    m.set(data, 8);
    if (!v6) dv.setUint16(2, inetChecksum(m));
    else if (pseudo.byteLength > 0) dv.setUint16(2, inetChecksum(pseudo, m));
    return m;
  });
}
