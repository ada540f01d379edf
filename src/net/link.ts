/**
 * Network links over rtnetlink (RTM_*LINK): lookup, veth pairs, bridges, up/down, MTU, MAC,
 * master and namespace moves. Every call takes an optional `netns`; the netlink socket is opened
 * inside it and the thread returns home before any reply is read.
 */
import { closeSync } from 'node:fs';
import { isErrno } from '../sys/index.js';
import {
  attr,
  attrsAfter,
  encodeAttrs,
  fixedHeader,
  type Attr,
  type AttrMap,
  type NlMsg,
} from './codec.js';
import { maybeInNetns, openNetnsFd, type NetnsRef } from './netns.js';
import { NetlinkSocket } from './socket.js';

/** rtnetlink message types for links. */
export const RTM_NEWLINK = 16;
/** Delete a link. */
export const RTM_DELLINK = 17;
/** Get or dump links. */
export const RTM_GETLINK = 18;
/** Change a link's attributes. */
export const RTM_SETLINK = 19;

/** IFLA_* attribute numbers (include/uapi/linux/if_link.h). */
export const IFLA = {
  ADDRESS: 1,
  BROADCAST: 2,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  QDISC: 6,
  MASTER: 10,
  TXQLEN: 13,
  OPERSTATE: 16,
  LINKINFO: 18,
  NET_NS_PID: 19,
  NET_NS_FD: 28,
  EXT_MASK: 29,
  CARRIER: 33,
  LINK_NETNSID: 37,
  XDP: 43,
} as const;

/** IFLA_INFO_* inside IFLA_LINKINFO. */
export const IFLA_INFO = { KIND: 1, DATA: 2, SLAVE_KIND: 4 } as const;
/** VETH_INFO_PEER inside IFLA_INFO_DATA of a veth. */
export const VETH_INFO_PEER = 1;

/** IFF_* device flags. */
export const IFF_UP = 0x1;
/** The driver reports carrier (operationally up). */
export const IFF_LOWER_UP = 0x10000;

const AF_UNSPEC = 0;
/** Size of `struct ifinfomsg`. */
export const IFINFOMSG_SIZE = 16;

/** Options shared by every link call. */
export interface NetnsOption {
  /** The namespace to act in: a name under /run/netns, an nsfs path or an fd. Default: ours. */
  netns?: NetnsRef;
}

/** A network interface as rtnetlink reports it. */
export interface Link {
  index: number;
  name: string;
  /** The rtnl kind ("veth", "bridge", ...) or, without one, "loopback"/"ether"/"arphrd N". */
  type: string;
  mtu: number;
  /** MAC address as aa:bb:cc:dd:ee:ff ('' when the link has none). */
  mac: string;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Carrier present (IFF_LOWER_UP). */
  lowerUp: boolean;
  /** Raw IFF_* flags. */
  flags: number;
  /** ifindex of the master (bridge) when enslaved. */
  master?: number;
  /** For veth and other paired links: the peer's ifindex (possibly in another namespace). */
  peerIndex?: number;
  /** The XDP state reported in IFLA_XDP. */
  xdp?: XdpLinkInfo;
}

/** XDP attachment info from IFLA_XDP. */
export interface XdpLinkInfo {
  /** XDP_ATTACHED_*: 0 none, 1 driver, 2 generic (skb), 3 hardware, 4 multiple. */
  attached: number;
  /** The program id for a single attachment. */
  progId?: number;
  /** Per-mode ids when reported (multi-attach). */
  drvProgId?: number;
  skbProgId?: number;
  hwProgId?: number;
}

