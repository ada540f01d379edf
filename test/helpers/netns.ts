/**
 * Throwaway network topologies for integration tests: uniquely named namespaces
 * (`iovt-<pid>-<n>`) joined by veth pairs, addressed from 198.18.0.0/15 (and 2001:db8::/32),
 * links up, always torn down in `finally`. Built with src/net (no `ip` for set-up); `ip netns
 * exec` is used only to run traffic and checks inside a namespace.
 *
 * ```ts
 * await withTopology({ hosts: ['a', 'b'], links: [{ a: 'a', b: 'b', ipv6: true }] }, async (net) => {
 *   const [l] = net.links;
 *   assert.ok(await net.ping('a', l.b.ip4));
 * });
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  addAddress,
  addNeighbor,
  addRoute,
  createNetns,
  createVeth,
  deleteNetns,
  linkByName,
  listNetns,
  setLinkUp,
  setSysctl,
  type RouteSpec,
} from '../../src/net/index.js';

/** A veth link between two hosts of a topology. */
export interface LinkSpec {
  a: string;
  b: string;
  /** Also assign 2001:db8:<n>::1/64 and ::2/64 (without DAD, so usable at once). */
  ipv6?: boolean;
  mtu?: number;
}

/** What to build. Host names are logical; namespaces get unique names. */
export interface TopologySpec {
  hosts: string[];
  links?: LinkSpec[];
  /** Hosts that forward packets (net.ipv4.ip_forward and IPv6 forwarding on). */
  routers?: string[];
  /** Add permanent ARP/ND entries for each link's peer, so no packet is spent resolving. */
  staticNeighbors?: boolean;
}

/** One side of a link. */
export interface Endpoint {
  host: string;
  /** The namespace name (for `ip netns exec` or the `{ netns }` option). */
  ns: string;
  ifname: string;
  ifindex: number;
  mac: string;
  /** "198.18.<n>.1" or ".2". */
  ip4: string;
  /** ip4 with its /24. */
  cidr4: string;
  ip6?: string;
  cidr6?: string;
}

/** A built link: both ends and their subnets. */
export interface TopoLink {
  a: Endpoint;
  b: Endpoint;
  subnet4: string;
  subnet6?: string;
}

/** Result of a command run inside a namespace. */
export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let counter = 0;
const NS_PREFIX = 'iovt-';

/** A fresh namespace name, unique within this process and across processes: iovt-<pid>-<n>. */
export function uniqueNsName(): string {
  return `${NS_PREFIX}${process.pid}-${++counter}`;
}

/** Children started by these helpers and the namespace each runs in, so teardown stops those. */
const children = new Map<ChildProcess, string>();

/**
 * Runs `cmd args` inside namespace `ns` through `ip netns exec` and collects its output. The
 * timeout only guards against hangs (the child is killed and the result says so).
 */
