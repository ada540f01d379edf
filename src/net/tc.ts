/**
 * Legacy TC and XDP attachment over rtnetlink, for kernels or setups where bpf_link based tcx
 * and XDP links are unavailable: the clsact qdisc, cls_bpf filters in direct-action mode, and
 * IFLA_XDP on a link. Numbers from include/uapi/linux/{pkt_sched,pkt_cls,if_link}.h; the
 * message shapes follow libbpf's netlink.c and iproute2's tc.
 */
import { isErrno } from '../sys/index.js';
import { attr, attrsAfter, fixedHeader, type Attr } from './codec.js';
import { getLinkByName, ifindex, ifinfomsg, withSocket, IFLA, type NetnsOption } from './link.js';

const RTM_NEWQDISC = 36;
const RTM_DELQDISC = 37;
const RTM_NEWTFILTER = 44;
const RTM_DELTFILTER = 45;
const RTM_GETTFILTER = 46;
const RTM_SETLINK = 19;

const TCA_KIND = 1;
const TCA_OPTIONS = 2;

const TCA_BPF_FD = 6;
const TCA_BPF_NAME = 7;
const TCA_BPF_FLAGS = 8;
const TCA_BPF_TAG = 10;
const TCA_BPF_ID = 11;
/** TCA_BPF_FLAG_ACT_DIRECT: the program's return value is the TC action. */
const TCA_BPF_FLAG_ACT_DIRECT = 1;

/** TC_H_CLSACT (== TC_H_INGRESS): the clsact qdisc's parent. */
export const TC_H_CLSACT = 0xfffffff1;
/** The clsact qdisc's own handle, ffff:. */
const CLSACT_HANDLE = 0xffff0000;
/** Minor ids of the clsact hooks. */
const TC_H_MIN_INGRESS = 0xfff2;
const TC_H_MIN_EGRESS = 0xfff3;
/** ETH_P_ALL in network byte order, as the filter protocol. */
const ETH_P_ALL_BE = 0x0300;

const NLM_F_CREATE = 0x400;
const NLM_F_EXCL = 0x200;
const NLM_F_REPLACE = 0x100;

/** A clsact hook. */
export type TcDirection = 'ingress' | 'egress';

function tcmsg(index: number, handle: number, parent: number, info: number): Uint8Array {
  const b = new Uint8Array(20);
  const dv = new DataView(b.buffer);
  dv.setInt32(4, index, true);
  dv.setUint32(8, handle >>> 0, true);
  dv.setUint32(12, parent >>> 0, true);
  dv.setUint32(16, info >>> 0, true);
  return b;
}

/** The filter parent for a clsact direction: ffff:fff2 or ffff:fff3. */
export function clsactParent(dir: TcDirection): number {
  return (
    ((TC_H_CLSACT & 0xffff0000) | (dir === 'ingress' ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS)) >>> 0
  );
}

/**
 * Adds the clsact qdisc to a link (`tc qdisc add dev IF clsact`). Idempotent: an existing
 * clsact is fine. Returns true when this call created it.
 */
export function addClsactQdisc(ifname: string, opts: NetnsOption = {}): boolean {
  return withSocket(opts.netns, (s) => {
    const index = ifindex(s, ifname);
    try {
      s.request(
        RTM_NEWQDISC,
        NLM_F_CREATE | NLM_F_EXCL,
        tcmsg(index, CLSACT_HANDLE, TC_H_CLSACT, 0),
        [attr.str(TCA_KIND, 'clsact')],
        `add clsact qdisc to ${ifname}`,
      );
      return true;
    } catch (err) {
      if (isErrno(err, 'EEXIST')) return false;
      throw err;
    }
  });
}

/**
 * Deletes the clsact qdisc (and with it every TC filter on the link). Returns false when there
 * was none, so cleanup code can call it unconditionally.
 */
export function deleteClsactQdisc(ifname: string, opts: NetnsOption = {}): boolean {
  return withSocket(opts.netns, (s) => {
    const index = ifindex(s, ifname);
    try {
      s.request(
        RTM_DELQDISC,
        0,
        tcmsg(index, CLSACT_HANDLE, TC_H_CLSACT, 0),
        [attr.str(TCA_KIND, 'clsact')],
        `delete clsact qdisc from ${ifname}`,
      );
      return true;
    } catch (err) {
      // The kernel says EINVAL ("Cannot find specified qdisc on specified device") or ENOENT.
      if (isErrno(err, 'ENOENT', 'EINVAL')) return false;
      throw err;
    }
  });
}

/** Options for {@link attachTcBpf}. */
export interface TcBpfOptions extends NetnsOption {
  /** Filter name shown by `tc filter show` (TCA_BPF_NAME). */
  name?: string;
  /** Filter priority (default 1, like libbpf's bpf_tc_attach). */
  priority?: number;
  /** Filter handle (default 1). */
  handle?: number;
  /** Direct-action mode: the program's return code is the verdict (default true). */
  directAction?: boolean;
  /** Replace an existing filter with the same priority and handle instead of failing EEXIST. */
  replace?: boolean;
}

