/**
 * Event tools: execsnoop, exitsnoop, opensnoop, tcpconnect, tcpaccept, tcplife. Each starts
 * its programs and returns an {@link EventStream} of typed events.
 */
import { constants } from 'node:os';
import { attachRawTracepoint, attachTracepoint, attachTracing } from '../bpf/link/index.js';
import {
  attachAll,
  type CommonOptions,
  cstr,
  EventStream,
  filterVariables,
  formatAddr,
  type HookSet,
  loadTool,
  view,
} from './core.js';

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(constants.errno).map(([name, n]) => [n, name]),
);

/** The errno name of a positive errno value ("ENOENT"), or its number. */
export function errnoName(n: number): string {
  return ERRNO_NAMES.get(n) ?? String(n);
}

/** Two hook sets for programs on syscall tracepoints with a raw_tp sys_enter/sys_exit twin. */
function syscallHooks(tps: [prog: string, name: string][], raw: string[]): HookSet[] {
  return [
    {
      name: 'tracepoint',
      programs: tps.map(([p]) => p),
      attach: (c) =>
        attachAll(
          tps.map(
            ([p, name]) =>
              () =>
                attachTracepoint(c.program(p), 'syscalls', name),
          ),
        ),
    },
    {
      name: 'raw_tp',
      programs: raw,
      attach: (c) =>
        attachAll(raw.map((p) => () => attachRawTracepoint(c.program(p), p.replace(/^raw_/, '')))),
    },
  ];
}

// ---------------------------------------------------------------------------------- execsnoop

/** One exec. */
export interface ExecEvent {
  /** CLOCK_MONOTONIC nanoseconds at the syscall's return. */
  ts: bigint;
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  /** comm after the call (the new program's name on success). */
  comm: string;
  /** The path passed to execve. */
  filename: string;
  /** argv[1..] (argv[0] is usually the filename). */
  args: string[];
  /** 0, or -errno. */
  retval: number;
  /** More arguments than kept (20, 128 bytes each). */
  truncated: boolean;
}

/** Options for {@link execsnoop}. */
export interface ExecsnoopOptions extends CommonOptions {
  /** Only failed execs. */
  failedOnly?: boolean;
}

function decodeExec(b: Uint8Array): ExecEvent {
  const dv = view(b);
  const argsSize = dv.getUint32(32, true);
  const parts = Buffer.from(b.subarray(56, 56 + argsSize))
    .toString('utf8')
    .split('\0');
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return {
    ts: dv.getBigUint64(0, true),
    pid: dv.getUint32(8, true),
    tid: dv.getUint32(12, true),
    ppid: dv.getUint32(16, true),
    uid: dv.getUint32(20, true),
    retval: dv.getInt32(24, true),
    truncated: dv.getUint32(36, true) !== 0,
    comm: cstr(b, 40, 16),
    filename: parts[0] ?? '',
    args: parts.slice(1),
  };
}

/** Traces exec(2) calls with their arguments and return codes. */
export function execsnoop(opts: ExecsnoopOptions = {}): EventStream<ExecEvent> {
  const loaded = loadTool(
    'execsnoop',
    filterVariables(opts),
    syscallHooks(
      [
        ['tp_enter_execve', 'sys_enter_execve'],
        ['tp_enter_execveat', 'sys_enter_execveat'],
        ['tp_exit_execve', 'sys_exit_execve'],
        ['tp_exit_execveat', 'sys_exit_execveat'],
      ],
      ['raw_sys_enter', 'raw_sys_exit'],
    ),
    opts.hook,
  );
  return new EventStream(
    'execsnoop',
    loaded,
    (b) => {
      const e = decodeExec(b);
      return opts.failedOnly && e.retval === 0 ? undefined : e;
    },
    opts.signal,
  );
}

// ---------------------------------------------------------------------------------- exitsnoop

/** One process (or thread) exit. */
export interface ExitEvent {
  ts: bigint;
  pid: number;
  tid: number;
  ppid: number;
  comm: string;
  /** exit(2) status (the high byte of the wait status). */
  exitCode: number;
  /** The signal that killed it (0 when it exited), without the core-dump bit. */
  signal: number;
  /** Whether it dumped core. */
  coreDumped: boolean;
  /** Seconds from process start to exit. */
  age: number;
}

/** Options for {@link exitsnoop}. */
export interface ExitsnoopOptions extends CommonOptions {
  /** Report every thread's exit, not only whole processes. */
  threads?: boolean;
  /** Only non-zero exit codes and signals. */
  failedOnly?: boolean;
}

