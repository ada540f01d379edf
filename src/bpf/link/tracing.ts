/**
 * Tracing hooks that need no perf event: raw tracepoints by name, BTF-typed tracing programs
 * (tp_btf, fentry, fexit, fmod_ret, lsm), cgroups and socket filters.
 */
import { openSync, closeSync, constants as fsc } from 'node:fs';
import { BpfCmd, isErrno, sys } from '../../sys/index.js';
import { Attr } from '../attr.js';
import type { Program } from '../program.js';
import { AttachType, ProgramType } from '../types.js';
import { attachError, type Attachment, LegacyAttachment, Link, linkCreate } from './link.js';

/** BPF_RAW_TRACEPOINT_OPEN: `name` NULL for BTF tracing programs (their target is in the program). */
function rawTracepointOpen(progFd: number, name: string | undefined): number {
  const n = name === undefined ? undefined : new TextEncoder().encode(name + '\0');
  const a = new Attr().ptr(0, n).u32(8, progFd);
  return sys().bpf(BpfCmd.RAW_TRACEPOINT_OPEN, a.bytes);
}

/** Attaches a RAW_TRACEPOINT program to raw tracepoint `name` (e.g. "sys_enter"). */
export function attachRawTracepoint(prog: Program, name: string): Link {
  const hook = `raw_tp ${name}`;
  try {
    return new Link(rawTracepointOpen(prog.fd.raw, name), hook);
  } catch (err) {
    const hint = isErrno(err, 'ENOENT') ? `no raw tracepoint named ${name}` : undefined;
    throw attachError(hook, '', err, hint);
  }
}

const TRACING_HOOKS: Partial<Record<AttachType, string>> = {
  [AttachType.TraceRawTp]: 'tp_btf',
  [AttachType.TraceFentry]: 'fentry',
  [AttachType.TraceFexit]: 'fexit',
  [AttachType.ModifyReturn]: 'fmod_ret',
  [AttachType.LSMMac]: 'lsm',
};

/** Options for {@link attachTracing}. */
export interface TracingOptions {
  /** The expected attach type the program was loaded with (default: from its spec). */
  attachType?: AttachType;
  /** The target, only for messages (default: the spec's attachTo). */
  target?: string;
  /** A cookie for bpf_get_attach_cookie. */
  cookie?: bigint;
}

/**
 * Attaches a BTF tracing program (tp_btf, fentry, fexit, fmod_ret, lsm); its target was fixed
 * at load time. Uses BPF_LINK_CREATE, falling back to BPF_RAW_TRACEPOINT_OPEN with a NULL name
 * on kernels without tracing links.
 */
export function attachTracing(prog: Program, opts: TracingOptions = {}): Link {
  const attachType =
    opts.attachType ??
    prog.spec?.attachType ??
    (prog.type === ProgramType.LSM ? AttachType.LSMMac : AttachType.TraceRawTp);
  const kind = TRACING_HOOKS[attachType] ?? `tracing (${AttachType[attachType] ?? attachType})`;
  const target = opts.target ?? prog.spec?.attachTo ?? '';
  const hook = target ? `${kind} ${target}` : kind;
  try {
    const fd = linkCreate(prog.fd.raw, 0, attachType, 0, (a) => {
      if (opts.cookie !== undefined) a.u64(24, opts.cookie);
    });
    return new Link(fd, hook);
  } catch (err) {
    const loadedAs = prog.spec?.attachType;
    if (loadedAs !== undefined && loadedAs !== attachType) {
      throw attachError(
        hook,
        '',
        err,
        `the program was loaded for ${TRACING_HOOKS[loadedAs] ?? AttachType[loadedAs]}, not ${kind}`,
      );
    }
    if (isErrno(err, 'EINVAL') && opts.cookie === undefined) {
      try {
        return new Link(rawTracepointOpen(prog.fd.raw, undefined), hook);
      } catch {
        // Report the LINK_CREATE error: it is the one from the modern path.
      }
    }
    const trampoline =
      attachType === AttachType.TraceFentry ||
      attachType === AttachType.TraceFexit ||
      attachType === AttachType.ModifyReturn;
    const hint =
      trampoline && isErrno(err, 'ENOTSUPP', 'EOPNOTSUPP', 'ENOTSUP', 'EINVAL', 'EBUSY', 'ENODEV')
        ? 'this kernel refuses fentry/fexit/fmod_ret attachment (no BPF trampoline for the target); see "iovisor feature probe"'
        : undefined;
    throw attachError(hook, '', err, hint);
  }
}

/** Options for {@link attachCgroup}. */
export interface CgroupOptions {
  /** The hook (default: the program's expected attach type from its spec). */
  attachType?: AttachType;
}

const BPF_F_ALLOW_MULTI = 2;

/**
 * Attaches a cgroup program to a cgroup v2 directory: a bpf_link when the kernel has cgroup
 * links, else BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI (detached on close).
 */
export function attachCgroup(
  prog: Program,
  cgroupPath: string,
  opts: CgroupOptions = {},
): Attachment {
  const attachType = opts.attachType ?? prog.spec?.attachType;
  const hook = `cgroup ${attachType === undefined ? '?' : (AttachType[attachType] ?? attachType)}`;
  if (attachType === undefined)
    throw attachError(hook, cgroupPath, new Error('no attach type: pass attachType'));
  let cg: number;
  try {
    cg = openSync(cgroupPath, fsc.O_RDONLY | fsc.O_DIRECTORY);
  } catch (err) {
    throw attachError(hook, cgroupPath, err);
  }
  try {
    const fd = linkCreate(prog.fd.raw, cg, attachType);
    closeSync(cg);
    return new Link(fd, hook);
  } catch (err) {
    if (!isErrno(err, 'EINVAL')) {
      closeSync(cg);
      throw attachError(hook, cgroupPath, err);
    }
  }
  const attr = (): Attr =>
    new Attr().u32(0, cg).u32(4, prog.fd.raw).u32(8, attachType).u32(12, BPF_F_ALLOW_MULTI);
  try {
    sys().bpf(BpfCmd.PROG_ATTACH, attr().bytes);
  } catch (err) {
    closeSync(cg);
    throw attachError(hook, cgroupPath, err);
  }
  return new LegacyAttachment(hook, () => {
    try {
      sys().bpf(BpfCmd.PROG_DETACH, attr().bytes);
    } finally {
      closeSync(cg);
    }
  });
}

const SOL_SOCKET = 1;
const SO_ATTACH_BPF = 50;
const SO_DETACH_BPF = 27;

/** Attaches a SOCKET_FILTER program to a socket fd (SO_ATTACH_BPF); close() detaches it. */
export function attachSocketFilter(prog: Program, socketFd: number): LegacyAttachment {
  const hook = 'socket filter';
  try {
    sys().setsockoptInt(socketFd, SOL_SOCKET, SO_ATTACH_BPF, prog.fd.raw);
  } catch (err) {
    throw attachError(hook, `socket fd ${socketFd}`, err);
  }
  return new LegacyAttachment(hook, () =>
    sys().setsockoptInt(socketFd, SOL_SOCKET, SO_DETACH_BPF, 0),
  );
}
