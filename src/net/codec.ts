/**
 * The netlink wire format: `struct nlmsghdr` framing and `struct rtattr` TLVs, both aligned to
 * four bytes, host byte order (little-endian on every machine iovisor runs on). Pure code: no
 * kernel access, so it is tested byte for byte without root.
 */

/** Size of `struct nlmsghdr`. */
export const NLMSG_HDRLEN = 16;
/** Size of `struct rtattr` / `struct nlattr` header. */
export const RTA_HDRLEN = 4;

/** Control message types (include/uapi/linux/netlink.h). */
export const NLMSG_NOOP = 1;
/** An error or, with error 0, an acknowledgement. */
export const NLMSG_ERROR = 2;
/** End of a multi-part dump. */
export const NLMSG_DONE = 3;
/** Data lost: the dump overran the socket buffer. */
export const NLMSG_OVERRUN = 4;

/** nlmsg_flags bits. */
export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  ECHO: 0x8,
  DUMP_INTR: 0x10,
  DUMP_FILTERED: 0x20,
  ROOT: 0x100,
  MATCH: 0x200,
  ATOMIC: 0x400,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
  /** On an ack: the echoed request was cut to its header (NETLINK_CAP_ACK). */
  CAPPED: 0x100,
  /** On an ack: extended-ack TLVs follow. */
  ACK_TLVS: 0x200,
} as const;

/** Marks an attribute whose payload is itself a list of attributes. */
export const NLA_F_NESTED = 0x8000;
/** Marks an attribute whose payload is in network byte order. */
export const NLA_F_NET_BYTEORDER = 0x4000;
/** Bits of rta_type that are the type proper. */
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

/** Extended ack attribute types (enum nlmsgerr_attrs). */
export const NLMSGERR_ATTR_MSG = 1;
/** Offset of the offending attribute in the request. */
export const NLMSGERR_ATTR_OFFS = 2;

/** Rounds `n` up to the netlink alignment of four bytes. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** A malformed netlink message: what was wrong and where. */
export class NetlinkParseError extends Error {
  constructor(message: string) {
    super(`netlink parse: ${message}`);
    this.name = 'NetlinkParseError';
  }
}

/** One attribute to encode: a type and either raw bytes or nested attributes. */
export interface Attr {
  type: number;
  /** Raw payload bytes, or children for a nested attribute. */
  value: Uint8Array | Attr[];
  /** Sets NLA_F_NESTED on the type; newer kernels insist on it for some families. */
  nestedFlag?: boolean;
}

/** A decoded attribute: `type` has the flag bits masked off, `data` is a view of the payload. */
export interface RawAttr {
  type: number;
  /** True when the sender set NLA_F_NESTED. */
  nested: boolean;
  data: Uint8Array;
}

/** One netlink message: header fields plus its payload (family header and attributes). */
export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Uint8Array;
}

const te = new TextEncoder();
const td = new TextDecoder();

/** Attribute payload helpers, so call sites read like the iproute2 source. */
export const attr = {
  u8(type: number, v: number): Attr {
    return { type, value: Uint8Array.of(v & 0xff) };
  },
  u16(type: number, v: number): Attr {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, true);
    return { type, value: b };
  },
  u32(type: number, v: number): Attr {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return { type, value: b };
  },
  s32(type: number, v: number): Attr {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    return { type, value: b };
  },
  /** A NUL-terminated string, as the kernel's NLA_STRING/NLA_NUL_STRING policies accept. */
  str(type: number, s: string): Attr {
    const enc = te.encode(s);
    const b = new Uint8Array(enc.length + 1);
    b.set(enc);
    return { type, value: b };
  },
  bytes(type: number, b: Uint8Array): Attr {
    return { type, value: b };
  },
  nested(type: number, children: Attr[], nestedFlag = false): Attr {
    return { type, value: children, nestedFlag };
  },
};

/** The encoded size of one attribute including its header, before trailing padding. */
function attrLen(a: Attr): number {
  if (a.value instanceof Uint8Array) return RTA_HDRLEN + a.value.byteLength;
  return RTA_HDRLEN + attrsLen(a.value);
}

/** The encoded size of a list of attributes, each padded to four bytes. */
export function attrsLen(attrs: Attr[]): number {
  let n = 0;
  for (const a of attrs) n += align4(attrLen(a));
  return n;
}