/** Traces process exits with exit code, signal and age. */
export function exitsnoop(opts: ExitsnoopOptions = {}): EventStream<ExitEvent> {
  const vars = {
    ...filterVariables(opts),
    trace_threads: opts.threads ? 1 : 0,
    trace_failed_only: opts.failedOnly ? 1 : 0,
  };
  const loaded = loadTool(
    'exitsnoop',
    vars,
    [
      {
        name: 'tp_btf',
        programs: ['btf_sched_process_exit'],
        attach: (c) => [attachTracing(c.program('btf_sched_process_exit'))],
      },
      {
        name: 'tracepoint',
        programs: ['tp_sched_process_exit'],
        attach: (c) => [
          attachTracepoint(c.program('tp_sched_process_exit'), 'sched', 'sched_process_exit'),
        ],
      },
    ],
    opts.hook,
  );
  return new EventStream(
    'exitsnoop',
    loaded,
    (b) => {
      const dv = view(b);
      const sig = dv.getUint32(36, true);
      const start = dv.getBigUint64(8, true);
      const end = dv.getBigUint64(16, true);
      return {
        ts: dv.getBigUint64(0, true),
        pid: dv.getUint32(24, true),
        tid: dv.getUint32(28, true),
        ppid: dv.getUint32(32, true),
        exitCode: dv.getInt32(40, true),
        signal: sig & 0x7f,
        coreDumped: (sig & 0x80) !== 0,
        comm: cstr(b, 48, 16),
        age: Number(end - start) / 1e9,
      };
    },
    opts.signal,
  );
}

// ---------------------------------------------------------------------------------- opensnoop

/** One open. */
export interface OpenEvent {
  ts: bigint;
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  path: string;
  /** open flags (O_*). */
  flags: number;
  mode: number;
  /** The fd returned, or -1 on error. */
  fd: number;
  /** 0, or the errno of a failed call. */
  errno: number;
  /** Name of errno ("ENOENT"), empty on success. */
  error: string;
  syscall: 'open' | 'openat' | 'openat2';
}

/** Options for {@link opensnoop}. */
export interface OpensnoopOptions extends CommonOptions {
  /** Only failed opens. */
  failedOnly?: boolean;
  /** Only paths containing this substring (checked in user space). */
  name?: string;
}

const OPEN_NR: Record<number, OpenEvent['syscall']> = { 2: 'open', 257: 'openat', 437: 'openat2' };

/** Traces open/openat/openat2 with path, flags and result. */
export function opensnoop(opts: OpensnoopOptions = {}): EventStream<OpenEvent> {
  const vars = { ...filterVariables(opts), trace_failed_only: opts.failedOnly ? 1 : 0 };
  const loaded = loadTool(
    'opensnoop',
    vars,
    syscallHooks(
      [
        ['tp_enter_open', 'sys_enter_open'],
        ['tp_enter_openat', 'sys_enter_openat'],
        ['tp_enter_openat2', 'sys_enter_openat2'],
        ['tp_exit_open', 'sys_exit_open'],
        ['tp_exit_openat', 'sys_exit_openat'],
        ['tp_exit_openat2', 'sys_exit_openat2'],
      ],
      ['raw_sys_enter', 'raw_sys_exit'],
    ),
    opts.hook,
  );
  return new EventStream(
    'opensnoop',
    loaded,
    (b) => {
      const dv = view(b);
      const ret = dv.getInt32(20, true);
      const path = cstr(b, 64, 256);
      if (opts.name !== undefined && !path.includes(opts.name)) return undefined;
      return {
        ts: dv.getBigUint64(0, true),
        pid: dv.getUint32(8, true),
        tid: dv.getUint32(12, true),
        uid: dv.getUint32(16, true),
        fd: ret >= 0 ? ret : -1,
        errno: ret < 0 ? -ret : 0,
        error: ret < 0 ? errnoName(-ret) : '',
        flags: Number(dv.getBigUint64(24, true)),
        mode: Number(dv.getBigUint64(32, true)),
        syscall: OPEN_NR[dv.getUint32(40, true)] ?? 'openat',
        comm: cstr(b, 48, 16),
        path,
      };
    },
    opts.signal,
  );
}

// ---------------------------------------------------------------------------------- tcp tools

/** TCP states (include/net/tcp_states.h). */
export const TCP_STATES = [
  '',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
  'BOUND_INACTIVE',
];

const AF_INET = 2;

/** The one hook set of the TCP state tools: sock/inet_sock_set_state. */
function sockStateHooks(): HookSet[] {
  return [
    {
      name: 'tracepoint',
      programs: ['inet_sock_set_state'],
      attach: (c) => [
        attachTracepoint(c.program('inet_sock_set_state'), 'sock', 'inet_sock_set_state'),
      ],
    },
  ];
}

/** One active TCP open. */
export interface ConnectEvent {
  ts: bigint;
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  /** 4 or 6. */
  ipVersion: 4 | 6;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  /** "established", or "failed" when the handshake ended in CLOSE (refused, timed out). */
  result: 'established' | 'failed';
  /** connect() until the handshake finished, in nanoseconds. */
  latencyNs: number;
}

/** Options for {@link tcpconnect}. */
export interface TcpconnectOptions extends CommonOptions {
  /** Only connections to this destination port. */
  port?: number;
}

