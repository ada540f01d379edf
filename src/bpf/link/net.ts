/**
 * Network hooks by ifindex: XDP and tcx through bpf_link. These resolve the ifindex in the
 * calling thread's network namespace; attaching by interface name in another namespace is
 * src/net/attach.ts's job (it enters the namespace around these calls).
 */
import { BpfCmd, sys } from '../../sys/index.js';
import { Attr } from '../attr.js';
import type { Program } from '../program.js';
import { AttachType } from '../types.js';
import { attachError, Link, linkCreate } from './link.js';

/** XDP attach modes. Generic works on every device; driver needs native support. */
export type XdpAttachMode = 'generic' | 'driver' | 'hw';

const XDP_MODE_FLAGS: Record<XdpAttachMode, number> = { generic: 2, driver: 4, hw: 8 };

/** Describes an interface for messages: "ifindex 7 (veth0)" [+ " in namespace X"]. */
export function ifTarget(ifindex: number, ifname?: string, netns?: string): string {
  return `ifindex ${ifindex}${ifname ? ` (${ifname})` : ''}${netns ? ` in namespace ${netns}` : ''}`;
}

/** Options for {@link attachXdpLink}. */
export interface XdpLinkOptions {
  /** Attach mode; the kernel picks driver mode when available if omitted. */
  mode?: XdpAttachMode;
  /** Interface name, only for error messages. */
  ifname?: string;
  /** Namespace name, only for error messages. */
  netns?: string;
}

/** Attaches an XDP program to an interface of the current namespace through a bpf_link. */
export function attachXdpLink(prog: Program, ifindex: number, opts: XdpLinkOptions = {}): Link {
  const hook = `xdp${opts.mode ? ` (${opts.mode})` : ''}`;
  try {
    const fd = linkCreate(
      prog.fd.raw,
      ifindex,
      AttachType.XDP,
      opts.mode ? XDP_MODE_FLAGS[opts.mode] : 0,
    );
    return new Link(fd, hook);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const hint =
      code === 'EBUSY' || code === 'EEXIST'
        ? 'another XDP program is already attached in this mode'
        : code === 'EOPNOTSUPP' && opts.mode === 'driver'
          ? 'the driver has no native XDP; try mode generic'
          : undefined;
    throw attachError(hook, ifTarget(ifindex, opts.ifname, opts.netns), err, hint);
  }
}

/** A tcx direction. */
export type TcxDirection = 'ingress' | 'egress';

/** Where a new program goes in a tcx (or other mprog) chain. */
export type Anchor =
  | { kind: 'head' }
  | { kind: 'tail' }
  | { kind: 'before' | 'after'; program: Program }
  | { kind: 'before' | 'after'; link: Link }
  | { kind: 'before' | 'after'; programId: number }
  | { kind: 'before' | 'after'; linkId: number };

/** Options for {@link attachTcxLink}. */
export interface TcxLinkOptions {
  direction: TcxDirection;
  /** Position in the chain; default: appended at the tail (the kernel's default). */
  anchor?: Anchor;
  /** Fail with ESTALE unless the chain's revision is exactly this (optimistic concurrency). */
  expectedRevision?: bigint | number;
  /** Interface name, only for error messages. */
  ifname?: string;
  /** Namespace name, only for error messages. */
  netns?: string;
}

/** BPF_F_* flags for mprog anchors. */
export const MPROG_FLAGS = { REPLACE: 4, BEFORE: 8, AFTER: 16, ID: 32, LINK: 8192 } as const;

/** Encodes an anchor as mprog flags and the relative fd or id. */
export function anchorFlags(anchor: Anchor | undefined): { flags: number; relative: number } {
  if (!anchor || anchor.kind === 'tail')
    return { flags: anchor ? MPROG_FLAGS.AFTER : 0, relative: 0 };
  if (anchor.kind === 'head') return { flags: MPROG_FLAGS.BEFORE, relative: 0 };
  const dir = anchor.kind === 'before' ? MPROG_FLAGS.BEFORE : MPROG_FLAGS.AFTER;
  if ('program' in anchor) return { flags: dir, relative: anchor.program.fd.raw };
  if ('link' in anchor) return { flags: dir | MPROG_FLAGS.LINK, relative: anchor.link.fd.raw };
  if ('programId' in anchor) return { flags: dir | MPROG_FLAGS.ID, relative: anchor.programId };
  return { flags: dir | MPROG_FLAGS.ID | MPROG_FLAGS.LINK, relative: anchor.linkId };
}

/** Attaches a SCHED_CLS program to a tcx hook of an interface in the current namespace. */
export function attachTcxLink(prog: Program, ifindex: number, opts: TcxLinkOptions): Link {
  const hook = `tcx ${opts.direction}`;
  const attachType = opts.direction === 'ingress' ? AttachType.TCXIngress : AttachType.TCXEgress;
  try {
    const { flags, relative } = anchorFlags(opts.anchor);
    const fd = linkCreate(prog.fd.raw, ifindex, attachType, flags, (a) => {
      a.u32(16, relative);
      if (opts.expectedRevision !== undefined) a.u64(24, BigInt(opts.expectedRevision));
    });
    return new Link(fd, hook);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const hint =
      code === 'ESTALE'
        ? 'the chain changed since the expected revision'
        : code === 'EINVAL' && prog.type !== 3
          ? 'tcx needs a sched_cls program'
          : undefined;
    throw attachError(hook, ifTarget(ifindex, opts.ifname, opts.netns), err, hint);
  }
}

/** One entry of a tcx chain as BPF_PROG_QUERY reports it. */
export interface ChainEntry {
  programId: number;
  linkId: number;
}

/** The programs on a tcx hook, in order, with the chain's revision. */
export function queryTcx(
  ifindex: number,
  direction: TcxDirection,
): { revision: bigint; entries: ChainEntry[] } {
  const attachType = direction === 'ingress' ? AttachType.TCXIngress : AttachType.TCXEgress;
  const cap = 64;
  const progIds = new Uint8Array(cap * 4);
  const linkIds = new Uint8Array(cap * 4);
  const a = new Attr()
    .u32(0, ifindex)
    .u32(4, attachType)
    .ptr(16, progIds)
    .u32(24, cap)
    .ptr(40, linkIds);
  sys().bpf(BpfCmd.PROG_QUERY, a.bytes);
  const n = a.getU32(24);
  const pdv = new DataView(progIds.buffer);
  const ldv = new DataView(linkIds.buffer);
  return {
    revision: a.getU64(56),
    entries: Array.from({ length: Math.min(n, cap) }, (_, i) => ({
      programId: pdv.getUint32(i * 4, true),
      linkId: ldv.getUint32(i * 4, true),
    })),
  };
}
