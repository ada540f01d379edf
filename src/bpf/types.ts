/** Kernel enums from include/uapi/linux/bpf.h, named as libbpf and bpftool print them. */

/** enum bpf_prog_type. */
export enum ProgramType {
  Unspec = 0,
  SocketFilter = 1,
  Kprobe = 2,
  SchedCls = 3,
  SchedAct = 4,
  Tracepoint = 5,
  XDP = 6,
  PerfEvent = 7,
  CgroupSKB = 8,
  CgroupSock = 9,
  LWTIn = 10,
  LWTOut = 11,
  LWTXmit = 12,
  SockOps = 13,
  SkSKB = 14,
  CgroupDevice = 15,
  SkMsg = 16,
  RawTracepoint = 17,
  CgroupSockAddr = 18,
  LWTSeg6Local = 19,
  LircMode2 = 20,
  SkReuseport = 21,
  FlowDissector = 22,
  CgroupSysctl = 23,
  RawTracepointWritable = 24,
  CgroupSockopt = 25,
  Tracing = 26,
  StructOps = 27,
  Extension = 28,
  LSM = 29,
  SkLookup = 30,
  Syscall = 31,
  Netfilter = 32,
}

/** enum bpf_map_type. */
export enum MapType {
  Unspec = 0,
  Hash = 1,
  Array = 2,
  ProgArray = 3,
  PerfEventArray = 4,
  PerCPUHash = 5,
  PerCPUArray = 6,
  StackTrace = 7,
  CgroupArray = 8,
  LRUHash = 9,
  LRUPerCPUHash = 10,
  LPMTrie = 11,
  ArrayOfMaps = 12,
  HashOfMaps = 13,
  DevMap = 14,
  SockMap = 15,
  CPUMap = 16,
  XSKMap = 17,
  SockHash = 18,
  CgroupStorage = 19,
  ReuseportSockArray = 20,
  PerCPUCgroupStorage = 21,
  Queue = 22,
  Stack = 23,
  SkStorage = 24,
  DevMapHash = 25,
  StructOps = 26,
  RingBuf = 27,
  InodeStorage = 28,
  TaskStorage = 29,
  BloomFilter = 30,
  UserRingBuf = 31,
  CgrpStorage = 32,
  Arena = 33,
}

/** enum bpf_attach_type. */
export enum AttachType {
  CgroupInetIngress = 0,
  CgroupInetEgress = 1,
  CgroupInetSockCreate = 2,
  CgroupSockOps = 3,
  SkSKBStreamParser = 4,
  SkSKBStreamVerdict = 5,
  CgroupDevice = 6,
  SkMsgVerdict = 7,
  CgroupInet4Bind = 8,
  CgroupInet6Bind = 9,
  CgroupInet4Connect = 10,
  CgroupInet6Connect = 11,
  CgroupInet4PostBind = 12,
  CgroupInet6PostBind = 13,
  CgroupUDP4Sendmsg = 14,
  CgroupUDP6Sendmsg = 15,
  LircMode2 = 16,
  FlowDissector = 17,
  CgroupSysctl = 18,
  CgroupUDP4Recvmsg = 19,
  CgroupUDP6Recvmsg = 20,
  CgroupGetsockopt = 21,
  CgroupSetsockopt = 22,
  TraceRawTp = 23,
  TraceFentry = 24,
  TraceFexit = 25,
  ModifyReturn = 26,
  LSMMac = 27,
  TraceIter = 28,
  CgroupInet4Getpeername = 29,
  CgroupInet6Getpeername = 30,
  CgroupInet4Getsockname = 31,
  CgroupInet6Getsockname = 32,
  XDPDevMap = 33,
  CgroupInetSockRelease = 34,
  XDPCPUMap = 35,
  SkLookup = 36,
  XDP = 37,
  SkSKBVerdict = 38,
  SkReuseportSelect = 39,
  SkReuseportSelectOrMigrate = 40,
  PerfEvent = 41,
  TraceKprobeMulti = 42,
  LSMCgroup = 43,
  StructOps = 44,
  Netfilter = 45,
  TCXIngress = 46,
  TCXEgress = 47,
  TraceUprobeMulti = 48,
  CgroupUnixConnect = 49,
  CgroupUnixSendmsg = 50,
  CgroupUnixRecvmsg = 51,
  CgroupUnixGetpeername = 52,
  CgroupUnixGetsockname = 53,
  NetkitPrimary = 54,
  NetkitPeer = 55,
  TraceKprobeSession = 56,
  TraceUprobeSession = 57,
}

/** The lower-case name bpftool prints for a program type, e.g. "sched_cls". */
export function programTypeName(t: ProgramType): string {
  const special: Partial<Record<ProgramType, string>> = {
    [ProgramType.SchedCls]: 'sched_cls',
    [ProgramType.SchedAct]: 'sched_act',
    [ProgramType.CgroupSKB]: 'cgroup_skb',
    [ProgramType.CgroupSock]: 'cgroup_sock',
    [ProgramType.CgroupSockAddr]: 'cgroup_sock_addr',
    [ProgramType.RawTracepoint]: 'raw_tracepoint',
    [ProgramType.RawTracepointWritable]: 'raw_tracepoint_writable',
    [ProgramType.SocketFilter]: 'socket_filter',
    [ProgramType.PerfEvent]: 'perf_event',
    [ProgramType.LWTSeg6Local]: 'lwt_seg6local',
  };
  return (
    special[t] ?? (ProgramType[t] ?? `type ${t}`).replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase()
  );
}

/** The lower-case name bpftool prints for a map type, e.g. "percpu_hash". */
export function mapTypeName(t: MapType): string {
  const special: Partial<Record<MapType, string>> = {
    [MapType.PerCPUHash]: 'percpu_hash',
    [MapType.PerCPUArray]: 'percpu_array',
    [MapType.LRUHash]: 'lru_hash',
    [MapType.LRUPerCPUHash]: 'lru_percpu_hash',
    [MapType.LPMTrie]: 'lpm_trie',
    [MapType.DevMap]: 'devmap',
    [MapType.DevMapHash]: 'devmap_hash',
    [MapType.CPUMap]: 'cpumap',
    [MapType.XSKMap]: 'xskmap',
    [MapType.SockMap]: 'sockmap',
    [MapType.SockHash]: 'sockhash',
    [MapType.RingBuf]: 'ringbuf',
    [MapType.UserRingBuf]: 'user_ringbuf',
    [MapType.PerCPUCgroupStorage]: 'percpu_cgroup_storage',
  };
  return (
    special[t] ?? (MapType[t] ?? `type ${t}`).replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase()
  );
}

/** True for map types whose values are stored once per possible CPU. */
export function isPerCPU(t: MapType): boolean {
  return (
    t === MapType.PerCPUHash ||
    t === MapType.PerCPUArray ||
    t === MapType.LRUPerCPUHash ||
    t === MapType.PerCPUCgroupStorage
  );
}
