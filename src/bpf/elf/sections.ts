/**
 * libbpf's SEC() name table: what program type and expected attach type a section name means.
 * Matching follows libbpf's `sec_def_matches`: a pattern ending in "+" matches the name exactly
 * or followed by "/..."; one ending in "/" needs that prefix; anything else must match exactly.
 */
import { AttachType, ProgramType } from '../types.js';

/** What a section name says about its program. */
export interface SectionDef {
  /** The pattern that matched, e.g. "tp_btf+". */
  pattern: string;
  programType: ProgramType;
  attachType?: AttachType;
  /** The attach type may be left out at load time (libbpf's SEC_EXP_ATTACH_OPT). */
  attachOptional: boolean;
  /** The text after "/" names a BTF target (tp_btf, fentry, ...). */
  attachBtf: boolean;
  sleepable: boolean;
  xdpFrags: boolean;
  /** The part after the first "/", e.g. "syscalls/sys_enter_openat" for "tracepoint/...". */
  target: string;
}

type Row = [string, ProgramType, AttachType | undefined, string?];
const P = ProgramType;
const A = AttachType;

// Order matters: the first match wins, as in libbpf.
const TABLE: Row[] = [
  ['socket', P.SocketFilter, undefined],
  ['sk_reuseport/migrate', P.SkReuseport, A.SkReuseportSelectOrMigrate, 'opt'],
  ['sk_reuseport', P.SkReuseport, A.SkReuseportSelect, 'opt'],
  ['kprobe+', P.Kprobe, undefined],
  ['uprobe+', P.Kprobe, undefined],
  ['uprobe.s+', P.Kprobe, undefined, 'sleep'],
  ['kretprobe+', P.Kprobe, undefined],
  ['uretprobe+', P.Kprobe, undefined],
  ['uretprobe.s+', P.Kprobe, undefined, 'sleep'],
  ['kprobe.multi+', P.Kprobe, A.TraceKprobeMulti],
  ['kretprobe.multi+', P.Kprobe, A.TraceKprobeMulti],
  ['kprobe.session+', P.Kprobe, A.TraceKprobeSession],
  ['uprobe.multi+', P.Kprobe, A.TraceUprobeMulti],
  ['uretprobe.multi+', P.Kprobe, A.TraceUprobeMulti],
  ['uprobe.multi.s+', P.Kprobe, A.TraceUprobeMulti, 'sleep'],
  ['uretprobe.multi.s+', P.Kprobe, A.TraceUprobeMulti, 'sleep'],
  ['uprobe.session+', P.Kprobe, A.TraceUprobeSession],
  ['ksyscall+', P.Kprobe, undefined],
  ['kretsyscall+', P.Kprobe, undefined],
  ['usdt+', P.Kprobe, undefined],
  ['usdt.s+', P.Kprobe, undefined, 'sleep'],
  ['tc/ingress', P.SchedCls, A.TCXIngress],
  ['tc/egress', P.SchedCls, A.TCXEgress],
  ['tcx/ingress', P.SchedCls, A.TCXIngress],
  ['tcx/egress', P.SchedCls, A.TCXEgress],
  ['tc', P.SchedCls, undefined],
  ['classifier', P.SchedCls, undefined],
  ['action', P.SchedAct, undefined],
  ['netkit/primary', P.SchedCls, A.NetkitPrimary],
  ['netkit/peer', P.SchedCls, A.NetkitPeer],
  ['tracepoint+', P.Tracepoint, undefined],
  ['tp+', P.Tracepoint, undefined],
  ['raw_tracepoint+', P.RawTracepoint, undefined],
  ['raw_tp+', P.RawTracepoint, undefined],
  ['raw_tracepoint.w+', P.RawTracepointWritable, undefined],
  ['raw_tp.w+', P.RawTracepointWritable, undefined],
  ['tp_btf+', P.Tracing, A.TraceRawTp, 'btf'],
  ['fentry+', P.Tracing, A.TraceFentry, 'btf'],
  ['fmod_ret+', P.Tracing, A.ModifyReturn, 'btf'],
  ['fexit+', P.Tracing, A.TraceFexit, 'btf'],
  ['fentry.s+', P.Tracing, A.TraceFentry, 'btf,sleep'],
  ['fmod_ret.s+', P.Tracing, A.ModifyReturn, 'btf,sleep'],
  ['fexit.s+', P.Tracing, A.TraceFexit, 'btf,sleep'],
  ['freplace+', P.Extension, undefined, 'btf'],
  ['lsm+', P.LSM, A.LSMMac, 'btf'],
  ['lsm.s+', P.LSM, A.LSMMac, 'btf,sleep'],
  ['lsm_cgroup+', P.LSM, A.LSMCgroup, 'btf'],
  ['iter+', P.Tracing, A.TraceIter, 'btf'],
  ['iter.s+', P.Tracing, A.TraceIter, 'btf,sleep'],
  ['syscall', P.Syscall, undefined, 'sleep'],
  ['xdp.frags/devmap', P.XDP, A.XDPDevMap, 'frags'],
  ['xdp/devmap', P.XDP, A.XDPDevMap],
  ['xdp.frags/cpumap', P.XDP, A.XDPCPUMap, 'frags'],
  ['xdp/cpumap', P.XDP, A.XDPCPUMap],
  ['xdp.frags', P.XDP, A.XDP, 'frags'],
  ['xdp', P.XDP, A.XDP, 'opt'],
  ['perf_event', P.PerfEvent, undefined],
  ['lwt_in', P.LWTIn, undefined],
  ['lwt_out', P.LWTOut, undefined],
  ['lwt_xmit', P.LWTXmit, undefined],
  ['lwt_seg6local', P.LWTSeg6Local, undefined],
  ['sockops', P.SockOps, A.CgroupSockOps, 'opt'],
  ['sk_skb/stream_parser', P.SkSKB, A.SkSKBStreamParser, 'opt'],
  ['sk_skb/stream_verdict', P.SkSKB, A.SkSKBStreamVerdict, 'opt'],
  ['sk_skb/verdict', P.SkSKB, A.SkSKBVerdict, 'opt'],
  ['sk_skb', P.SkSKB, undefined],
  ['sk_msg', P.SkMsg, A.SkMsgVerdict, 'opt'],
  ['lirc_mode2', P.LircMode2, A.LircMode2, 'opt'],
  ['flow_dissector', P.FlowDissector, A.FlowDissector, 'opt'],
  ['cgroup_skb/ingress', P.CgroupSKB, A.CgroupInetIngress, 'opt'],
  ['cgroup_skb/egress', P.CgroupSKB, A.CgroupInetEgress, 'opt'],
  ['cgroup/skb', P.CgroupSKB, undefined],
  ['cgroup/sock_create', P.CgroupSock, A.CgroupInetSockCreate],
  ['cgroup/sock_release', P.CgroupSock, A.CgroupInetSockRelease],
  ['cgroup/sock', P.CgroupSock, A.CgroupInetSockCreate, 'opt'],
  ['cgroup/post_bind4', P.CgroupSock, A.CgroupInet4PostBind],
  ['cgroup/post_bind6', P.CgroupSock, A.CgroupInet6PostBind],
  ['cgroup/bind4', P.CgroupSockAddr, A.CgroupInet4Bind],
  ['cgroup/bind6', P.CgroupSockAddr, A.CgroupInet6Bind],
  ['cgroup/connect4', P.CgroupSockAddr, A.CgroupInet4Connect],
  ['cgroup/connect6', P.CgroupSockAddr, A.CgroupInet6Connect],
  ['cgroup/connect_unix', P.CgroupSockAddr, A.CgroupUnixConnect],
  ['cgroup/sendmsg4', P.CgroupSockAddr, A.CgroupUDP4Sendmsg],
  ['cgroup/sendmsg6', P.CgroupSockAddr, A.CgroupUDP6Sendmsg],
  ['cgroup/sendmsg_unix', P.CgroupSockAddr, A.CgroupUnixSendmsg],
  ['cgroup/recvmsg4', P.CgroupSockAddr, A.CgroupUDP4Recvmsg],
  ['cgroup/recvmsg6', P.CgroupSockAddr, A.CgroupUDP6Recvmsg],
  ['cgroup/recvmsg_unix', P.CgroupSockAddr, A.CgroupUnixRecvmsg],
  ['cgroup/getpeername4', P.CgroupSockAddr, A.CgroupInet4Getpeername],
  ['cgroup/getpeername6', P.CgroupSockAddr, A.CgroupInet6Getpeername],
  ['cgroup/getpeername_unix', P.CgroupSockAddr, A.CgroupUnixGetpeername],
  ['cgroup/getsockname4', P.CgroupSockAddr, A.CgroupInet4Getsockname],
  ['cgroup/getsockname6', P.CgroupSockAddr, A.CgroupInet6Getsockname],
  ['cgroup/getsockname_unix', P.CgroupSockAddr, A.CgroupUnixGetsockname],
  ['cgroup/sysctl', P.CgroupSysctl, A.CgroupSysctl],
  ['cgroup/getsockopt', P.CgroupSockopt, A.CgroupGetsockopt],
  ['cgroup/setsockopt', P.CgroupSockopt, A.CgroupSetsockopt],
  ['cgroup/dev', P.CgroupDevice, A.CgroupDevice, 'opt'],
  ['struct_ops+', P.StructOps, undefined],
  ['struct_ops.s+', P.StructOps, undefined, 'sleep'],
  ['sk_lookup', P.SkLookup, A.SkLookup],
  ['netfilter', P.Netfilter, A.Netfilter],
];

