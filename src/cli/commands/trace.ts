/**
 * `iovisor trace TOOL`: the tracing tools with bcc/libbpf-tools' options and columns, JSON
 * lines with --json. Event tools print a row per event; aggregating tools print every
 * --interval seconds and once at the end (Ctrl-C or --duration).
 */
import { statSync } from 'node:fs';
import {
  drawLog2,
  type EventStream,
  type KeyedHistogram,
  type Log2Histogram,
  type PacketHop,
  type Sampler,
  biolatency,
  execsnoop,
  exitsnoop,
  funclatency,
  opensnoop,
  packets,
  profile,
  runqlat,
  syscount,
  tcpaccept,
  tcpconnect,
  tcplife,
  type ProfileSnapshot,
  type SyscountRow,
} from '../../trace/index.js';
import { type FlagSpec, type Parsed, parseArgs, UsageError } from '../args.js';
import { toJSONValue } from '../output.js';

/** Usage text. */
export const traceUsage = `iovisor trace TOOL [-p PID] [-t TID] [-c COMM] [--duration S] [--interval S] [--json]
  execsnoop [-x] [-T]            exec() calls: PCOMM PID PPID RET ARGS
  exitsnoop [-x] [--threads]     process exits: PCOMM PID PPID TID AGE(s) EXIT_CODE
  opensnoop [-x] [-n NAME] [-e]  opens: PID COMM FD ERR [FLAGS] PATH
  tcpconnect [--port N]          active TCP opens: PID COMM IP SADDR DADDR SPORT DPORT RESULT
  tcpaccept [--port N]           accepted TCP connections: PID COMM IP RADDR RPORT LADDR LPORT
  tcplife [-L LPORT] [-D RPORT]  TCP sessions: PID COMM LADDR LPORT RADDR RPORT TX_KB RX_KB MS
  runqlat [-P|--per-thread] [-m] run-queue latency histogram
  biolatency [-Q] [-D] [--disk NAME] [-m]  block I/O latency histogram
  syscount [-P] [-L] [-x] [-e ERRNO] [--syscall NAME] [--top N]  syscall counts
  funclatency --binary PATH --symbol NAME [-u|-m]  user function latency histogram (uprobes)
  profile [-F HZ] [-f] [-U|-K] [--idle]  CPU stack sampling (folded stacks with -f)
  packets [--host IP] [--src IP] [--dst IP] [--port N] [--proto icmp|tcp|udp] [--netns NAME]
                                 per-hop path of matching packets (device, hook, verdict)
  Common: --hook NAME forces a hook set (e.g. raw_tp); --count N stops after N events.`;

const SHORT: Record<string, string> = {
  '-p': '--pid',
  '-t': '--tid',
  '-c': '--comm',
  '-x': '--failed',
  '-T': '--timestamp',
  '-n': '--name',
  '-e': '--extended',
  '-P': '--per-process',
  '-m': '--milliseconds',
  '-u': '--microseconds',
  '-Q': '--queued',
  '-D': '--per-disk',
  '-L': '--latency',
  '-F': '--frequency',
  '-f': '--folded',
  '-U': '--user-only',
  '-K': '--kernel-only',
  '-d': '--duration',
  '-i': '--interval',
};

/** Short options whose meaning differs per tool, as in libbpf-tools. */
const TOOL_SHORT: Record<string, Record<string, string>> = {
  tcplife: { '-L': '--lport', '-D': '--rport' },
  syscount: { '-e': '--errno' },
};

const COMMON: FlagSpec = {
  pid: 'number',
  tid: 'number',
  comm: 'string',
  duration: 'number',
  interval: 'number',
  json: 'boolean',
  hook: 'string',
  count: 'number',
  timestamp: 'boolean',
};

