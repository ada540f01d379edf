/**
 * bpf_link: the kernel object that ties a program to a hook. A link detaches when its last
 * reference goes (our fd, a bpffs pin, or the owning object), can be pinned to outlive the
 * process, atomically swapped to a new program (BPF_LINK_UPDATE) and force-detached
 * (BPF_LINK_DETACH). Older hooks without links (perf ioctl, PROG_ATTACH, SO_ATTACH_BPF, netlink)
 * are represented by {@link LegacyAttachment} so callers handle both alike.
 */
import { BpfCmd, SysError, isErrno, sys } from '../../sys/index.js';
import { Attr, StructReader } from '../attr.js';
import { FD, fdById, nextIds, objInfo, openPinnedFd, pinFd } from '../fd.js';
import type { Program } from '../program.js';
import { AttachType } from '../types.js';
import { rmSync } from 'node:fs';

/** enum bpf_link_type. */
export enum LinkType {
  Unspec = 0,
  RawTracepoint = 1,
  Tracing = 2,
  Cgroup = 3,
  Iter = 4,
  Netns = 5,
  XDP = 6,
  PerfEvent = 7,
  KprobeMulti = 8,
  StructOps = 9,
  Netfilter = 10,
  TCX = 11,
  UprobeMulti = 12,
  Netkit = 13,
  Sockmap = 14,
}

/** The lower-case name bpftool prints for a link type, e.g. "raw_tracepoint". */
export function linkTypeName(t: LinkType): string {
  const special: Partial<Record<LinkType, string>> = {
    [LinkType.RawTracepoint]: 'raw_tracepoint',
    [LinkType.XDP]: 'xdp',
    [LinkType.TCX]: 'tcx',
    [LinkType.PerfEvent]: 'perf_event',
    [LinkType.KprobeMulti]: 'kprobe_multi',
    [LinkType.UprobeMulti]: 'uprobe_multi',
    [LinkType.StructOps]: 'struct_ops',
  };
  return special[t] ?? (LinkType[t] ?? `type ${t}`).toLowerCase();
}

/** enum bpf_perf_event_type, reported for perf_event links. */
export enum PerfEventLinkKind {
  Unspec = 0,
  Uprobe = 1,
  Uretprobe = 2,
  Kprobe = 3,
  Kretprobe = 4,
  Tracepoint = 5,
  Event = 6,
}

/** What the kernel reports about a link (bpf_link_info), with the type-specific part decoded. */
export interface LinkInfo {
  id: number;
  type: LinkType;
  typeName: string;
  progId: number;
  /** Type-specific fields, named as bpftool prints them. */
  details: Record<string, string | number | bigint>;
}

const LINK_INFO_SIZE = 64;

function decodeDetails(fd: number, r: StructReader): Record<string, string | number | bigint> {
  const type = r.u32(0) as LinkType;
  switch (type) {
    case LinkType.RawTracepoint: {
      const len = r.u32(24);
      if (len === 0) return {};
      const name = new Uint8Array(len);
      objInfo(fd, LINK_INFO_SIZE, (info) => {
        const dv = new DataView(info.buffer);
        dv.setBigUint64(16, sys().address(name), true);
        dv.setUint32(24, len, true);
      });
      return { tp_name: new StructReader(name).str(0, len) };
    }
    case LinkType.Tracing:
      return {
        attach_type: AttachType[r.u32(16)] ?? r.u32(16),
        target_obj_id: r.u32(20),
        target_btf_id: r.u32(24),
      };
    case LinkType.Cgroup:
      return { cgroup_id: r.u64(16), attach_type: AttachType[r.u32(24)] ?? r.u32(24) };
    case LinkType.Netns:
      return { netns_ino: r.u32(16), attach_type: AttachType[r.u32(20)] ?? r.u32(20) };
    case LinkType.XDP:
      return { ifindex: r.u32(16) };
    case LinkType.TCX:
    case LinkType.Netkit:
      return { ifindex: r.u32(16), attach_type: AttachType[r.u32(20)] ?? r.u32(20) };
    case LinkType.PerfEvent: {
      const kind = r.u32(16) as PerfEventLinkKind;
      const out: Record<string, string | number | bigint> = {
        event_type: (PerfEventLinkKind[kind] ?? String(kind)).toLowerCase(),
      };
      if (kind === PerfEventLinkKind.Event) {
        out.config = r.u64(24);
        out.type = r.u32(32);
        return out;
      }
      // uprobe file_name / kprobe func_name / tracepoint tp_name share the layout ptr@24 len@32.
      const name = new Uint8Array(256);
      try {
        const r2 = new StructReader(
          objInfo(fd, LINK_INFO_SIZE, (info) => {
            const dv = new DataView(info.buffer);
            dv.setBigUint64(24, sys().address(name), true);
            dv.setUint32(32, name.byteLength, true);
          }),
        );
        const key =
          kind === PerfEventLinkKind.Tracepoint
            ? 'tp_name'
            : kind === PerfEventLinkKind.Uprobe || kind === PerfEventLinkKind.Uretprobe
              ? 'file_name'
              : 'func_name';
        out[key] = new StructReader(name).str(0, name.byteLength);
        if (kind !== PerfEventLinkKind.Tracepoint) out.offset = r2.u32(36);
      } catch {
        // Older kernels do not fill perf_event details; the kind alone is still useful.
      }
      return out;
    }
    default:
      return {};
  }
}