/** A table row with its pattern taken apart once, so matching allocates nothing. */
interface Compiled {
  row: Row;
  /** 0: exact, 1: "x+" (x or x/...), 2: "x/" (prefix). */
  mode: 0 | 1 | 2;
  /** The pattern without its "+", and that plus "/". */
  base: string;
  baseSlash: string;
}

const COMPILED: Compiled[] = TABLE.map((row) => {
  const pattern = row[0];
  if (pattern.endsWith('+')) {
    const base = pattern.slice(0, -1);
    return { row, mode: 1, base, baseSlash: base + '/' };
  }
  if (pattern.endsWith('/')) return { row, mode: 2, base: pattern, baseSlash: pattern };
  return { row, mode: 0, base: pattern, baseSlash: pattern };
});

function matches(c: Compiled, name: string): boolean {
  switch (c.mode) {
    case 1:
      return name === c.base || name.startsWith(c.baseSlash);
    case 2:
      return name.startsWith(c.base);
    default:
      return name === c.base;
  }
}

/** Answers so far: objects reuse a few section names, and the table is long. Bounded. */
const memo = new Map<string, SectionDef | null>();
const MEMO_MAX = 4096;

/**
 * Looks a section name up in the table; undefined when nothing matches. The result may be
 * shared between calls: do not modify it.
 */
export function sectionDef(name: string): SectionDef | undefined {
  const hit = memo.get(name);
  if (hit !== undefined) return hit ?? undefined;
  const def = lookup(name);
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(name, def ?? null);
  return def;
}

function lookup(name: string): SectionDef | undefined {
  for (const c of COMPILED) {
    if (!matches(c, name)) continue;
    const [pattern, programType, attachType, flags = ''] = c.row;
    const slash = name.indexOf('/');
    return {
      pattern,
      programType,
      attachType,
      attachOptional: flags.includes('opt'),
      attachBtf: flags.includes('btf'),
      sleepable: flags.includes('sleep'),
      xdpFrags: flags.includes('frags'),
      target: slash < 0 ? '' : name.slice(slash + 1),
    };
  }
  return undefined;
}

/** Every pattern in the table, for documentation and `iovisor feature`. */
export function sectionPatterns(): string[] {
  return TABLE.map((r) => r[0]);
}
