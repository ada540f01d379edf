import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  FakeSys,
  SysError,
  errnoValue,
  isErrno,
  setSys,
  type EpollEvent,
} from '../../../src/sys/index.js';
import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F,
  NetlinkParseError,
  attr,
  decodeMessages,
  encodeAttrs,
  encodeMessage,
  type NlMsg,
} from '../../../src/net/codec.js';
import { NetlinkError, NetlinkSocket } from '../../../src/net/socket.js';
import { decodeLink, ifinfomsg } from '../../../src/net/link.js';

/** Answers each request with the datagrams `respond` returns; queues them for recv. */
class FakeNetlink extends FakeSys {
  readonly sent: NlMsg[] = [];
  readonly queue: Uint8Array[] = [];
  respond: (req: NlMsg) => Uint8Array[] = () => [];
  sockFd = -1;

  override socket(...args: number[]): number {
    const [domain, , protocol] = args;
    assert.equal(domain, 16);
    assert.equal(protocol, 0);
    this.sockFd = this.allocFd();
    return this.sockFd;
  }
  override bind(): void {}
  override setsockoptInt(): void {}
  override sendto(...args: unknown[]): number {
    const data = args[1] as Uint8Array;
    const [req] = decodeMessages(data.slice());
    this.sent.push(req!);
    this.queue.push(...this.respond(req!));
    return data.byteLength;
  }
  override recv(...args: unknown[]): number {
    const buf = args[1] as Uint8Array;
    const flags = args[2] as number;
    const d = this.queue.shift();
    if (d === undefined) throw new SysError('recv', errnoValue('EAGAIN'));
    buf.set(d.subarray(0, Math.min(d.byteLength, buf.byteLength)));
    return (flags & 0x20) !== 0 ? d.byteLength : Math.min(d.byteLength, buf.byteLength);
  }
  override epollWaitSync(): EpollEvent[] {
    return this.queue.length > 0 ? [{ events: 1, data: this.sockFd }] : [];
  }
}