/** The identity of an attached cls_bpf filter, enough to detach it. */
export interface TcFilterId {
  priority: number;
  handle: number;
}

/**
 * Attaches a loaded SCHED_CLS program as a cls_bpf filter on the clsact hook of `ifname`
 * (`tc filter add dev IF ingress prio P handle H bpf da fd FD`). The clsact qdisc must exist
 * (see {@link addClsactQdisc}).
 */
export function attachTcBpf(
  ifname: string,
  direction: TcDirection,
  progFd: number,
  opts: TcBpfOptions = {},
): TcFilterId {
  const priority = opts.priority ?? 1;
  const handle = opts.handle ?? 1;
  if (priority < 1 || priority > 0xffff)
    throw new RangeError(`tc priority ${priority} not in 1..65535`);
  const options: Attr[] = [attr.u32(TCA_BPF_FD, progFd)];
  if (opts.name !== undefined) options.push(attr.str(TCA_BPF_NAME, opts.name));
  if (opts.directAction ?? true) options.push(attr.u32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT));
  withSocket(opts.netns, (s) => {
    const index = ifindex(s, ifname);
    s.request(
      RTM_NEWTFILTER,
      NLM_F_CREATE | (opts.replace ? NLM_F_REPLACE : NLM_F_EXCL),
      tcmsg(index, handle, clsactParent(direction), ((priority << 16) | ETH_P_ALL_BE) >>> 0),
      [attr.str(TCA_KIND, 'bpf'), attr.nested(TCA_OPTIONS, options)],
      `attach bpf filter to ${ifname} ${direction} prio ${priority} handle ${handle}`,
    );
  });
  return { priority, handle };
}

/** Detaches a cls_bpf filter by priority and handle (defaults 1 and 1). */
export function detachTcBpf(
  ifname: string,
  direction: TcDirection,
  opts: NetnsOption & Partial<TcFilterId> = {},
): void {
  const priority = opts.priority ?? 1;
  const handle = opts.handle ?? 1;
  withSocket(opts.netns, (s) => {
    const index = ifindex(s, ifname);
    s.request(
      RTM_DELTFILTER,
      0,
      tcmsg(index, handle, clsactParent(direction), ((priority << 16) | ETH_P_ALL_BE) >>> 0),
      [attr.str(TCA_KIND, 'bpf')],
      `detach bpf filter from ${ifname} ${direction} prio ${priority} handle ${handle}`,
    );
  });
}

/** A cls_bpf filter found on a hook. */
export interface TcBpfFilter extends TcFilterId {
  /** TCA_BPF_NAME. */
  name?: string;
  /** The attached program's id. */
  progId?: number;
  /** The program tag as hex. */
  tag?: string;
  directAction: boolean;
}

/** Lists the cls_bpf filters on one clsact hook (empty when clsact is absent). */
export function listTcBpf(
  ifname: string,
  direction: TcDirection,
  opts: NetnsOption = {},
): TcBpfFilter[] {
  return withSocket(opts.netns, (s) => {
    const index = ifindex(s, ifname);
    let msgs;
    try {
      msgs = s.dump(
        RTM_GETTFILTER,
        tcmsg(index, 0, clsactParent(direction), 0),
        [],
        `list filters on ${ifname} ${direction}`,
      );
    } catch (err) {
      if (isErrno(err, 'EINVAL', 'ENOENT')) return [];
      throw err;
    }
    const out: TcBpfFilter[] = [];
    for (const m of msgs) {
      if (m.type !== RTM_NEWTFILTER) continue;
      const h = fixedHeader(m.payload, 20, 'tcmsg');
      const a = attrsAfter(m.payload, 20);
      if (a.str(TCA_KIND) !== 'bpf') continue;
      const o = a.nested(TCA_OPTIONS);
      // Each priority also reports a bare chain head with handle 0 and no options.
      if (!o) continue;
      const f: TcBpfFilter = {
        priority: h.getUint32(16, true) >>> 16,
        handle: h.getUint32(8, true),
        directAction: ((o.u32(TCA_BPF_FLAGS) ?? 0) & TCA_BPF_FLAG_ACT_DIRECT) !== 0,
      };
      const name = o.str(TCA_BPF_NAME);
      if (name !== undefined) f.name = name;
      const id = o.u32(TCA_BPF_ID);
      if (id !== undefined) f.progId = id;
      const tag = o.bytes(TCA_BPF_TAG);
      if (tag) f.tag = Buffer.from(tag).toString('hex');
      out.push(f);
    }
    return out;
  });
}

const IFLA_XDP_FD = 1;
const IFLA_XDP_FLAGS = 3;
const IFLA_XDP_EXPECTED_FD = 8;

