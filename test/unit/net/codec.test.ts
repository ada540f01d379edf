import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AttrMap,
  NLA_F_NESTED,
  NLM_F,
  NLMSG_ERROR,
  NetlinkParseError,
  align4,
  attr,
  decodeAttrs,
  decodeError,
  decodeMessages,
  encodeAttrs,
  encodeMessage,
} from '../../../src/net/codec.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

describe('netlink codec', () => {
  it('aligns to four bytes', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 8].map(align4), [0, 4, 4, 4, 4, 8, 8]);
  });

  it('encodes a string attribute with NUL and padding', () => {
    // IFLA_IFNAME "eth0": len 9 (4 + "eth0\0"), type 3, padded to 12.
    assert.equal(hex(encodeAttrs([attr.str(3, 'eth0')])), '090003006574683000000000');
  });

  it('encodes integers little-endian', () => {
    assert.equal(hex(encodeAttrs([attr.u32(4, 1500)])), '08000400dc050000');
    assert.equal(hex(encodeAttrs([attr.s32(1, -1)])), '08000100ffffffff');
    assert.equal(hex(encodeAttrs([attr.u16(2, 0x1234)])), '060002003412' + '0000');
    assert.equal(hex(encodeAttrs([attr.u8(2, 7)])), '0500020007000000');
  });

  it('encodes nested attributes with the nested flag when asked', () => {
    // IFLA_XDP { IFLA_XDP_FD = 5, IFLA_XDP_FLAGS = 2 } with NLA_F_NESTED.
    const b = encodeAttrs([attr.nested(43, [attr.s32(1, 5), attr.u32(3, 2)], true)]);
    assert.equal(hex(b), '1400 2b80 0800 0100 05000000 0800 0300 02000000'.replace(/\s/g, ''));
    const [outer] = decodeAttrs(b);
    assert.equal(outer!.type, 43);
    assert.equal(outer!.nested, true);
    const inner = AttrMap.parse(outer!.data);
    assert.equal(inner.s32(1), 5);
    assert.equal(inner.u32(3), 2);
  });

  it('pads an odd nested child inside the parent length', () => {
    // LINKINFO { KIND "veth" }: child len 9 → 12 on the wire, parent len 16.
    const b = encodeAttrs([attr.nested(18, [attr.str(1, 'veth')])]);
    assert.equal(hex(b), '10001200' + '090001007665746800000000');
    assert.equal(AttrMap.parse(b).nested(18)!.str(1), 'veth');
  });

  it('encodes a whole message: header, padded family header, attributes', () => {
    const family = Uint8Array.of(0, 0, 0, 0, 2, 0, 0, 0); // 8 bytes
    const m = encodeMessage(18, NLM_F.REQUEST | NLM_F.ACK, 0x01020304, family, [attr.str(3, 'lo')]);
    assert.equal(
      hex(m),
      '20000000' +
        '1200' +
        '0500' +
        '04030201' +
        '00000000' +
        '0000000002000000' +
        '070003006c6f0000',
    );
    const [d] = decodeMessages(m);
    assert.equal(d!.type, 18);
    assert.equal(d!.flags, NLM_F.REQUEST | NLM_F.ACK);
    assert.equal(d!.seq, 0x01020304);
    assert.equal(d!.payload.byteLength, 16);
    assert.equal(AttrMap.parse(d!.payload.subarray(8)).str(3), 'lo');
  });

  it('pads an unaligned family header before attributes', () => {
    const m = encodeMessage(1, 0, 0, Uint8Array.of(9), [attr.u32(1, 1)]);
    assert.equal(m.byteLength, 16 + 4 + 8);
    assert.equal(hex(m.subarray(16, 20)), '09000000');
  });

  it('splits several messages in one datagram', () => {
    const a = encodeMessage(16, NLM_F.MULTI, 1, new Uint8Array(4));
    const b = encodeMessage(3, NLM_F.MULTI, 1, new Uint8Array(4));
    const all = new Uint8Array(a.byteLength + b.byteLength);
    all.set(a);
    all.set(b, a.byteLength);
    assert.deepEqual(
      decodeMessages(all).map((m) => m.type),
      [16, 3],
    );
  });

  it('masks flag bits off attribute types and keeps the last duplicate', () => {
    const b = bytes('08000180 01000000 08000100 02000000');
    const m = AttrMap.parse(b);
    assert.equal(m.list[0]!.type, 1);
    assert.equal(m.list[0]!.nested, true);
    assert.equal(m.u32(1), 2);
  });

  it('rejects a message length below the header size', () => {
    const b = new Uint8Array(16);
    new DataView(b.buffer).setUint32(0, 8, true);
    assert.throws(() => decodeMessages(b), NetlinkParseError);
  });

  it('rejects a zero message length instead of looping', () => {
    assert.throws(() => decodeMessages(new Uint8Array(32)), /below header size/);
  });

  it('rejects a message running past the buffer', () => {
    const m = encodeMessage(16, 0, 1, new Uint8Array(16));
    assert.throws(() => decodeMessages(m.subarray(0, 20)), /runs past the end/);
  });

  it('rejects trailing junk after the last message', () => {
    const m = encodeMessage(16, 0, 1, new Uint8Array(4));
    const junk = new Uint8Array(m.byteLength + 3);
    junk.set(m);
    assert.throws(() => decodeMessages(junk), /trailing bytes/);
  });

  it('rejects attribute lengths that are too small, too large or leave stray bytes', () => {
    assert.throws(() => decodeAttrs(bytes('00000100')), /below header size/);
    assert.throws(() => decodeAttrs(bytes('02000100')), /below header size/);
    assert.throws(() => decodeAttrs(bytes('10000100 00000000')), /runs past the end/);
    assert.throws(() => decodeAttrs(bytes('04000100 0000')), /stray bytes/);
    assert.deepEqual(decodeAttrs(new Uint8Array(0)), []);
  });

  it('rejects a too-short fixed-size attribute', () => {
    const m = AttrMap.parse(encodeAttrs([attr.u16(1, 5)]));
    assert.throws(() => m.u32(1), /expected 4/);
    assert.equal(m.u32(2), undefined);
  });

  it('decodes a capped NLMSG_ERROR with extended ack text and offset', () => {
    const req = encodeMessage(16, 5, 42, new Uint8Array(16)).subarray(0, 16);
    const tlvs = encodeAttrs([attr.str(1, 'MTU too large'), attr.u32(2, 36)]);
    const payload = new Uint8Array(4 + 16 + tlvs.byteLength);
    new DataView(payload.buffer).setInt32(0, -22, true);
    payload.set(req, 4);
    payload.set(tlvs, 20);
    const e = decodeError({
      type: NLMSG_ERROR,
      flags: NLM_F.CAPPED | NLM_F.ACK_TLVS,
      seq: 42,
      pid: 0,
      payload,
    });
    assert.deepEqual(e, { errno: 22, seq: 42, message: 'MTU too large', offset: 36 });
  });

  it('decodes an uncapped NLMSG_ERROR: TLVs follow the full echoed request', () => {
    const req = encodeMessage(16, 5, 7, new Uint8Array(16), [attr.str(3, 'abc')]);
    const tlvs = encodeAttrs([attr.str(1, 'nope')]);
    const payload = new Uint8Array(4 + req.byteLength + tlvs.byteLength);
    new DataView(payload.buffer).setInt32(0, -17, true);
    payload.set(req, 4);
    payload.set(tlvs, 4 + req.byteLength);
    const e = decodeError({ type: 2, flags: NLM_F.ACK_TLVS, seq: 7, pid: 0, payload });
    assert.equal(e.errno, 17);
    assert.equal(e.message, 'nope');
  });

  it('decodes a plain ack and rejects a truncated error', () => {
    const payload = new Uint8Array(20);
    new DataView(payload.buffer).setUint32(12, 9, true);
    assert.deepEqual(decodeError({ type: 2, flags: 0, seq: 9, pid: 0, payload }), {
      errno: 0,
      seq: 9,
    });
    assert.throws(
      () => decodeError({ type: 2, flags: 0, seq: 0, pid: 0, payload: new Uint8Array(8) }),
      /too short/,
    );
  });

  it('sets NLA_F_NESTED only on request', () => {
    const b = encodeAttrs([attr.nested(2, [])]);
    assert.equal(new DataView(b.buffer).getUint16(2, true) & NLA_F_NESTED, 0);
  });
});