const TOOL_FLAGS: Record<string, FlagSpec> = {
  execsnoop: { failed: 'boolean' },
  exitsnoop: { failed: 'boolean', threads: 'boolean' },
  opensnoop: { failed: 'boolean', name: 'string', extended: 'boolean' },
  tcpconnect: { port: 'number' },
  tcpaccept: { port: 'number' },
  tcplife: { lport: 'number', rport: 'number' },
  runqlat: { 'per-process': 'boolean', 'per-thread': 'boolean', milliseconds: 'boolean' },
  biolatency: {
    queued: 'boolean',
    'per-disk': 'boolean',
    disk: 'string',
    milliseconds: 'boolean',
  },
  syscount: {
    'per-process': 'boolean',
    latency: 'boolean',
    failed: 'boolean',
    errno: 'number',
    syscall: 'string',
    top: 'number',
    milliseconds: 'boolean',
  },
  funclatency: {
    binary: 'string',
    symbol: 'string',
    milliseconds: 'boolean',
    microseconds: 'boolean',
  },
  profile: {
    frequency: 'number',
    folded: 'boolean',
    'user-only': 'boolean',
    'kernel-only': 'boolean',
    idle: 'boolean',
  },
  packets: {
    host: 'string',
    src: 'string',
    dst: 'string',
    port: 'number',
    proto: 'string',
    family: 'number',
    netns: 'string',
    ifindex: 'number',
  },
};

// Output is batched: under an event flood one write per line costs more than decoding the
// event, and a slow reader loses events to a full ring. Lines go out when 256 are waiting, when
// the event loop next turns (the reader is waiting for the kernel), and before any exit path.
let outLines: string[] = [];
let outScheduled = false;
function flushOut(): void {
  outScheduled = false;
  if (outLines.length === 0) return;
  const text = outLines.join('\n') + '\n';
  outLines = [];
  process.stdout.write(text);
}
const out = (s: string): void => {
  outLines.push(s);
  if (outLines.length >= 256) flushOut();
  else if (!outScheduled) {
    outScheduled = true;
    setImmediate(flushOut);
  }
};
const jsonLine = (v: unknown): void => out(JSON.stringify(toJSONValue(v)));

/** Wall-clock HH:MM:SS of a CLOCK_MONOTONIC nanosecond timestamp. */
function clock(ts: bigint): string {
  const ms = Date.now() - Number(process.hrtime.bigint() - ts) / 1e6;
  return new Date(ms).toTimeString().slice(0, 8);
}

function num(p: Parsed, name: string): number | undefined {
  return p.flags[name] as number | undefined;
}
function bool(p: Parsed, name: string): boolean {
  return p.flags[name] === true;
}
function str(p: Parsed, name: string): string | undefined {
  return p.flags[name] as string | undefined;
}

function common(p: Parsed): { pid?: number; tid?: number; comm?: string; hook?: string } {
  const o: { pid?: number; tid?: number; comm?: string; hook?: string } = {};
  if (num(p, 'pid') !== undefined) o.pid = num(p, 'pid')!;
  if (num(p, 'tid') !== undefined) o.tid = num(p, 'tid')!;
  if (str(p, 'comm') !== undefined) o.comm = str(p, 'comm')!;
  if (str(p, 'hook') !== undefined) o.hook = str(p, 'hook')!;
  return o;
}

/** Stops `stop` on SIGINT/SIGTERM or after --duration; returns a disposer. */
function stopOn(p: Parsed, stop: () => void): () => void {
  const onSig = (): void => stop();
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  const d = num(p, 'duration');
  const timer = d !== undefined ? setTimeout(stop, d * 1000) : undefined;
  return () => {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    if (timer) clearTimeout(timer);
  };
}

function ready(tool: string, hook: string): void {
  process.stderr.write(`Tracing ${tool} (hook: ${hook})... Hit Ctrl-C to end.\n`);
}

/** Runs an event tool: header, one row per event (or JSON lines). */
async function runEvents<T>(
  p: Parsed,
  tool: string,
  stream: EventStream<T>,
  header: string,
  row: (e: T) => string,
): Promise<void> {
  const json = bool(p, 'json');
  const ts = bool(p, 'timestamp');
  const max = num(p, 'count');
  const dispose = stopOn(p, () => stream.stop());
  let n = 0;
  try {
    ready(tool, stream.hook);
    if (!json) out((ts ? 'TIME     ' : '') + header);
    for await (const e of stream) {
      if (json) jsonLine(e);
      else out((ts ? clock((e as { ts: bigint }).ts) + ' ' : '') + row(e));
      if (max !== undefined && ++n >= max) break;
    }
  } finally {
    const dropped = stream.dropped;
    stream.stop();
    dispose();
    flushOut();
    if (dropped > 0) process.stderr.write(`${tool}: ${dropped} event(s) dropped (ring full)\n`);
  }
}

