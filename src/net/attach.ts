/**
 * Attaching network programs by interface NAME, optionally inside a named network namespace.
 * bpf_link creation resolves the ifindex in the calling thread's namespace, so the lookup and
 * the BPF_LINK_CREATE both happen inside {@link withNetns}; the link then lives on after the
 * thread returns home (it holds the device, not the namespace). Legacy paths (netlink IFLA_XDP,
 * clsact + cls_bpf) serve kernels without XDP links or tcx.
 */
import {
  AttachError,
  attachTcxLink,
  attachXdpLink,
  ifTarget,
  kernelReason,
  LegacyAttachment,
  type Anchor,
  type Attachment,
  type Link,
  type XdpAttachMode,
} from '../bpf/link/index.js';
import type { Program } from '../bpf/program.js';
import { ProgramType, programTypeName } from '../bpf/types.js';
import { isErrno } from '../sys/index.js';
import { getLinkByName, withSocket } from './link.js';
import { netnsExists, withNetns } from './netns.js';
import {
  addClsactQdisc,
  attachTcBpf,
  attachXdpNetlink,
  detachTcBpf,
  detachXdpNetlink,
  type TcDirection,
} from './tc.js';

/** Where to attach: an interface name, in a named namespace or ours. */
export interface DevTarget {
  /** Interface name, e.g. "veth0". */
  dev: string;
  /** Namespace name under /run/netns (or an nsfs path); default: the caller's. */
  netns?: string;
}

function where(t: DevTarget, ifindex?: number): string {
  if (ifindex !== undefined) return ifTarget(ifindex, t.dev, t.netns);
  return t.netns ? `${t.dev} in namespace ${t.netns}` : t.dev;
}

/** Runs `fn(ifindex)` in the target's namespace with the device resolved there. */
function inTarget<T>(hook: string, t: DevTarget, fn: (ifindex: number) => T): T {
  const run = (): T => {
    let index: number;
    try {
      index = withSocket(undefined, (s) => getLinkByName(s, t.dev)).index;
    } catch (err) {
      if (isErrno(err, 'ENODEV')) {
        throw new AttachError(
          hook,
          where(t),
          `no interface ${t.dev} in namespace ${t.netns ?? '(current)'}`,
          err,
        );
      }
      throw new AttachError(hook, where(t), kernelReason(err), err);
    }
    return fn(index);
  };
  if (t.netns === undefined) return run();
  if (!t.netns.includes('/') && !netnsExists(t.netns))
    throw new AttachError(hook, where(t), `namespace ${t.netns} does not exist`);
  try {
    return withNetns(t.netns, run);
  } catch (err) {
    if (err instanceof AttachError) throw err;
    if (isErrno(err, 'ENOENT'))
      throw new AttachError(hook, where(t), `namespace ${t.netns} does not exist`, err);
    throw new AttachError(hook, where(t), kernelReason(err), err);
  }
}

/** Refuses a program of the wrong type up front: the kernel's EINVAL would not say why. */
function requireType(prog: Program, want: ProgramType, hook: string, t: DevTarget): void {
  if (prog.type !== want) {
    throw new AttachError(
      hook,
      where(t),
      `program ${prog.name} is ${programTypeName(prog.type)}, ${hook.split(' ')[0]} needs ${programTypeName(want)}`,
    );
  }
}

/** Options for {@link attachXdp}. */
export interface AttachXdpOptions extends DevTarget {
  /** generic (skb), driver (native) or hw; default: the kernel's choice (driver if possible). */
  mode?: XdpAttachMode;
  /**
   * Use netlink IFLA_XDP even where XDP links exist ('netlink'), or only links ('link').
   * Default 'auto': a bpf_link, falling back to netlink when the kernel has no XDP links.
   */
  via?: 'auto' | 'link' | 'netlink';
}

/**
 * Attaches an XDP program to interface `dev` (in namespace `netns`). Returns a {@link Link}
 * (pin it to keep it after exit) or, on the netlink path, a {@link LegacyAttachment} that stays
 * until detached.
 */
