/**
 * A NETLINK_ROUTE socket over the sys seam: request/ack with sequence numbers, multi-part
 * dumps, and NLMSG_ERROR turned into a {@link NetlinkError} that carries the errno name and the
 * kernel's extended-ack text. Reads never block forever: each wait is bounded by a timeout.
 */
import { SysError, errnoValue, sys } from '../sys/index.js';
import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  NLM_F,
  NetlinkParseError,
  decodeError,
  decodeMessages,
  encodeMessage,
  type Attr,
  type NlMsg,
} from './codec.js';

/** AF_NETLINK. */
export const AF_NETLINK = 16;
/** The rtnetlink protocol. */
export const NETLINK_ROUTE = 0;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const EPOLLIN = 1;
const EPOLL_CTL_ADD = 1;

/** rtnetlink message type names, for error messages. */
const RTM_NAMES: Record<number, string> = {
  16: 'RTM_NEWLINK',
  17: 'RTM_DELLINK',
  18: 'RTM_GETLINK',
  19: 'RTM_SETLINK',
  20: 'RTM_NEWADDR',
  21: 'RTM_DELADDR',
  22: 'RTM_GETADDR',
  24: 'RTM_NEWROUTE',
  25: 'RTM_DELROUTE',
  26: 'RTM_GETROUTE',
  28: 'RTM_NEWNEIGH',
  29: 'RTM_DELNEIGH',
  30: 'RTM_GETNEIGH',
  36: 'RTM_NEWQDISC',
  37: 'RTM_DELQDISC',
  38: 'RTM_GETQDISC',
  44: 'RTM_NEWTFILTER',
  45: 'RTM_DELTFILTER',
  46: 'RTM_GETTFILTER',
};

/** The name of an rtnetlink message type, e.g. 16 → "RTM_NEWLINK". */
export function rtmName(type: number): string {
  return RTM_NAMES[type] ?? `type ${type}`;
}

/**
 * A netlink request the kernel refused. It is a {@link SysError}, so `isErrno(err, 'EEXIST')`
 * works; `extAck` holds the kernel's own explanation when it sent one.
 */
export class NetlinkError extends SysError {
  /** NLMSGERR_ATTR_MSG, e.g. "Exclusivity flag on, cannot modify". */
  readonly extAck?: string;
  /** NLMSGERR_ATTR_OFFS: offset of the attribute the kernel objected to. */
  readonly attrOffset?: number;

  constructor(what: string, errno: number, extAck?: string, attrOffset?: number) {
    super(what, errno);
    this.name = 'NetlinkError';
    if (extAck !== undefined) {
      this.extAck = extAck;
      this.message += ` (kernel: ${extAck})`;
    }
    if (attrOffset !== undefined) this.attrOffset = attrOffset;
  }
}

/** Options for {@link NetlinkSocket.open}. */
export interface NetlinkSocketOptions {
  /** How long one wait for a reply may take before ETIMEDOUT (default 10 s). */
  timeoutMs?: number;
}

/** The receive buffer: large enough for any rtnetlink datagram (dumps are split at ~32 KiB). */
const RECV_SIZE = 1 << 18;

let seqBase = (Date.now() & 0xffff) << 12;

/** A NETLINK_ROUTE socket in the namespace of the thread that opened it. */
export class NetlinkSocket {
  private seq = (seqBase += 0x1000);
  private readonly buf = new Uint8Array(RECV_SIZE);
  private closed = false;

  private constructor(
    /** The socket fd. */
    readonly fd: number,
    private readonly epfd: number,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Opens a socket in the calling thread's current network namespace. The socket stays bound to
   * that namespace even after the thread moves elsewhere, which is how namespace work is done.
   */
  static open(opts: NetlinkSocketOptions = {}): NetlinkSocket {
    const s = sys();
    const fd = s.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    let epfd = -1;
    try {
      // Extended acks give the kernel's reason in words; capped acks keep error replies small.
      s.setsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
      s.setsockoptInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
      s.setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, 1 << 20);
      s.bind(fd, sockaddrNl(0, 0));
      epfd = s.epollCreate();
      s.epollCtl(epfd, EPOLL_CTL_ADD, fd, EPOLLIN, fd);
      return new NetlinkSocket(fd, epfd, opts.timeoutMs ?? 10_000);
    } catch (err) {
      if (epfd >= 0) s.close(epfd);
      s.close(fd);
      throw err;
    }
  }