/** Traces active TCP opens (connect) with their outcome, from sock/inet_sock_set_state. */
export function tcpconnect(opts: TcpconnectOptions = {}): EventStream<ConnectEvent> {
  const vars = { ...filterVariables(opts), targ_dport: opts.port ?? 0 };
  const loaded = loadTool('tcpconnect', vars, sockStateHooks(), opts.hook);
  return new EventStream(
    'tcpconnect',
    loaded,
    (b) => {
      const dv = view(b);
      const family = dv.getUint16(28, true);
      return {
        ts: dv.getBigUint64(0, true),
        latencyNs: Number(dv.getBigUint64(8, true)),
        pid: dv.getUint32(16, true),
        tid: dv.getUint32(20, true),
        uid: dv.getUint32(24, true),
        ipVersion: family === AF_INET ? 4 : 6,
        sport: dv.getUint16(30, true),
        dport: dv.getUint16(32, true),
        result: dv.getUint16(34, true) === 1 ? 'established' : 'failed',
        saddr: formatAddr(family, b.subarray(40, 56)),
        daddr: formatAddr(family, b.subarray(56, 72)),
        comm: cstr(b, 72, 16),
      };
    },
    opts.signal,
  );
}

/** One accepted TCP connection. */
export interface AcceptEvent {
  ts: bigint;
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  /** The new socket's fd. */
  fd: number;
  ipVersion: 4 | 6;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
}

/** Options for {@link tcpaccept}. */
export interface TcpacceptOptions extends CommonOptions {
  /** Only connections accepted on this local port. */
  port?: number;
}

/** Traces accepted TCP connections (accept/accept4 returning a TCP socket). */
export function tcpaccept(opts: TcpacceptOptions = {}): EventStream<AcceptEvent> {
  const vars = { ...filterVariables(opts), targ_lport: opts.port ?? 0 };
  const loaded = loadTool(
    'tcpaccept',
    vars,
    syscallHooks(
      [
        ['tp_exit_accept', 'sys_exit_accept'],
        ['tp_exit_accept4', 'sys_exit_accept4'],
      ],
      ['raw_sys_exit'],
    ),
    opts.hook,
  );
  return new EventStream(
    'tcpaccept',
    loaded,
    (b) => {
      const dv = view(b);
      const family = dv.getUint16(24, true);
      return {
        ts: dv.getBigUint64(0, true),
        pid: dv.getUint32(8, true),
        tid: dv.getUint32(12, true),
        uid: dv.getUint32(16, true),
        fd: dv.getInt32(20, true),
        ipVersion: family === AF_INET ? 4 : 6,
        lport: dv.getUint16(26, true),
        rport: dv.getUint16(28, true),
        laddr: formatAddr(family, b.subarray(32, 48)),
        raddr: formatAddr(family, b.subarray(48, 64)),
        comm: cstr(b, 64, 16),
      };
    },
    opts.signal,
  );
}

/** One closed TCP session. */
export interface LifeEvent {
  ts: bigint;
  pid: number;
  tid: number;
  comm: string;
  ipVersion: 4 | 6;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  /** Bytes acknowledged by the peer (sent). */
  txBytes: number;
  /** Bytes received. */
  rxBytes: number;
  /** Lifetime in milliseconds (from the last state change before FIN_WAIT1). */
  durationMs: number;
}

/** Options for {@link tcplife}. */
export interface TcplifeOptions extends CommonOptions {
  /** Only sessions with this local port. */
  localPort?: number;
  /** Only sessions with this remote port. */
  remotePort?: number;
}

/** Traces TCP sessions as they close: duration and bytes each way. */
export function tcplife(opts: TcplifeOptions = {}): EventStream<LifeEvent> {
  const vars = {
    ...filterVariables({ ...opts, pid: undefined }),
    ...(opts.pid !== undefined ? { targ_tgid: opts.pid } : {}),
    targ_sport: opts.localPort ?? 0,
    targ_dport: opts.remotePort ?? 0,
  };
  const loaded = loadTool('tcplife', vars, sockStateHooks(), opts.hook);
  return new EventStream(
    'tcplife',
    loaded,
    (b) => {
      const dv = view(b);
      const family = dv.getUint16(40, true);
      return {
        ts: dv.getBigUint64(0, true),
        durationMs: Number(dv.getBigUint64(8, true)) / 1e6,
        rxBytes: Number(dv.getBigUint64(16, true)),
        txBytes: Number(dv.getBigUint64(24, true)),
        pid: dv.getUint32(32, true),
        tid: dv.getUint32(36, true),
        ipVersion: family === AF_INET ? 4 : 6,
        lport: dv.getUint16(42, true),
        rport: dv.getUint16(44, true),
        laddr: formatAddr(family, b.subarray(48, 64)),
        raddr: formatAddr(family, b.subarray(64, 80)),
        comm: cstr(b, 80, 16),
      };
    },
    opts.signal,
  );
}