export function attachXdp(prog: Program, opts: AttachXdpOptions): Attachment {
  const hook = `xdp${opts.mode ? ` (${opts.mode})` : ''}`;
  requireType(prog, ProgramType.XDP, hook, opts);
  const via = opts.via ?? 'auto';
  if (via !== 'netlink') {
    try {
      return inTarget(hook, opts, (ifindex) =>
        attachXdpLink(prog, ifindex, { mode: opts.mode, ifname: opts.dev, netns: opts.netns }),
      );
    } catch (err) {
      // No XDP links (kernel < 5.9) shows as EINVAL from LINK_CREATE; anything else is final.
      if (via === 'link' || !(err instanceof AttachError) || err.code !== 'EINVAL') throw err;
    }
  }
  const mode = opts.mode;
  return inTarget(`${hook} via netlink`, opts, () => {
    try {
      attachXdpNetlink(opts.dev, prog.fd.raw, mode === undefined ? {} : { mode });
    } catch (err) {
      throw new AttachError(`${hook} via netlink`, where(opts), kernelReason(err), err);
    }
    const netns = opts.netns;
    return new LegacyAttachment(
      hook,
      () => detachXdpNetlink(opts.dev, { ...(netns ? { netns } : {}), ...(mode ? { mode } : {}) }),
      false,
    );
  });
}

/** Options for {@link attachTcx}. */
export interface AttachTcxOptions extends DevTarget {
  direction: TcDirection;
  /** Position in the chain (default: tail). */
  anchor?: Anchor;
  /** Refuse (ESTALE) unless the chain is at this revision. */
  expectedRevision?: bigint | number;
}

/** Attaches a SCHED_CLS program to tcx ingress/egress of `dev` (in namespace `netns`). */
export function attachTcx(prog: Program, opts: AttachTcxOptions): Link {
  const hook = `tcx ${opts.direction}`;
  requireType(prog, ProgramType.SchedCls, hook, opts);
  return inTarget(hook, opts, (ifindex) =>
    attachTcxLink(prog, ifindex, {
      direction: opts.direction,
      anchor: opts.anchor,
      expectedRevision: opts.expectedRevision,
      ifname: opts.dev,
      netns: opts.netns,
    }),
  );
}

/** Options for {@link attachTc}. */
export interface AttachTcOptions extends DevTarget {
  direction: TcDirection;
  /** cls_bpf priority (default 1) and handle (default 1). */
  priority?: number;
  handle?: number;
  /** Replace a filter at the same priority/handle. */
  replace?: boolean;
}

/**
 * Attaches a SCHED_CLS program the legacy way: clsact qdisc (added if missing) plus a cls_bpf
 * filter in direct-action mode, over netlink. For kernels without tcx. The filter stays until
 * the returned attachment's detach().
 */
export function attachTc(prog: Program, opts: AttachTcOptions): LegacyAttachment {
  const hook = `tc ${opts.direction}`;
  const netns = opts.netns;
  const ns = netns ? { netns } : {};
  // Resolve the namespace and device first for clear errors.
  inTarget(hook, opts, () => undefined);
  let id: { priority: number; handle: number };
  try {
    addClsactQdisc(opts.dev, ns);
    id = attachTcBpf(opts.dev, opts.direction, prog.fd.raw, {
      ...ns,
      name: prog.name,
      ...(opts.priority === undefined ? {} : { priority: opts.priority }),
      ...(opts.handle === undefined ? {} : { handle: opts.handle }),
      ...(opts.replace ? { replace: true } : {}),
    });
  } catch (err) {
    const hint = isErrno(err, 'EEXIST') ? ' (a filter with this priority and handle exists)' : '';
    throw new AttachError(hook, where(opts), kernelReason(err) + hint, err);
  }
  return new LegacyAttachment(
    hook,
    () => detachTcBpf(opts.dev, opts.direction, { ...ns, ...id }),
    false,
  );
}
