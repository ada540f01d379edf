/**
 * Packet capture files in TypeScript: classic pcap (libpcap 2.4, either byte order, micro- or
 * nanosecond timestamps) and pcapng (SHB/IDB/EPB/SPB, several interfaces and sections), read and
 * written without native code so packet tests need nothing but Node. Written files are what
 * tshark and Wireshark expect: pcap with microsecond timestamps, pcapng little-endian with one
 * interface per link type and optional per-packet comments.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** LINKTYPE_ETHERNET: the only link type XDP and TC programs see. */
export const LINKTYPE_ETHERNET = 1;
/** LINKTYPE_RAW: bare IPv4/IPv6 packets. */
export const LINKTYPE_RAW = 101;

/** One captured packet. */
export interface Packet {
  /** The captured bytes. */
  data: Uint8Array;
  /** Capture time in nanoseconds since the epoch (0 when unknown). */
  timestampNs: bigint;
  /** Length on the wire (default: data length); larger than data when the capture was cut. */
  origLen?: number;
  /** The link type of the packet's interface (default ethernet). */
  linkType?: number;
  /** A per-packet comment (pcapng only: opt_comment). */
  comment?: string;
}

/** A whole capture file. */
export interface Capture {
  format: 'pcap' | 'pcapng';
  packets: Packet[];
}

/** A malformed capture file; the message says where. */
export class PcapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PcapError';
  }
}

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const NG_SHB = 0x0a0d0d0a;
const NG_IDB = 0x00000001;
const NG_SPB = 0x00000003;
const NG_EPB = 0x00000006;
const NG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const MAX_PACKET = 256 * 1024 * 1024;

/** Parses pcap or pcapng bytes, told apart by their magic number. */
export function parseCapture(bytes: Uint8Array, where = 'capture'): Capture {
  if (bytes.byteLength < 4) throw new PcapError(`${where}: ${bytes.byteLength} bytes: too short`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const m = dv.getUint32(0, true);
  if (m === NG_SHB) return { format: 'pcapng', packets: parsePcapng(bytes, where) };
  return { format: 'pcap', packets: parsePcap(bytes, where) };
}

/** Reads a pcap or pcapng file. */
export function readCapture(file: string): Capture {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new PcapError(`read ${file}: ${(err as Error).message}`);
  }
  return parseCapture(bytes, file);
}