/** XDP_FLAGS_* from if_link.h. */
export const XDP_FLAGS = {
  UPDATE_IF_NOEXIST: 1,
  SKB_MODE: 2,
  DRV_MODE: 4,
  HW_MODE: 8,
  REPLACE: 16,
} as const;

/** XDP attach modes: generic (skb, works everywhere), driver (native), hardware offload. */
export type XdpMode = 'generic' | 'driver' | 'hw';

const MODE_FLAGS: Record<XdpMode, number> = {
  generic: XDP_FLAGS.SKB_MODE,
  driver: XDP_FLAGS.DRV_MODE,
  hw: XDP_FLAGS.HW_MODE,
};

/** Options for {@link attachXdpNetlink}. */
export interface XdpNetlinkOptions extends NetnsOption {
  /** Default 'driver' when the driver supports it; be explicit for predictable results. */
  mode?: XdpMode;
  /**
   * Atomically replace the program behind this fd (XDP_FLAGS_REPLACE + IFLA_XDP_EXPECTED_FD);
   * fails EEXIST if a different program is attached.
   */
  replaceFd?: number;
  /** Replace whatever is attached. Without it (or replaceFd), an attached program means EBUSY. */
  force?: boolean;
}

function setXdp(
  ifname: string,
  fd: number,
  flags: number,
  expectedFd: number | undefined,
  opts: NetnsOption,
  what: string,
): void {
  const xdp: Attr[] = [attr.s32(IFLA_XDP_FD, fd), attr.u32(IFLA_XDP_FLAGS, flags)];
  if (expectedFd !== undefined) xdp.push(attr.s32(IFLA_XDP_EXPECTED_FD, expectedFd));
  withSocket(opts.netns, (s) => {
    const index = ifindex(s, ifname);
    s.request(RTM_SETLINK, 0, ifinfomsg(index), [attr.nested(IFLA.XDP, xdp, true)], what);
  });
}

/**
 * Attaches an XDP program to a link through IFLA_XDP, like `ip link set dev IF xdp{generic,drv}
 * fd FD`. By default it refuses to replace an attached program (XDP_FLAGS_UPDATE_IF_NOEXIST).
 */
export function attachXdpNetlink(
  ifname: string,
  progFd: number,
  opts: XdpNetlinkOptions = {},
): void {
  let flags = opts.mode === undefined ? 0 : MODE_FLAGS[opts.mode];
  if (opts.replaceFd !== undefined) flags |= XDP_FLAGS.REPLACE;
  else if (!opts.force) flags |= XDP_FLAGS.UPDATE_IF_NOEXIST;
  setXdp(
    ifname,
    progFd,
    flags,
    opts.replaceFd,
    opts,
    `attach xdp (${opts.mode ?? 'default mode'}) to ${ifname}`,
  );
}

/** Detaches the XDP program in `mode` (or whichever is attached when mode is omitted). */
export function detachXdpNetlink(
  ifname: string,
  opts: NetnsOption & { mode?: XdpMode } = {},
): void {
  let mode = opts.mode;
  if (mode === undefined) {
    const info = xdpInfo(ifname, opts);
    mode = info.mode === 'none' || info.mode === 'multi' ? undefined : info.mode;
  }
  setXdp(
    ifname,
    -1,
    mode === undefined ? 0 : MODE_FLAGS[mode],
    undefined,
    opts,
    `detach xdp from ${ifname}`,
  );
}

/** What XDP program is attached to a link, and how. */
export interface XdpInfo {
  mode: 'none' | XdpMode | 'multi';
  /** Program id (for a single attachment). */
  progId?: number;
  /** Per-mode program ids where the kernel reports them. */
  ids: Partial<Record<XdpMode, number>>;
}

const ATTACHED: Record<number, XdpInfo['mode']> = {
  0: 'none',
  1: 'driver',
  2: 'generic',
  3: 'hw',
  4: 'multi',
};

/** Reads IFLA_XDP of a link: the attached program id and its mode. */
export function xdpInfo(ifname: string, opts: NetnsOption = {}): XdpInfo {
  const link = withSocket(opts.netns, (s) => getLinkByName(s, ifname));
  const x = link.xdp;
  const info: XdpInfo = { mode: ATTACHED[x?.attached ?? 0] ?? 'none', ids: {} };
  if (x?.progId !== undefined) info.progId = x.progId;
  if (x?.drvProgId !== undefined) info.ids.driver = x.drvProgId;
  if (x?.skbProgId !== undefined) info.ids.generic = x.skbProgId;
  if (x?.hwProgId !== undefined) info.ids.hw = x.hwProgId;
  if (info.progId !== undefined && info.mode !== 'none' && info.mode !== 'multi') {
    info.ids[info.mode] ??= info.progId;
  }
  return info;
}