/** Runs an aggregating tool: a report every --interval and at the end. */
async function runSampler<S>(
  p: Parsed,
  tool: string,
  s: Sampler<S>,
  print: (snap: S) => void,
  defaultInterval?: number,
): Promise<void> {
  const json = bool(p, 'json');
  const interval = num(p, 'interval') ?? defaultInterval;
  const dispose = stopOn(p, () => s.stop());
  try {
    ready(tool, s.hook);
    const ms = interval !== undefined ? interval * 1000 : 2 ** 31 - 1;
    for await (const snap of s.intervals(ms)) {
      if (json) jsonLine({ time: new Date().toISOString(), tool, data: snap });
      else {
        if (interval !== undefined) out(`\n${new Date().toTimeString().slice(0, 8)}`);
        print(snap);
      }
    }
  } finally {
    s.stop();
    dispose();
  }
}

function printHists(hs: KeyedHistogram[]): void {
  for (const h of hs) {
    if (h.label !== 'all') out(`\n${h.label}`);
    const d = drawLog2(h.hist);
    if (d) out(d);
    else out(`(no ${h.hist.unit} recorded)`);
  }
  if (hs.length === 0) out('(nothing recorded)');
}

function fmtTime(ns: number, ms: boolean): string {
  return ms ? (ns / 1e6).toFixed(3) : (ns / 1e3).toFixed(3);
}

function printSyscount(rows: SyscountRow[], p: Parsed): void {
  const top = num(p, 'top') ?? 10;
  const lat = bool(p, 'latency');
  const ms = bool(p, 'milliseconds');
  const what = bool(p, 'per-process') ? 'PID    COMM' : 'SYSCALL';
  out(
    `${what.padEnd(25)} ${'COUNT'.padStart(10)}${lat ? ` ${(ms ? 'TIME (ms)' : 'TIME (us)').padStart(14)}` : ''}`,
  );
  for (const r of rows.slice(0, top)) {
    const name = bool(p, 'per-process') ? `${String(r.key).padEnd(6)} ${r.name}` : r.name;
    out(
      `${name.padEnd(25)} ${String(r.count).padStart(10)}${lat ? ` ${fmtTime(r.totalNs, ms).padStart(14)}` : ''}`,
    );
  }
}

function netnsInode(v: string): number {
  if (/^\d+$/.test(v)) return Number(v);
  const p = v.includes('/') ? v : `/run/netns/${v}`;
  try {
    return statSync(p).ino;
  } catch (err) {
    throw new UsageError(`packets: --netns ${v}: ${(err as Error).message}`);
  }
}

function hopLine(h: PacketHop): string {
  const ports = h.proto === 'TCP' || h.proto === 'UDP';
  const flow = `${h.saddr}${ports ? ':' + h.sport : ''} > ${h.daddr}${ports ? ':' + h.dport : ''}`;
  const icmp =
    h.icmpType !== undefined ? ` type ${h.icmpType} id ${h.icmpId} seq ${h.icmpSeq}` : '';
  const verdict = h.verdict === 'drop' ? `drop(${h.reason})` : h.verdict;
  return `${h.skb.padEnd(18)} ${String(h.netns).padEnd(10)} ${(h.dev || '-').padEnd(12)} ${h.hook.padEnd(18)} ${verdict.padEnd(22)} ${h.proto.padEnd(6)} ${flow}${icmp} len ${h.len}`;
}

/** Runs `trace`. */
export async function traceCommand(argv: string[]): Promise<void> {
  try {
    await traceTool(argv);
  } finally {
    flushOut();
  }
}