function ack(req: NlMsg, errno = 0, extAck?: string): Uint8Array {
  const tlvs = extAck === undefined ? new Uint8Array(0) : encodeAttrs([attr.str(1, extAck)]);
  const payload = new Uint8Array(20 + tlvs.byteLength);
  const dv = new DataView(payload.buffer);
  dv.setInt32(0, -errno, true);
  dv.setUint32(4, 16, true);
  dv.setUint16(8, req.type, true);
  dv.setUint32(12, req.seq, true);
  payload.set(tlvs, 20);
  const flags = NLM_F.CAPPED | (extAck === undefined ? 0 : NLM_F.ACK_TLVS);
  return encodeMessage(NLMSG_ERROR, flags, req.seq, payload);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

function link(seq: number, index: number, name: string, flags: number = NLM_F.MULTI): Uint8Array {
  return encodeMessage(16, flags, seq, ifinfomsg(index, 1), [
    attr.str(3, name),
    attr.u32(4, 1500),
    attr.bytes(1, Uint8Array.of(2, 0, 0, 0, 0, index)),
    attr.nested(18, [attr.str(1, 'veth')]),
  ]);
}

describe('NetlinkSocket against a fake kernel', () => {
  let fake: FakeNetlink;
  let restore: () => void;
  beforeEach(() => {
    fake = new FakeNetlink();
    restore = setSys(fake);
  });
  afterEach(() => restore());

  it('sends a request with ACK and returns on a zero ack', () => {
    fake.respond = (req) => [ack(req)];
    const s = NetlinkSocket.open();
    assert.deepEqual(s.request(16, NLM_F.CREATE, ifinfomsg()), []);
    assert.equal(fake.sent[0]!.flags, NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE);
    s.close();
    assert.equal(fake.openFds.size, 0, 'socket and epoll fds closed');
  });

  it('uses a new sequence number per request and skips stale replies', () => {
    fake.respond = (req) => [
      ack({ ...req, seq: req.seq - 1 }, 1),
      link(req.seq, 2, 'a', 0),
      ack(req),
    ];
    const s = NetlinkSocket.open();
    const r = s.request(18, 0, ifinfomsg());
    assert.equal(r.length, 1);
    assert.equal(decodeLink(r[0]!).name, 'a');
    s.request(18, 0, ifinfomsg());
    assert.notEqual(fake.sent[0]!.seq, fake.sent[1]!.seq);
    s.close();
  });

  it('turns NLMSG_ERROR into NetlinkError with errno name and extended ack', () => {
    fake.respond = (req) => [ack(req, 22, 'MTU greater than device maximum')];
    const s = NetlinkSocket.open();
    assert.throws(
      () => s.request(16, 0, ifinfomsg(), [], 'set mtu x'),
      (err: unknown) => {
        assert.ok(err instanceof NetlinkError);
        assert.ok(err instanceof SysError);
        assert.equal(err.code, 'EINVAL');
        assert.equal(err.extAck, 'MTU greater than device maximum');
        assert.match(err.message, /RTM_NEWLINK \(set mtu x\): EINVAL: .*kernel: MTU greater/);
        assert.ok(isErrno(err, 'EINVAL'));
        return true;
      },
    );
    s.close();
  });

  it('gathers a multi-part dump across datagrams until NLMSG_DONE', () => {
    fake.respond = (req) => [
      concat(link(req.seq, 1, 'lo'), link(req.seq, 2, 'v0')),
      link(req.seq, 3, 'v1'),
      encodeMessage(NLMSG_DONE, NLM_F.MULTI, req.seq, new Uint8Array(4)),
    ];
    const s = NetlinkSocket.open();
    const links = s.dump(18, ifinfomsg()).map(decodeLink);
    assert.deepEqual(
      links.map((l) => [l.index, l.name, l.type, l.mtu, l.mac]),
      [
        [1, 'lo', 'veth', 1500, '02:00:00:00:00:01'],
        [2, 'v0', 'veth', 1500, '02:00:00:00:00:02'],
        [3, 'v1', 'veth', 1500, '02:00:00:00:00:03'],
      ],
    );
    assert.equal(fake.sent[0]!.flags, NLM_F.REQUEST | NLM_F.DUMP);
    s.close();
  });

  it('retries an interrupted dump', () => {
    let n = 0;
    fake.respond = (req) => {
      const intr = n++ === 0 ? NLM_F.DUMP_INTR : 0;
      return [
        link(req.seq, 1, 'lo', NLM_F.MULTI | intr),
        encodeMessage(NLMSG_DONE, NLM_F.MULTI, req.seq, new Uint8Array(4)),
      ];
    };
    const s = NetlinkSocket.open();
    assert.equal(s.dump(18, ifinfomsg()).length, 1);
    assert.equal(fake.sent.length, 2);
    s.close();
  });

  it('reports an error carried in NLMSG_DONE', () => {
    fake.respond = (req) => {
      const p = new Uint8Array(4);
      new DataView(p.buffer).setInt32(0, -16, true);
      return [encodeMessage(NLMSG_DONE, NLM_F.MULTI, req.seq, p)];
    };
    const s = NetlinkSocket.open();
    assert.throws(
      () => s.dump(18, ifinfomsg()),
      (e: unknown) => isErrno(e, 'EBUSY'),
    );
    s.close();
  });

  it('times out instead of hanging when no reply comes', () => {
    fake.respond = () => [];
    const s = NetlinkSocket.open({ timeoutMs: 1 });
    assert.throws(
      () => s.request(18, 0, ifinfomsg()),
      (e: unknown) => isErrno(e, 'ETIMEDOUT'),
    );
    s.close();
  });

  it('rejects a malformed reply instead of looping', () => {
    fake.respond = () => [Uint8Array.of(8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)];
    const s = NetlinkSocket.open();
    assert.throws(() => s.request(18, 0, ifinfomsg()), NetlinkParseError);
    s.close();
  });

  it('rejects a reply larger than its buffer', () => {
    fake.respond = () => [new Uint8Array(1 << 19)];
    const s = NetlinkSocket.open();
    assert.throws(() => s.request(18, 0, ifinfomsg()), /exceeds/);
    s.close();
  });
});