function writeAttrs(out: Uint8Array, dv: DataView, off: number, attrs: Attr[]): number {
  for (const a of attrs) {
    const len = attrLen(a);
    if (len > 0xffff) throw new RangeError(`netlink encode: attribute ${a.type} too long (${len})`);
    dv.setUint16(off, len, true);
    dv.setUint16(off + 2, a.type | (a.nestedFlag ? NLA_F_NESTED : 0), true);
    if (a.value instanceof Uint8Array) out.set(a.value, off + RTA_HDRLEN);
    else writeAttrs(out, dv, off + RTA_HDRLEN, a.value);
    off += align4(len);
  }
  return off;
}

/** Encodes attributes alone (padding included), e.g. to compare against captured bytes. */
export function encodeAttrs(attrs: Attr[]): Uint8Array {
  const out = new Uint8Array(attrsLen(attrs));
  writeAttrs(out, new DataView(out.buffer), 0, attrs);
  return out;
}

/** Encodes one request: header, fixed family header (padded to four), then attributes. */
export function encodeMessage(
  type: number,
  flags: number,
  seq: number,
  family: Uint8Array,
  attrs: Attr[] = [],
  pid = 0,
): Uint8Array {
  const len = NLMSG_HDRLEN + align4(family.byteLength) + attrsLen(attrs);
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, len, true);
  dv.setUint16(4, type, true);
  dv.setUint16(6, flags, true);
  dv.setUint32(8, seq >>> 0, true);
  dv.setUint32(12, pid >>> 0, true);
  out.set(family, NLMSG_HDRLEN);
  writeAttrs(out, dv, NLMSG_HDRLEN + align4(family.byteLength), attrs);
  return out;
}

/**
 * Splits a datagram into messages. A length that is too small or runs past the end is an error
 * rather than a loop: every step advances by at least a header.
 */