async function traceTool(argv: string[]): Promise<void> {
  const [tool, ...rest0] = argv;
  if (tool === undefined || tool === 'help' || tool === '--help') throw new UsageError(traceUsage);
  const spec = TOOL_FLAGS[tool];
  if (!spec) throw new UsageError(`trace: unknown tool "${tool}"\n${traceUsage}`);
  const rest = rest0.map((a) => TOOL_SHORT[tool]?.[a] ?? SHORT[a] ?? a);
  // runqlat/biolatency/syscount take [interval [count]] positionally, as libbpf-tools do.
  const p = parseArgs(rest, { ...COMMON, ...spec }, `trace ${tool}`);
  if (p.positionals.length > 0) {
    const [iv, cnt] = p.positionals.map(Number);
    if (!Number.isFinite(iv))
      throw new UsageError(`trace ${tool}: unexpected "${p.positionals[0]}"`);
    p.flags.interval ??= iv;
    if (cnt !== undefined && Number.isFinite(cnt)) p.flags.duration ??= iv! * cnt;
  }
  const c = common(p);
  switch (tool) {
    case 'execsnoop':
      return runEvents(
        p,
        tool,
        execsnoop({ ...c, failedOnly: bool(p, 'failed') }),
        'PCOMM            PID     PPID    RET ARGS',
        (e) =>
          `${e.comm.padEnd(16)} ${String(e.pid).padEnd(7)} ${String(e.ppid).padEnd(7)} ${String(e.retval).padStart(3)} ${[e.filename, ...e.args].join(' ')}${e.truncated ? ' ...' : ''}`,
      );
    case 'exitsnoop':
      return runEvents(
        p,
        tool,
        exitsnoop({ ...c, failedOnly: bool(p, 'failed'), threads: bool(p, 'threads') }),
        'PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE',
        (e) =>
          `${e.comm.padEnd(16)} ${String(e.pid).padEnd(7)} ${String(e.ppid).padEnd(7)} ${String(e.tid).padEnd(7)} ${e.age.toFixed(2).padEnd(7)} ${
            e.signal
              ? `signal ${e.signal}${e.coreDumped ? ' (core dumped)' : ''}`
              : `code ${e.exitCode}`
          }`,
      );
    case 'opensnoop': {
      const ext = bool(p, 'extended');
      return runEvents(
        p,
        tool,
        opensnoop({
          ...c,
          failedOnly: bool(p, 'failed'),
          ...(str(p, 'name') !== undefined ? { name: str(p, 'name')! } : {}),
        }),
        `PID     COMM              FD ERR ${ext ? 'FLAGS    ' : ''}PATH`,
        (e) =>
          `${String(e.pid).padEnd(7)} ${e.comm.padEnd(16)} ${String(e.fd).padStart(3)} ${String(e.errno).padStart(3)} ${ext ? e.flags.toString(8).padStart(8, '0') + ' ' : ''}${e.path}`,
      );
    }
    case 'tcpconnect':
      return runEvents(
        p,
        tool,
        tcpconnect({ ...c, ...(num(p, 'port') !== undefined ? { port: num(p, 'port')! } : {}) }),
        'PID     COMM             IP SADDR            DADDR            SPORT  DPORT  RESULT',
        (e) =>
          `${String(e.pid).padEnd(7)} ${e.comm.padEnd(16)} ${e.ipVersion}  ${e.saddr.padEnd(16)} ${e.daddr.padEnd(16)} ${String(e.sport).padEnd(6)} ${String(e.dport).padEnd(6)} ${e.result}`,
      );
    case 'tcpaccept':
      return runEvents(
        p,
        tool,
        tcpaccept({ ...c, ...(num(p, 'port') !== undefined ? { port: num(p, 'port')! } : {}) }),
        'PID     COMM             IP RADDR            RPORT  LADDR            LPORT',
        (e) =>
          `${String(e.pid).padEnd(7)} ${e.comm.padEnd(16)} ${e.ipVersion}  ${e.raddr.padEnd(16)} ${String(e.rport).padEnd(6)} ${e.laddr.padEnd(16)} ${e.lport}`,
      );
    case 'tcplife': {
      const lport = num(p, 'lport');
      const rport = num(p, 'rport');
      return runEvents(
        p,
        tool,
        tcplife({
          ...c,
          ...(lport !== undefined ? { localPort: lport } : {}),
          ...(rport !== undefined ? { remotePort: rport } : {}),
        }),
        'PID     COMM             LADDR            LPORT RADDR            RPORT TX_KB  RX_KB  MS',
        (e) =>
          `${String(e.pid).padEnd(7)} ${e.comm.padEnd(16)} ${e.laddr.padEnd(16)} ${String(e.lport).padEnd(5)} ${e.raddr.padEnd(16)} ${String(e.rport).padEnd(5)} ${(e.txBytes / 1024).toFixed(2).padEnd(6)} ${(e.rxBytes / 1024).toFixed(2).padEnd(6)} ${e.durationMs.toFixed(2)}`,
      );
    }
    case 'runqlat':
      return runSampler(
        p,
        tool,
        runqlat({
          ...c,
          perProcess: bool(p, 'per-process'),
          perThread: bool(p, 'per-thread'),
          milliseconds: bool(p, 'milliseconds'),
        }),
        printHists,
      );
    case 'biolatency':
      return runSampler(
        p,
        tool,
        biolatency({
          queued: bool(p, 'queued'),
          perDisk: bool(p, 'per-disk'),
          milliseconds: bool(p, 'milliseconds'),
          ...(str(p, 'disk') !== undefined ? { disk: str(p, 'disk')! } : {}),
          ...(c.hook !== undefined ? { hook: c.hook } : {}),
        }),
        printHists,
      );
    case 'syscount': {
      const errno = num(p, 'errno');
      return runSampler(
        p,
        tool,
        syscount({
          ...c,
          perProcess: bool(p, 'per-process'),
          // Like libbpf-tools: latency only with -L (it costs a map update per call).
          latency: bool(p, 'latency'),
          failuresOnly: bool(p, 'failed'),
          ...(errno !== undefined ? { errno } : {}),
          ...(str(p, 'syscall') !== undefined ? { syscall: str(p, 'syscall')! } : {}),
        }),
        (rows) => printSyscount(rows, p),
      );
    }
    case 'funclatency': {
      const binary = str(p, 'binary');
      const symbol = str(p, 'symbol');
      if (!binary || !symbol)
        throw new UsageError('trace funclatency: --binary PATH and --symbol NAME are required');
      const unit = bool(p, 'milliseconds') ? 'msecs' : bool(p, 'microseconds') ? 'usecs' : 'nsecs';
      return runSampler(
        p,
        tool,
        funclatency({ ...c, binary, symbol, unit }),
        (h: Log2Histogram) => {
          const d = drawLog2(h);
          out(d || '(no calls)');
          if (h.count > 0)
            out(
              `\navg = ${(h.sum / h.count).toFixed(0)} ${h.unit}, total: ${h.sum} ${h.unit}, count: ${h.count}`,
            );
        },
      );
    }
    case 'profile': {
      const folded = bool(p, 'folded');
      return runSampler(
        p,
        tool,
        profile({
          ...c,
          ...(num(p, 'frequency') !== undefined ? { frequency: num(p, 'frequency')! } : {}),
          userOnly: bool(p, 'user-only'),
          kernelOnly: bool(p, 'kernel-only'),
          includeIdle: bool(p, 'idle'),
        }),
        (snap: ProfileSnapshot) => {
          for (const s of snap.stacks) {
            if (folded) {
              out(s.folded);
              continue;
            }
            for (const f of [...s.kernel].reverse()) out(`    ${f}`);
            if (s.kernel.length && s.user.length) out('    --');
            for (const f of [...s.user].reverse()) out(`    ${f}`);
            out(`    -                ${s.comm} (${s.pid})\n        ${s.count}\n`);
          }
        },
      );
    }
    case 'packets': {
      const proto = str(p, 'proto');
      const fam = num(p, 'family');
      if (fam !== undefined && fam !== 4 && fam !== 6)
        throw new UsageError('trace packets: --family is 4 or 6');
      return runEvents(
        p,
        tool,
        packets({
          ...(str(p, 'host') !== undefined ? { host: str(p, 'host')! } : {}),
          ...(str(p, 'src') !== undefined ? { src: str(p, 'src')! } : {}),
          ...(str(p, 'dst') !== undefined ? { dst: str(p, 'dst')! } : {}),
          ...(num(p, 'port') !== undefined ? { port: num(p, 'port')! } : {}),
          ...(proto !== undefined ? { proto } : {}),
          ...(fam !== undefined ? { family: fam as 4 | 6 } : {}),
          ...(str(p, 'netns') !== undefined ? { netns: netnsInode(str(p, 'netns')!) } : {}),
          ...(num(p, 'ifindex') !== undefined ? { ifindex: num(p, 'ifindex')! } : {}),
          ...(c.hook !== undefined ? { hook: c.hook } : {}),
        }),
        `${'SKB'.padEnd(18)} ${'NETNS'.padEnd(10)} ${'DEV'.padEnd(12)} ${'HOOK'.padEnd(18)} ${'VERDICT'.padEnd(22)} ${'PROTO'.padEnd(6)} FLOW`,
        hopLine,
      );
    }
  }
}