  /** Closes the socket; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const s = sys();
    s.close(this.epfd);
    s.close(this.fd);
  }

  private send(type: number, flags: number, family: Uint8Array, attrs: Attr[]): number {
    if (this.closed) throw new Error('netlink: socket is closed');
    const seq = (this.seq = (this.seq + 1) >>> 0);
    const msg = encodeMessage(type, flags, seq, family, attrs);
    sys().sendto(this.fd, msg, 0, sockaddrNl(0, 0));
    return seq;
  }

  /** One datagram's messages, waiting at most the timeout for it. */
  private receive(what: string): NlMsg[] {
    const s = sys();
    for (;;) {
      let n: number;
      try {
        n = s.recv(this.fd, this.buf, MSG_DONTWAIT | MSG_TRUNC);
      } catch (err) {
        if (err instanceof SysError && (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK')) {
          const ready = s.epollWaitSync(this.epfd, 1, this.timeoutMs);
          if (ready.length === 0) {
            throw new SysError(
              `${what}: no reply within ${this.timeoutMs} ms`,
              errnoValue('ETIMEDOUT'),
            );
          }
          continue;
        }
        if (err instanceof SysError && err.code === 'EINTR') continue;
        throw err;
      }
      if (n > this.buf.byteLength) {
        throw new NetlinkParseError(
          `${what}: reply of ${n} bytes exceeds the ${RECV_SIZE}-byte buffer`,
        );
      }
      if (n === 0) throw new NetlinkParseError(`${what}: empty datagram`);
      // Copy: the buffer is reused by the next receive while callers still hold attribute views.
      return decodeMessages(this.buf.slice(0, n));
    }
  }

  /**
   * Sends a request with NLM_F_ACK and returns the replies that precede the acknowledgement
   * (GET requests answer with one message; changes with none). Throws NetlinkError on refusal.
   */
  request(
    type: number,
    flags: number,
    family: Uint8Array,
    attrs: Attr[] = [],
    context = '',
  ): NlMsg[] {
    const what = describe(type, context);
    const seq = this.send(type, NLM_F.REQUEST | NLM_F.ACK | flags, family, attrs);
    const out: NlMsg[] = [];
    for (;;) {
      for (const m of this.receive(what)) {
        if (m.seq !== seq) continue; // a late reply to an earlier, abandoned request
        if (m.type === NLMSG_ERROR) {
          const e = decodeError(m);
          if (e.errno !== 0) throw new NetlinkError(what, e.errno, e.message, e.offset);
          return out;
        }
        if (m.type === NLMSG_NOOP) continue;
        if (m.type === NLMSG_DONE) return out;
        if (m.type === NLMSG_OVERRUN) throw new NetlinkParseError(`${what}: overrun`);
        out.push(m);
      }
    }
  }

  /**
   * Sends a NLM_F_DUMP request and gathers every part until NLMSG_DONE. A dump interrupted by a
   * concurrent change (NLM_F_DUMP_INTR) is retried, as iproute2 does, a few times.
   */
  dump(type: number, family: Uint8Array, attrs: Attr[] = [], context = ''): NlMsg[] {
    const what = describe(type, context);
    for (let attempt = 0; ; attempt++) {
      const seq = this.send(type, NLM_F.REQUEST | NLM_F.DUMP, family, attrs);
      const out: NlMsg[] = [];
      let interrupted = false;
      let done = false;
      while (!done) {
        for (const m of this.receive(what)) {
          if (m.seq !== seq) continue;
          if ((m.flags & NLM_F.DUMP_INTR) !== 0) interrupted = true;
          if (m.type === NLMSG_DONE) {
            // The DONE payload holds an int error when the dump ended early.
            if (m.payload.byteLength >= 4) {
              const errno = -new DataView(m.payload.buffer, m.payload.byteOffset, 4).getInt32(
                0,
                true,
              );
              if (errno > 0) throw new NetlinkError(what, errno);
            }
            done = true;
            break;
          }
          if (m.type === NLMSG_ERROR) {
            const e = decodeError(m);
            if (e.errno !== 0) throw new NetlinkError(what, e.errno, e.message, e.offset);
            done = true;
            break;
          }
          if (m.type === NLMSG_NOOP) continue;
          if (m.type === NLMSG_OVERRUN) throw new NetlinkParseError(`${what}: overrun`);
          out.push(m);
        }
      }
      if (!interrupted) return out;
      if (attempt >= 4) {
        throw new NetlinkError(`${what}: dump kept being interrupted`, errnoValue('EINTR'));
      }
    }
  }
}

function describe(type: number, context: string): string {
  return context === '' ? `rtnetlink ${rtmName(type)}` : `rtnetlink ${rtmName(type)} (${context})`;
}

/** A `struct sockaddr_nl` (family, pad, port id, groups). */
export function sockaddrNl(pid: number, groups: number): Uint8Array {
  const b = new Uint8Array(12);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, AF_NETLINK, true);
  dv.setUint32(4, pid >>> 0, true);
  dv.setUint32(8, groups >>> 0, true);
  return b;
}