/** Encodes `struct ifinfomsg`. */
export function ifinfomsg(index = 0, flags = 0, change = 0, family = AF_UNSPEC): Uint8Array {
  const b = new Uint8Array(IFINFOMSG_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint8(0, family);
  dv.setInt32(4, index, true);
  dv.setUint32(8, flags >>> 0, true);
  dv.setUint32(12, change >>> 0, true);
  return b;
}

/** Opens a netlink socket in `netns` (or here), runs `fn`, and closes it. */
export function withSocket<T>(netns: NetnsRef | undefined, fn: (s: NetlinkSocket) => T): T {
  const s = maybeInNetns(netns, () => NetlinkSocket.open());
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

/** Formats six bytes as a MAC address. */
export function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Parses "aa:bb:cc:dd:ee:ff" (or with '-') into six bytes. */
export function parseMac(mac: string): Uint8Array {
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new Error(`invalid MAC address ${JSON.stringify(mac)}`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

const ARPHRD: Record<number, string> = { 1: 'ether', 772: 'loopback', 65534: 'none' };

/** Decodes one RTM_NEWLINK message into a {@link Link}. */
export function decodeLink(m: NlMsg): Link {
  const h = fixedHeader(m.payload, IFINFOMSG_SIZE, 'ifinfomsg');
  const arphrd = h.getUint16(2, true);
  const flags = h.getUint32(8, true);
  const a = attrsAfter(m.payload, IFINFOMSG_SIZE);
  const kind = a.nested(IFLA.LINKINFO)?.str(IFLA_INFO.KIND);
  const link: Link = {
    index: h.getInt32(4, true),
    name: a.str(IFLA.IFNAME) ?? '',
    type: kind ?? ARPHRD[arphrd] ?? `arphrd ${arphrd}`,
    mtu: a.u32(IFLA.MTU) ?? 0,
    mac: a.has(IFLA.ADDRESS) ? formatMac(a.bytes(IFLA.ADDRESS)!) : '',
    up: (flags & IFF_UP) !== 0,
    lowerUp: (flags & IFF_LOWER_UP) !== 0,
    flags,
  };
  const master = a.u32(IFLA.MASTER);
  if (master !== undefined && master !== 0) link.master = master;
  const peer = a.u32(IFLA.LINK);
  if (peer !== undefined && peer !== link.index && peer !== 0) link.peerIndex = peer;
  const xdp = a.nested(IFLA.XDP);
  if (xdp) link.xdp = decodeXdp(xdp);
  return link;
}

function decodeXdp(x: AttrMap): XdpLinkInfo {
  const info: XdpLinkInfo = { attached: x.u8(2 /* IFLA_XDP_ATTACHED */) ?? 0 };
  const set = (key: 'progId' | 'drvProgId' | 'skbProgId' | 'hwProgId', type: number): void => {
    const v = x.u32(type);
    if (v !== undefined) info[key] = v;
  };
  set('progId', 4);
  set('drvProgId', 5);
  set('skbProgId', 6);
  set('hwProgId', 7);
  return info;
}

/** Looks a link up by name; throws NetlinkError ENODEV when there is none. */
export function linkByName(name: string, opts: NetnsOption = {}): Link {
  return withSocket(opts.netns, (s) => getLinkByName(s, name));
}

/** Looks a link up by name on an open socket. */
export function getLinkByName(s: NetlinkSocket, name: string): Link {
  const r = s.request(RTM_GETLINK, 0, ifinfomsg(), [attr.str(IFLA.IFNAME, name)], `link ${name}`);
  if (r.length === 0) throw new Error(`link ${name}: kernel sent no link`);
  return decodeLink(r[0]!);
}

/** Looks a link up by name, or undefined when it does not exist. */
export function findLink(name: string, opts: NetnsOption = {}): Link | undefined {
  try {
    return linkByName(name, opts);
  } catch (err) {
    if (isErrno(err, 'ENODEV')) return undefined;
    throw err;
  }
}

/** Looks a link up by ifindex; throws NetlinkError ENODEV when there is none. */
export function linkByIndex(index: number, opts: NetnsOption = {}): Link {
  return withSocket(opts.netns, (s) => {
    const r = s.request(RTM_GETLINK, 0, ifinfomsg(index), [], `link index ${index}`);
    if (r.length === 0) throw new Error(`link index ${index}: kernel sent no link`);
    return decodeLink(r[0]!);
  });
}

/** Every link in the namespace, ordered by ifindex. */
export function listLinks(opts: NetnsOption = {}): Link[] {
  return withSocket(opts.netns, (s) =>
    s
      .dump(RTM_GETLINK, ifinfomsg(), [], 'list links')
      .filter((m) => m.type === RTM_NEWLINK)
      .map(decodeLink)
      .sort((a, b) => a.index - b.index),
  );
}

/** Resolves a name to an ifindex on an open socket. */
export function ifindex(s: NetlinkSocket, name: string): number {
  return getLinkByName(s, name).index;
}

/** Runs `fn` with an fd for `ref` (opened by name when needed, closed afterwards). */
function withNsFd<T>(ref: NetnsRef, fn: (fd: number) => T): T {
  if (typeof ref === 'number') return fn(ref);
  const fd = openNetnsFd(ref);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** Options for {@link createVeth}. */
export interface VethOptions extends NetnsOption {
  /** Create the peer directly in this namespace (IFLA_NET_NS_FD on the peer). */
  peerNetns?: NetnsRef;
  mtu?: number;
  mac?: string;
  peerMac?: string;
}

/**
 * Creates a veth pair `name` ↔ `peerName` in `netns` (or here), with the peer created directly
 * inside `peerNetns` when given, so no interface ever appears in the caller's namespace.
 */
export function createVeth(name: string, peerName: string, opts: VethOptions = {}): void {
  const build = (peerFd?: number): Attr[] => {
    const peerAttrs: Attr[] = [attr.str(IFLA.IFNAME, peerName)];
    if (peerFd !== undefined) peerAttrs.push(attr.u32(IFLA.NET_NS_FD, peerFd));
    if (opts.mtu !== undefined) peerAttrs.push(attr.u32(IFLA.MTU, opts.mtu));
    if (opts.peerMac !== undefined)
      peerAttrs.push(attr.bytes(IFLA.ADDRESS, parseMac(opts.peerMac)));
    // VETH_INFO_PEER carries a whole ifinfomsg followed by the peer's attributes.
    const peerBody = concat(ifinfomsg(), encodeAttrs(peerAttrs));
    const attrs: Attr[] = [attr.str(IFLA.IFNAME, name)];
    if (opts.mtu !== undefined) attrs.push(attr.u32(IFLA.MTU, opts.mtu));
    if (opts.mac !== undefined) attrs.push(attr.bytes(IFLA.ADDRESS, parseMac(opts.mac)));
    attrs.push(
      attr.nested(IFLA.LINKINFO, [
        attr.str(IFLA_INFO.KIND, 'veth'),
        attr.nested(IFLA_INFO.DATA, [attr.bytes(VETH_INFO_PEER, peerBody)]),
      ]),
    );
    return attrs;
  };
  const run = (peerFd?: number): void =>
    withSocket(opts.netns, (s) => {
      s.request(
        RTM_NEWLINK,
        NLM_CREATE_EXCL,
        ifinfomsg(),
        build(peerFd),
        `create veth ${name} peer ${peerName}`,
      );
    });
  if (opts.peerNetns === undefined) run();
  else withNsFd(opts.peerNetns, run);
}

/** NLM_F_CREATE | NLM_F_EXCL: what `ip link add` sends. */
const NLM_CREATE_EXCL = 0x400 | 0x200;

/** Options for {@link createBridge}. */
export interface BridgeOptions extends NetnsOption {
  mtu?: number;
}

/** Creates a Linux bridge (the baseline that forwarding benchmarks compare against). */
export function createBridge(name: string, opts: BridgeOptions = {}): void {
  const attrs: Attr[] = [attr.str(IFLA.IFNAME, name)];
  if (opts.mtu !== undefined) attrs.push(attr.u32(IFLA.MTU, opts.mtu));
  attrs.push(attr.nested(IFLA.LINKINFO, [attr.str(IFLA_INFO.KIND, 'bridge')]));
  withSocket(opts.netns, (s) => {
    s.request(RTM_NEWLINK, NLM_CREATE_EXCL, ifinfomsg(), attrs, `create bridge ${name}`);
  });
}

/** Deletes a link (for a veth, the peer goes too). */
export function deleteLink(name: string, opts: NetnsOption = {}): void {
  withSocket(opts.netns, (s) => {
    s.request(RTM_DELLINK, 0, ifinfomsg(), [attr.str(IFLA.IFNAME, name)], `delete link ${name}`);
  });
}

/** Sends RTM_NEWLINK for an existing link, found by name, with `attrs` and flag changes. */
function modifyLink(
  name: string,
  opts: NetnsOption,
  what: string,
  attrs: Attr[],
  flags = 0,
  change = 0,
): void {
  withSocket(opts.netns, (s) => {
    const index = ifindex(s, name);
    s.request(RTM_NEWLINK, 0, ifinfomsg(index, flags, change), attrs, `${what} ${name}`);
  });
}

/** Brings a link administratively up (`ip link set NAME up`). */
export function setLinkUp(name: string, opts: NetnsOption = {}): void {
  modifyLink(name, opts, 'set up', [], IFF_UP, IFF_UP);
}

/** Brings a link administratively down. */
export function setLinkDown(name: string, opts: NetnsOption = {}): void {
  modifyLink(name, opts, 'set down', [], 0, IFF_UP);
}

/** Sets a link's MTU. */
export function setMtu(name: string, mtu: number, opts: NetnsOption = {}): void {
  modifyLink(name, opts, `set mtu ${mtu}`, [attr.u32(IFLA.MTU, mtu)]);
}

/** Sets a link's MAC address. */
export function setMac(name: string, mac: string, opts: NetnsOption = {}): void {
  modifyLink(name, opts, `set mac ${mac}`, [attr.bytes(IFLA.ADDRESS, parseMac(mac))]);
}

/** Enslaves a link to a master (bridge) by name; `null` releases it. */
export function setMaster(name: string, master: string | null, opts: NetnsOption = {}): void {
  withSocket(opts.netns, (s) => {
    const index = ifindex(s, name);
    const masterIndex = master === null ? 0 : ifindex(s, master);
    s.request(
      RTM_NEWLINK,
      0,
      ifinfomsg(index),
      [attr.u32(IFLA.MASTER, masterIndex)],
      `set master of ${name} to ${master ?? 'none'}`,
    );
  });
}

/** Moves a link into another namespace (`ip link set NAME netns TARGET`). */
export function setLinkNetns(name: string, target: NetnsRef, opts: NetnsOption = {}): void {
  withNsFd(target, (fd) =>
    modifyLink(name, opts, `move to netns ${String(target)}`, [attr.u32(IFLA.NET_NS_FD, fd)]),
  );
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}