/** Reads bpf_link_info from a link fd. */
export function linkInfoByFd(fd: number): LinkInfo {
  const r = new StructReader(objInfo(fd, LINK_INFO_SIZE));
  const type = r.u32(0) as LinkType;
  return {
    type,
    typeName: linkTypeName(type),
    id: r.u32(4),
    progId: r.u32(8),
    details: decodeDetails(fd, r),
  };
}

/**
 * An attach failure: names the hook, the target and the kernel's reason, e.g.
 * `attach tcx ingress to ifindex 7 (veth0): ENODEV: no such device`.
 */
export class AttachError extends Error {
  /** The errno name when the kernel refused ("ENODEV"), else undefined. */
  readonly code?: string;
  constructor(
    /** The hook, e.g. "tcx ingress", "tracepoint syscalls/sys_enter_openat". */
    readonly hook: string,
    /** What it was attached to, e.g. "ifindex 7 (veth0)"; empty when the hook has no target. */
    readonly target: string,
    reason: string,
    cause?: unknown,
  ) {
    super(`attach ${hook}${target ? ` to ${target}` : ''}: ${reason}`, { cause });
    this.name = 'AttachError';
    this.code = errCode(cause);
  }
}

function errCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; e && i < 8; i++) {
    if (e instanceof SysError) return e.code;
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && /^E[A-Z0-9]+$/.test(c)) return c;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The kernel's reason without the syscall prefix: "ENODEV: no such device". */
export function kernelReason(err: unknown): string {
  if (err instanceof SysError) return err.message.slice(err.syscall.length + 2);
  return err instanceof Error ? err.message : String(err);
}

/** Wraps a failure as an {@link AttachError}, adding a hint for codes that need one. */
export function attachError(hook: string, target: string, err: unknown, hint?: string): Error {
  if (err instanceof AttachError) return err;
  const reason = kernelReason(err) + (hint ? ` (${hint})` : '');
  return new AttachError(hook, target, reason, err);
}

/** Something attached to a hook: a bpf_link or a legacy attachment. */
export interface Attachment {
  /** The hook, for messages ("xdp", "tcx ingress", ...). */
  readonly hook: string;
  /** Detaches the program from the hook. */
  detach(): void;
  /** Releases our handle. For an unpinned link or a legacy attachment this detaches. */
  close(): void;
}

/** Options for {@link Link.update}. */
export interface LinkUpdateOptions {
  /** Replace only if this program is the one attached (BPF_F_REPLACE with old_prog_fd). */
  expectOld?: Program;
}

const BPF_F_REPLACE = 4;

/** A bpf_link. */
export class Link implements Attachment {
  readonly fd: FD;

  constructor(
    fd: number,
    readonly hook: string,
  ) {
    this.fd = new FD(fd, `link ${hook}`);
  }

  /** Opens a link pinned in bpffs. */
  static openPinned(path: string): Link {
    let fd: number;
    try {
      fd = openPinnedFd(path);
    } catch (err) {
      throw new Error(`open pinned link ${path}: ${kernelReason(err)}`, { cause: err });
    }
    try {
      const info = linkInfoByFd(fd);
      return new Link(fd, info.typeName);
    } catch (err) {
      sys().close(fd);
      throw new Error(`open pinned link ${path}: not a link: ${kernelReason(err)}`, {
        cause: err,
      });
    }
  }