export function decodeMessages(buf: Uint8Array): NlMsg[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: NlMsg[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.byteLength) {
    const len = dv.getUint32(off, true);
    if (len < NLMSG_HDRLEN) {
      throw new NetlinkParseError(`message at offset ${off}: length ${len} below header size`);
    }
    if (off + len > buf.byteLength) {
      throw new NetlinkParseError(
        `message at offset ${off}: length ${len} runs past the end of ${buf.byteLength} bytes`,
      );
    }
    out.push({
      type: dv.getUint16(off + 4, true),
      flags: dv.getUint16(off + 6, true),
      seq: dv.getUint32(off + 8, true),
      pid: dv.getUint32(off + 12, true),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  if (off < buf.byteLength) {
    throw new NetlinkParseError(`${buf.byteLength - off} trailing bytes after the last message`);
  }
  return out;
}

/** Decodes a run of attributes; throws on a bad length instead of guessing. */
export function decodeAttrs(buf: Uint8Array): RawAttr[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: RawAttr[] = [];
  let off = 0;
  while (off + RTA_HDRLEN <= buf.byteLength) {
    const len = dv.getUint16(off, true);
    const rawType = dv.getUint16(off + 2, true);
    if (len < RTA_HDRLEN) {
      throw new NetlinkParseError(`attribute at offset ${off}: length ${len} below header size`);
    }
    if (off + len > buf.byteLength) {
      throw new NetlinkParseError(
        `attribute ${rawType & NLA_TYPE_MASK} at offset ${off}: length ${len} runs past the end of ${buf.byteLength} bytes`,
      );
    }
    out.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      data: buf.subarray(off + RTA_HDRLEN, off + len),
    });
    off += align4(len);
  }
  // Fewer than four bytes left is legal only as the final padding, which is always zero-sized
  // once aligned; anything else means the lengths did not add up.
  if (off < buf.byteLength) {
    throw new NetlinkParseError(`${buf.byteLength - off} stray bytes after the last attribute`);
  }
  return out;
}

/** Attributes keyed by type (last one wins, as in the kernel's nla_parse), with typed readers. */
export class AttrMap {
  readonly byType = new Map<number, RawAttr>();
  constructor(readonly list: RawAttr[]) {
    for (const a of list) this.byType.set(a.type, a);
  }
  /** Decodes `buf` as attributes. */
  static parse(buf: Uint8Array): AttrMap {
    return new AttrMap(decodeAttrs(buf));
  }
  has(type: number): boolean {
    return this.byType.has(type);
  }
  bytes(type: number): Uint8Array | undefined {
    return this.byType.get(type)?.data;
  }
  private view(type: number, size: number): DataView | undefined {
    const d = this.bytes(type);
    if (d === undefined) return undefined;
    if (d.byteLength < size) {
      throw new NetlinkParseError(`attribute ${type}: ${d.byteLength} bytes, expected ${size}`);
    }
    return new DataView(d.buffer, d.byteOffset, d.byteLength);
  }
  u8(type: number): number | undefined {
    return this.view(type, 1)?.getUint8(0);
  }
  u16(type: number): number | undefined {
    return this.view(type, 2)?.getUint16(0, true);
  }
  u32(type: number): number | undefined {
    return this.view(type, 4)?.getUint32(0, true);
  }
  s32(type: number): number | undefined {
    return this.view(type, 4)?.getInt32(0, true);
  }
  /** A string attribute without its trailing NUL. */
  str(type: number): string | undefined {
    const d = this.bytes(type);
    if (d === undefined) return undefined;
    const nul = d.indexOf(0);
    return td.decode(nul < 0 ? d : d.subarray(0, nul));
  }
  /** The children of a nested attribute. */
  nested(type: number): AttrMap | undefined {
    const d = this.bytes(type);
    return d === undefined ? undefined : AttrMap.parse(d);
  }
}

/** The parts of an NLMSG_ERROR payload: errno (positive), and the extended-ack text if any. */
export interface NlError {
  /** Positive errno, 0 for a plain acknowledgement. */
  errno: number;
  /** Sequence number of the request this answers (from the echoed header). */
  seq: number;
  /** NLMSGERR_ATTR_MSG: the kernel's words about what was wrong. */
  message?: string;
  /** NLMSGERR_ATTR_OFFS: byte offset of the offending attribute in the request. */
  offset?: number;
}

/**
 * Decodes `struct nlmsgerr` (int error; struct nlmsghdr msg; [payload]; [TLVs]). The echoed
 * request is full length unless NLM_F_CAPPED says only its header came back.
 */
export function decodeError(msg: NlMsg): NlError {
  const p = msg.payload;
  if (p.byteLength < 4 + NLMSG_HDRLEN) {
    throw new NetlinkParseError(`NLMSG_ERROR payload of ${p.byteLength} bytes is too short`);
  }
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  // `| 0` turns the -0 of a plain ack into 0.
  const err: NlError = { errno: -dv.getInt32(0, true) | 0, seq: dv.getUint32(4 + 8, true) };
  if ((msg.flags & NLM_F.ACK_TLVS) === 0) return err;
  let tlvOff = 4 + NLMSG_HDRLEN;
  if ((msg.flags & NLM_F.CAPPED) === 0) {
    // The whole request was echoed; its length is in the echoed header.
    tlvOff = 4 + align4(dv.getUint32(4, true));
  }
  if (tlvOff > p.byteLength) {
    throw new NetlinkParseError(`NLMSG_ERROR extended ack starts past the end of the payload`);
  }
  const tlvs = AttrMap.parse(p.subarray(tlvOff));
  const text = tlvs.str(NLMSGERR_ATTR_MSG);
  if (text !== undefined && text !== '') err.message = text;
  const offs = tlvs.u32(NLMSGERR_ATTR_OFFS);
  if (offs !== undefined) err.offset = offs;
  return err;
}

/** Reads a little-endian fixed header of `size` bytes from a payload, checking its length. */
export function fixedHeader(payload: Uint8Array, size: number, what: string): DataView {
  if (payload.byteLength < size) {
    throw new NetlinkParseError(`${what}: ${payload.byteLength} bytes, expected at least ${size}`);
  }
  return new DataView(payload.buffer, payload.byteOffset, size);
}

/** The attributes after a family header of `size` bytes (padded to four). */
export function attrsAfter(payload: Uint8Array, size: number): AttrMap {
  return AttrMap.parse(payload.subarray(Math.min(align4(size), payload.byteLength)));
}