export function exec(
  ns: string,
  cmd: string,
  args: string[] = [],
  opts: { timeoutMs?: number; input?: string } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.set(child, ns);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      children.delete(child);
      reject(new Error(`exec in ${ns}: ${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
    // A command that exits before reading stdin must not turn into an EPIPE crash.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Like {@link exec} but fails with the command's stderr unless it exits 0. */
export async function execOk(ns: string, cmd: string, args: string[] = []): Promise<string> {
  const r = await exec(ns, cmd, args);
  if (r.code !== 0) {
    throw new Error(
      `in ${ns}: ${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}: ${r.stderr.trim()}`,
    );
  }
  return r.stdout;
}

const RECEIVER = `
const dgram = require('node:dgram');
const [family, addr, port] = process.argv.slice(1);
const s = dgram.createSocket(family === '6' ? 'udp6' : 'udp4');
let count = 0, bytes = 0, pending = false;
const report = () => process.stdout.write(JSON.stringify({ count, bytes }) + '\\n');
s.on('message', (m) => {
  count++; bytes += m.length;
  if (!pending) { pending = true; setImmediate(() => { pending = false; report(); }); }
});
s.on('error', (e) => { process.stderr.write(String(e) + '\\n'); process.exit(2); });
s.bind(Number(port), addr, () => process.stdout.write('ready ' + s.address().port + '\\n'));
process.stdin.on('end', () => { report(); process.exit(0); });
process.stdin.resume();
`;

const SENDER = `
const dgram = require('node:dgram');
const [family, dst, port, count, size] = process.argv.slice(1);
const s = dgram.createSocket(family === '6' ? 'udp6' : 'udp4');
const payload = Buffer.alloc(Number(size), 0x61);
let sent = 0;
const next = () => {
  if (sent >= Number(count)) { process.stdout.write(String(sent) + '\\n'); s.close(); return; }
  s.send(payload, Number(port), dst, (err) => {
    if (err) { process.stderr.write(String(err) + '\\n'); process.exit(2); }
    sent++; next();
  });
};
next();
`;

/** A UDP receiver running in a namespace; counts datagrams until stopped. */
export class UdpReceiver {
  /** Datagrams and payload bytes received so far (updated as reports arrive). */
  count = 0;
  bytes = 0;
  private waiters: Array<{ n: number; resolve: (c: number) => void }> = [];
  private exited: Promise<void>;

  constructor(
    private readonly child: ChildProcess,
    /** The bound port. */
    readonly port: number,
    lines: AsyncIterable<string>,
  ) {
    this.exited = (async () => {
      for await (const line of lines) this.onLine(line);
    })();
  }

  private onLine(line: string): void {
    if (!line.startsWith('{')) return;
    const r = JSON.parse(line) as { count: number; bytes: number };
    this.count = r.count;
    this.bytes = r.bytes;
    this.waiters = this.waiters.filter((w) => {
      if (this.count < w.n) return true;
      w.resolve(this.count);
      return false;
    });
  }

  /**
   * Resolves once `n` datagrams have arrived. The timeout is a hang guard, not a measurement:
   * on expiry it rejects with the count so far.
   */
  waitFor(n: number, timeoutMs = 10_000): Promise<number> {
    if (this.count >= n) return Promise.resolve(this.count);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`udp receiver: ${this.count} of ${n} datagrams arrived`)),
        timeoutMs,
      );
      this.waiters.push({
        n,
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
      });
    });
  }

  /** Stops the receiver and returns the final tally. */
  async stop(): Promise<{ count: number; bytes: number }> {
    this.child.stdin?.end();
    await this.exited;
    await new Promise<void>((r) =>
      this.child.exitCode !== null ? r() : this.child.once('exit', () => r()),
    );
    return { count: this.count, bytes: this.bytes };
  }
}

async function* readLines(child: ChildProcess): AsyncIterable<string> {
  let buf = '';
  child.stdout!.setEncoding('utf8');
  for await (const chunk of child.stdout! as AsyncIterable<string>) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
}

/**
 * Starts a UDP receiver inside `ns` bound to `addr:port` (port 0 picks one) and resolves once
 * it is listening, so datagrams sent afterwards are counted.
 */
export async function udpListen(
  ns: string,
  opts: { port?: number; addr?: string; family?: 4 | 6 } = {},
): Promise<UdpReceiver> {
  const family = opts.family ?? (opts.addr?.includes(':') ? 6 : 4);
  const addr = opts.addr ?? (family === 6 ? '::' : '0.0.0.0');
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      '-e',
      RECEIVER,
      String(family),
      addr,
      String(opts.port ?? 0),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  children.set(child, ns);
  child.once('exit', () => children.delete(child));
  child.stdin!.on('error', () => undefined);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines = readLines(child)[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done || !first.value.startsWith('ready ')) {
    child.kill('SIGKILL');
    throw new Error(`udp receiver in ${ns} did not start: ${stderr.trim()}`);
  }
  const port = Number(first.value.slice(6));
  return new UdpReceiver(child, port, { [Symbol.asyncIterator]: () => lines });
}

/** Sends `count` UDP datagrams of `size` bytes from inside `ns`; resolves with the number sent. */
export async function udpSend(
  ns: string,
  dst: string,
  port: number,
  count = 1,
  size = 64,
): Promise<number> {
  const family = dst.includes(':') ? '6' : '4';
  const out = await execOk(ns, process.execPath, [
    '-e',
    SENDER,
    family,
    dst,
    String(port),
    String(count),
    String(size),
  ]);
  return Number(out.trim());
}

/** A built topology. Use {@link withTopology}, or create/destroy yourself in try/finally. */
export class TestNet {
  /** Logical host name → namespace name. */
  readonly namespaces = new Map<string, string>();
  /** Links in the order of the spec. */
  readonly links: TopoLink[] = [];
  private readonly nextIf = new Map<string, number>();

  private constructor() {}

  /** Builds `spec`; on any failure, what was built is torn down before the error propagates. */
  static async create(spec: TopologySpec): Promise<TestNet> {
    const net = new TestNet();
    try {
      net.build(spec);
    } catch (err) {
      await net.destroy();
      throw err;
    }
    return net;
  }

  private build(spec: TopologySpec): void {
    for (const h of spec.hosts) {
      if (this.namespaces.has(h)) throw new Error(`topology: host ${h} listed twice`);
      const ns = uniqueNsName();
      createNetns(ns);
      this.namespaces.set(h, ns);
      setLinkUp('lo', { netns: ns });
    }
    (spec.links ?? []).forEach((l, i) => this.addLink(l, i + 1));
    for (const r of spec.routers ?? []) {
      setSysctl('net.ipv4.ip_forward', 1, { netns: this.ns(r) });
      setSysctl('net.ipv6.conf.all.forwarding', 1, { netns: this.ns(r) });
    }
    if (spec.staticNeighbors) {
      for (const l of this.links) {
        for (const [from, to] of [
          [l.a, l.b],
          [l.b, l.a],
        ] as const) {
          addNeighbor(from.ifname, to.ip4, to.mac, { netns: from.ns });
          if (to.ip6) addNeighbor(from.ifname, to.ip6, to.mac, { netns: from.ns });
        }
      }
    }
  }

  private ifname(host: string): string {
    const n = this.nextIf.get(host) ?? 0;
    this.nextIf.set(host, n + 1);
    return `eth${n}`;
  }

  private addLink(l: LinkSpec, n: number): void {
    if (n > 255) throw new Error('topology: at most 255 links');
    const nsA = this.ns(l.a);
    const nsB = this.ns(l.b);
    const ifA = this.ifname(l.a);
    const ifB = this.ifname(l.b);
    // The pair is born inside the namespaces: nothing ever appears in the caller's namespace.
    createVeth(ifA, ifB, {
      netns: nsA,
      peerNetns: nsB,
      ...(l.mtu === undefined ? {} : { mtu: l.mtu }),
    });
    const end = (host: string, ns: string, ifname: string, octet: number): Endpoint => {
      const ip4 = `198.18.${n}.${octet}`;
      addAddress(ifname, `${ip4}/24`, { netns: ns });
      const e: Endpoint = { host, ns, ifname, ifindex: 0, mac: '', ip4, cidr4: `${ip4}/24` };
      if (l.ipv6) {
        e.ip6 = `2001:db8:${n.toString(16)}::${octet}`;
        e.cidr6 = `${e.ip6}/64`;
        addAddress(ifname, e.cidr6, { netns: ns, nodad: true });
      }
      setLinkUp(ifname, { netns: ns });
      const link = linkByName(ifname, { netns: ns });
      e.ifindex = link.index;
      e.mac = link.mac;
      return e;
    };
    const link: TopoLink = {
      a: end(l.a, nsA, ifA, 1),
      b: end(l.b, nsB, ifB, 2),
      subnet4: `198.18.${n}.0/24`,
    };
    if (l.ipv6) link.subnet6 = `2001:db8:${n.toString(16)}::/64`;
    this.links.push(link);
  }

  /** The namespace of a logical host. */
  ns(host: string): string {
    const ns = this.namespaces.get(host);
    if (ns === undefined) throw new Error(`topology: no host ${host}`);
    return ns;
  }

  /** Adds a route inside a host, e.g. `net.route('a', { dst: '198.18.2.0/24', gateway: ... })`. */
  route(host: string, r: RouteSpec): void {
    addRoute(r, { netns: this.ns(host) });
  }

  /** Runs a command inside a host (see {@link exec}). */
  exec(host: string, cmd: string, args: string[] = []): Promise<ExecResult> {
    return exec(this.ns(host), cmd, args);
  }

  /** One ping (`ping -c 1 -W 1`) from a host; true when a reply came back. */
  async ping(host: string, ip: string): Promise<boolean> {
    const r = await exec(this.ns(host), 'ping', ['-n', '-c', '1', '-W', '1', ip]);
    if (r.code !== 0 && r.code !== 1) {
      throw new Error(`ping in ${host}: exited ${r.code ?? r.signal}: ${r.stderr.trim()}`);
    }
    return r.code === 0;
  }

  /** Starts a UDP receiver in a host (see {@link udpListen}). */
  udpListen(host: string, opts: { port?: number; addr?: string; family?: 4 | 6 } = {}) {
    return udpListen(this.ns(host), opts);
  }

  /** Sends UDP datagrams from a host (see {@link udpSend}). */
  udpSend(host: string, dst: string, port: number, count = 1, size = 64): Promise<number> {
    return udpSend(this.ns(host), dst, port, count, size);
  }

  /**
   * Stops the helpers' child processes still running and deletes every namespace (the veth
   * pairs inside go with them). Collects errors and throws them together at the end, so one
   * failure never leaves the rest behind.
   */
  async destroy(): Promise<void> {
    await killChildren(new Set(this.namespaces.values()));
    const errors: unknown[] = [];
    for (const ns of this.namespaces.values()) {
      try {
        deleteNetns(ns);
      } catch (err) {
        if ((err as { code?: string }).code !== 'ENOENT') errors.push(err);
      }
    }
    this.namespaces.clear();
    if (errors.length > 0) throw new AggregateError(errors, 'topology teardown failed');
  }
}

async function killChildren(namespaces: Set<string>): Promise<void> {
  const waits: Promise<void>[] = [];
  for (const [c, ns] of children) {
    if (!namespaces.has(ns)) continue;
    children.delete(c);
    if (c.exitCode !== null || c.signalCode !== null) continue;
    waits.push(new Promise((r) => c.once('exit', () => r())));
    c.kill('SIGKILL');
  }
  await Promise.all(waits);
}

/** Builds a topology, runs `fn`, and always tears the topology down, even when `fn` throws. */
export async function withTopology<T>(
  spec: TopologySpec,
  fn: (net: TestNet) => T | Promise<T>,
): Promise<T> {
  const net = await TestNet.create(spec);
  try {
    return await fn(net);
  } finally {
    await net.destroy();
  }
}

/**
 * Removes namespaces left by earlier test processes that died before their teardown
 * (`iovt-<pid>-*` whose pid is gone). Never touches other names.
 */
export function cleanupStaleNamespaces(): string[] {
  const removed: string[] = [];
  for (const name of listNetns()) {
    const m = /^iovt-(\d+)-\d+$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    try {
      deleteNetns(name);
      removed.push(name);
    } catch {
      // another cleaner got there first
    }
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