  /** Opens a link by kernel id. */
  static fromId(id: number): Link {
    let fd: number;
    try {
      fd = fdById(BpfCmd.LINK_GET_FD_BY_ID, id);
    } catch (err) {
      throw new Error(`open link id ${id}: ${kernelReason(err)}`, { cause: err });
    }
    try {
      return new Link(fd, linkInfoByFd(fd).typeName);
    } catch (err) {
      sys().close(fd);
      throw err;
    }
  }

  /** Ids of every link in the kernel. */
  static ids(): number[] {
    return [...nextIds(BpfCmd.LINK_GET_NEXT_ID)];
  }

  /** The kernel's view of this link. */
  info(): LinkInfo {
    return linkInfoByFd(this.fd.raw);
  }

  /** Pins the link so it outlives this process. */
  pin(path: string): void {
    try {
      pinFd(this.fd.raw, path);
    } catch (err) {
      throw new Error(`link ${this.hook}: pin at ${path}: ${kernelReason(err)}`, { cause: err });
    }
  }

  /** Removes a pin (the link stays while other references exist). */
  unpin(path: string): void {
    rmSync(path, { force: true });
  }

  /** Atomically replaces the link's program (BPF_LINK_UPDATE): no packet sees no program. */
  update(newProg: Program, opts: LinkUpdateOptions = {}): void {
    const a = new Attr().u32(0, this.fd.raw).u32(4, newProg.fd.raw);
    if (opts.expectOld) a.u32(8, BPF_F_REPLACE).u32(12, opts.expectOld.fd.raw);
    try {
      sys().bpf(BpfCmd.LINK_UPDATE, a.bytes);
    } catch (err) {
      // With BPF_F_REPLACE the kernel answers EPERM when the link no longer runs expectOld:
      // say that, not the generic "need root" hint.
      const reason =
        opts.expectOld && isErrno(err, 'EPERM')
          ? `EPERM: the link no longer runs program ${opts.expectOld.name} (expectOld did not match)`
          : kernelReason(err);
      throw new Error(`link ${this.hook}: update to program ${newProg.name}: ${reason}`, {
        cause: err,
      });
    }
  }

  /**
   * Detaches the program now (BPF_LINK_DETACH), even if the link is pinned or shared; the
   * link object stays (defunct) until its last reference goes.
   */
  detach(): void {
    try {
      sys().bpf(BpfCmd.LINK_DETACH, new Attr().u32(0, this.fd.raw).bytes);
    } catch (err) {
      const reason = isErrno(err, 'EOPNOTSUPP', 'ENOTSUP')
        ? 'the kernel cannot detach this link type while it is referenced; unpin it and ' +
          'close every handle instead'
        : kernelReason(err);
      throw new Error(`link ${this.hook}: detach: ${reason}`, { cause: err });
    }
  }

  /** Closes our fd; an unpinned link detaches when this was its last reference. */
  close(): void {
    this.fd.close();
  }
}

/**
 * An attachment that is not a bpf_link: a perf event with PERF_EVENT_IOC_SET_BPF, a
 * PROG_ATTACH to a cgroup, SO_ATTACH_BPF on a socket, or a netlink attachment. It cannot be
 * pinned or updated. Closing it detaches, except for attachments the kernel keeps without any
 * handle of ours (netlink XDP and cls_bpf), which stay until {@link detach}.
 */
export class LegacyAttachment implements Attachment {
  private done = false;
  constructor(
    readonly hook: string,
    private readonly undo: () => void,
    /** False for attachments that outlive the process (netlink): close() then only forgets. */
    readonly detachOnClose = true,
  ) {}

  /** Detaches (idempotent). */
  detach(): void {
    if (this.done) return;
    this.done = true;
    this.undo();
  }

  /** Detaches unless the attachment is one the kernel keeps on its own (see constructor). */
  close(): void {
    if (this.detachOnClose) this.detach();
    else this.done = true;
  }
}

/** BPF_LINK_CREATE with the common header; `extra` fills the type-specific union at 16. */
export function linkCreate(
  progFd: number,
  target: number,
  attachType: AttachType,
  flags = 0,
  extra?: (a: Attr) => void,
): number {
  const a = new Attr().u32(0, progFd).u32(4, target).u32(8, attachType).u32(12, flags);
  extra?.(a);
  return sys().bpf(BpfCmd.LINK_CREATE, a.bytes);
}