/** Parses classic pcap. */
export function parsePcap(bytes: Uint8Array, where = 'pcap'): Packet[] {
  if (bytes.byteLength < 24)
    throw new PcapError(`${where}: ${bytes.byteLength} bytes: too short for a pcap header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le: boolean;
  let nanos: boolean;
  const mLE = dv.getUint32(0, true);
  const mBE = dv.getUint32(0, false);
  if (mLE === PCAP_MAGIC_US || mLE === PCAP_MAGIC_NS) {
    le = true;
    nanos = mLE === PCAP_MAGIC_NS;
  } else if (mBE === PCAP_MAGIC_US || mBE === PCAP_MAGIC_NS) {
    le = false;
    nanos = mBE === PCAP_MAGIC_NS;
  } else {
    throw new PcapError(
      `${where}: offset 0: bad magic 0x${mLE.toString(16)}: not a pcap or pcapng file`,
    );
  }
  const major = dv.getUint16(4, le);
  if (major !== 2) throw new PcapError(`${where}: offset 4: unsupported pcap version ${major}`);
  const linkType = dv.getUint32(20, le) & 0x0fffffff;
  const out: Packet[] = [];
  let off = 24;
  while (off < bytes.byteLength) {
    if (off + 16 > bytes.byteLength)
      throw new PcapError(`${where}: offset ${off}: truncated record header`);
    const sec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const incl = dv.getUint32(off + 8, le);
    const orig = dv.getUint32(off + 12, le);
    if (incl > MAX_PACKET)
      throw new PcapError(`${where}: offset ${off}: record length ${incl} is implausible`);
    if (off + 16 + incl > bytes.byteLength)
      throw new PcapError(
        `${where}: offset ${off}: record of ${incl} bytes runs past the end of the file`,
      );
    out.push({
      data: copy(bytes, off + 16, off + 16 + incl),
      timestampNs: BigInt(sec) * 1_000_000_000n + BigInt(frac) * (nanos ? 1n : 1000n),
      origLen: orig,
      linkType,
    });
    off += 16 + incl;
  }
  return out;
}

/** Parses pcapng: every section, interface and packet block; other blocks are skipped. */
export function parsePcapng(bytes: Uint8Array, where = 'pcapng'): Packet[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Packet[] = [];
  let le = true;
  let ifaces: { linkType: number; tsUnitsPerSec: bigint }[] = [];
  let off = 0;
  while (off < bytes.byteLength) {
    if (off + 12 > bytes.byteLength)
      throw new PcapError(`${where}: offset ${off}: truncated block`);
    const type = dv.getUint32(off, true);
    if (type === NG_SHB) {
      const bom = dv.getUint32(off + 8, true);
      if (bom === NG_BYTE_ORDER_MAGIC) le = true;
      else if (dv.getUint32(off + 8, false) === NG_BYTE_ORDER_MAGIC) le = false;
      else throw new PcapError(`${where}: offset ${off}: bad byte-order magic`);
      ifaces = [];
    }
    const btype = dv.getUint32(off, le);
    const len = dv.getUint32(off + 4, le);
    if (len < 12 || len % 4 !== 0 || off + len > bytes.byteLength)
      throw new PcapError(`${where}: offset ${off}: bad block length ${len}`);
    if (dv.getUint32(off + len - 4, le) !== len)
      throw new PcapError(`${where}: offset ${off}: trailing block length differs from ${len}`);
    const body = off + 8;
    const bodyEnd = off + len - 4;
    if (btype === NG_IDB) {
      const linkType = dv.getUint16(body, le);
      let tsUnitsPerSec = 1_000_000n;
      for (const o of options(dv, body + 8, bodyEnd, le)) {
        if (o.code === 9 && o.len >= 1) {
          const v = dv.getUint8(o.off);
          tsUnitsPerSec = v & 0x80 ? 2n ** BigInt(v & 0x7f) : 10n ** BigInt(v);
        }
      }
      ifaces.push({ linkType, tsUnitsPerSec });
    } else if (btype === NG_EPB) {
      const ifId = dv.getUint32(body, le);
      const iface = ifaces[ifId];
      if (!iface)
        throw new PcapError(`${where}: offset ${off}: packet on undeclared interface ${ifId}`);
      const ts = (BigInt(dv.getUint32(body + 4, le)) << 32n) | BigInt(dv.getUint32(body + 8, le));
      const capLen = dv.getUint32(body + 12, le);
      const origLen = dv.getUint32(body + 16, le);
      const dataOff = body + 20;
      if (dataOff + capLen > bodyEnd)
        throw new PcapError(
          `${where}: offset ${off}: packet of ${capLen} bytes overruns its block`,
        );
      const p: Packet = {
        data: copy(bytes, dataOff, dataOff + capLen),
        timestampNs: (ts * 1_000_000_000n) / iface.tsUnitsPerSec,
        origLen,
        linkType: iface.linkType,
      };
      for (const o of options(dv, dataOff + pad4(capLen), bodyEnd, le)) {
        if (o.code === 1)
          p.comment = new TextDecoder().decode(bytes.subarray(o.off, o.off + o.len));
      }
      out.push(p);
    } else if (btype === NG_SPB) {
      const iface = ifaces[0];
      if (!iface) throw new PcapError(`${where}: offset ${off}: simple packet without interface`);
      const origLen = dv.getUint32(body, le);
      const capLen = Math.min(origLen, bodyEnd - body - 4);
      out.push({
        data: copy(bytes, body + 4, body + 4 + capLen),
        timestampNs: 0n,
        origLen,
        linkType: iface.linkType,
      });
    }
    off += len;
  }
  return out;
}

/** A plain Uint8Array copy (Buffer's slice would share memory and stay a Buffer). */
function copy(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(bytes.subarray(start, end));
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function* options(
  dv: DataView,
  start: number,
  end: number,
  le: boolean,
): Generator<{ code: number; len: number; off: number }> {
  let o = start;
  while (o + 4 <= end) {
    const code = dv.getUint16(o, le);
    const len = dv.getUint16(o + 2, le);
    if (code === 0) return;
    if (o + 4 + len > end) return;
    yield { code, len, off: o + 4 };
    o += 4 + pad4(len);
  }
}

/** Encodes packets as classic pcap (little-endian, microseconds, one link type). */
export function encodePcap(packets: readonly Packet[], linkType = LINKTYPE_ETHERNET): Uint8Array {
  const total = 24 + packets.reduce((n, p) => n + 16 + p.data.byteLength, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, PCAP_MAGIC_US, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, 262144, true);
  dv.setUint32(20, linkType, true);
  let off = 24;
  for (const p of packets) {
    if ((p.linkType ?? linkType) !== linkType)
      throw new PcapError(
        `pcap: packet of link type ${p.linkType} in a file of link type ${linkType}: use pcapng`,
      );
    const us = p.timestampNs / 1000n;
    dv.setUint32(off, Number(us / 1_000_000n), true);
    dv.setUint32(off + 4, Number(us % 1_000_000n), true);
    dv.setUint32(off + 8, p.data.byteLength, true);
    dv.setUint32(off + 12, Math.max(p.origLen ?? 0, p.data.byteLength), true);
    out.set(p.data, off + 16);
    off += 16 + p.data.byteLength;
  }
  return out;
}

/** Encodes packets as pcapng: one section, one interface per link type, nanosecond timestamps. */
export function encodePcapng(
  packets: readonly Packet[],
  opts: { application?: string } = {},
): Uint8Array {
  const te = new TextEncoder();
  const blocks: Uint8Array[] = [];
  const block = (type: number, body: Uint8Array): void => {
    const len = 12 + body.byteLength;
    const b = new Uint8Array(len);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, type, true);
    dv.setUint32(4, len, true);
    b.set(body, 8);
    dv.setUint32(len - 4, len, true);
    blocks.push(b);
  };
  const option = (code: number, value: Uint8Array): Uint8Array => {
    const b = new Uint8Array(4 + pad4(value.byteLength));
    const dv = new DataView(b.buffer);
    dv.setUint16(0, code, true);
    dv.setUint16(2, value.byteLength, true);
    b.set(value, 4);
    return b;
  };
  const concat = (parts: Uint8Array[]): Uint8Array => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.byteLength;
    }
    return out;
  };
  const endOpt = new Uint8Array(4);

  // Section header: byte-order magic, version 1.0, unknown section length, shb_userappl.
  const shb = new Uint8Array(16);
  const sdv = new DataView(shb.buffer);
  sdv.setUint32(0, NG_BYTE_ORDER_MAGIC, true);
  sdv.setUint16(4, 1, true);
  sdv.setUint16(6, 0, true);
  sdv.setBigInt64(8, -1n, true);
  block(NG_SHB, concat([shb, option(4, te.encode(opts.application ?? 'iovisor')), endOpt]));

  const ifaceOf = new Map<number, number>();
  const idb = (linkType: number): number => {
    let id = ifaceOf.get(linkType);
    if (id !== undefined) return id;
    id = ifaceOf.size;
    ifaceOf.set(linkType, id);
    const h = new Uint8Array(8);
    const dv = new DataView(h.buffer);
    dv.setUint16(0, linkType, true);
    dv.setUint32(4, 262144, true);
    block(NG_IDB, concat([h, option(9, Uint8Array.of(9)), endOpt]));
    return id;
  };
  for (const p of packets) {
    const id = idb(p.linkType ?? LINKTYPE_ETHERNET);
    const h = new Uint8Array(20);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, id, true);
    dv.setUint32(4, Number((p.timestampNs >> 32n) & 0xffffffffn), true);
    dv.setUint32(8, Number(p.timestampNs & 0xffffffffn), true);
    dv.setUint32(12, p.data.byteLength, true);
    dv.setUint32(16, Math.max(p.origLen ?? 0, p.data.byteLength), true);
    const data = new Uint8Array(pad4(p.data.byteLength));
    data.set(p.data);
    const parts: Uint8Array[] = [h, data];
    if (p.comment !== undefined) parts.push(option(1, te.encode(p.comment)), endOpt);
    block(NG_EPB, concat(parts));
  }
  return concat(blocks);
}

/**
 * Writes packets to `file`: pcapng when the name ends in `.pcapng` (or `format` says so), else
 * classic pcap.
 */
export function writeCapture(
  file: string,
  packets: readonly Packet[],
  format?: 'pcap' | 'pcapng',
): void {
  const f = format ?? (file.endsWith('.pcapng') ? 'pcapng' : 'pcap');
  const linkType = packets[0]?.linkType ?? LINKTYPE_ETHERNET;
  writeFileSync(file, f === 'pcapng' ? encodePcapng(packets) : encodePcap(packets, linkType));
}
