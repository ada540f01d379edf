/**
 * Attaching programs to hooks: bpf_links (XDP, tcx, tracepoint, raw_tp, tp_btf/fentry/fexit,
 * uprobe, cgroup, perf_event sampling) with pin/update/detach, plus legacy attachments where
 * the kernel has no link for a hook.
 */
export {
  AttachError,
  LegacyAttachment,
  Link,
  LinkType,
  PerfEventLinkKind,
  attachError,
  kernelReason,
  linkInfoByFd,
  linkTypeName,
  type Attachment,
  type LinkInfo,
  type LinkUpdateOptions,
} from './link.js';
export {
  MPROG_FLAGS,
  anchorFlags,
  attachTcxLink,
  attachXdpLink,
  ifTarget,
  queryTcx,
  type Anchor,
  type ChainEntry,
  type TcxDirection,
  type TcxLinkOptions,
  type XdpAttachMode,
  type XdpLinkOptions,
} from './net.js';
export {
  AttachmentGroup,
  PERF_EVENT_IOC,
  PerfHwConfig,
  PerfSwConfig,
  PerfType,
  attachKprobe,
  attachPerfEvent,
  attachToPerfEvent,
  attachTracepoint,
  attachUprobe,
  encodePerfAttr,
  haveKprobes,
  PerfEventLink,
  tracefsRoot,
  tracepointId,
  type PerfEventAttr,
  type PerfSamplingOptions,
  type UprobeOptions,
} from './perf-event.js';
export {
  attachCgroup,
  attachRawTracepoint,
  attachSocketFilter,
  attachTracing,
  type CgroupOptions,
  type TracingOptions,
} from './tracing.js';
export { elfFunctionSymbols, symbolFileOffset, type ElfSymbol } from './elf-symbols.js';
