/**
 * The measured test-run path of the data-plane benchmark, shared with its integration test
 * (test/integration/dataplane/bench-path.test.ts).
 *
 * A packet is measured the way the wire delivers it: BPF_PROG_TEST_RUN of the patch panel's
 * entry program (`iov_entry`, the program on tcx ingress of every port netdev) with
 * `__sk_buff.ifindex` set to the ingress port's netdev, run inside the data plane namespace so
 * the kernel resolves that ifindex (and any redirect or clone) there. From there the packet
 * takes the real chain: ingress lookup → tail call into the module → `iov_out` → the egress
 * port's transparent chain → `bpf_redirect_peer` to the destination host (the redirect itself
 * is what test-run does not perform).
 *
 * Every measured call is checked: the verdict must be TC_ACT_REDIRECT, the ingress port's rx
 * and the egress port's tx counters must grow by exactly the number of runs, no port of the
 * module may count a drop, every stacked monitor must have counted every run, and the frame
 * that comes out must be the forwarded one. Anything else throws, naming what differed.
 *
 * test-run with `repeat` runs the program on one skb again and again, so a module that
 * rewrites the frame sees its own output next time (the router would walk the TTL down to 1
 * and fall into the slow path after 63 runs, and after the first run the frame is no longer
 * addressed to the router at all). Frames are built so that a whole batch stays on the fast
 * path (router: TTL 255, batches of at most 250, see LOOP_MAC) and the checks prove it.
 */
import { Link, Program } from '../src/bpf/index.js';
import {
  buildEth,
  buildIpv4,
  inetChecksum,
  type Dataplane,
  type ModuleType,
  type PortStats,
} from '../src/dataplane/index.js';
import { linkByName, setMac, setSysctl, withNetns } from '../src/net/index.js';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { ROOT } from './common.js';

/** tc verdict of a packet that leaves by redirect (bpf_redirect_peer / bpf_redirect). */
export const TC_ACT_REDIRECT = 7;
/** XDP verdict of a packet that leaves by redirect (bpf_redirect). */
export const XDP_REDIRECT = 4;

/** struct xdp_md: size and offset of ingress_ifindex. */
const XDP_MD_SIZE = 24;
const XDP_MD_IFINDEX = 12;

/** __sk_buff: size, and offsets of ifindex and cb[0] (include/uapi/linux/bpf.h). */
const SKB_SIZE = 192;
const SKB_IFINDEX = 40;

/** Largest batch a router frame (TTL 255) stays on the fast path for. */
export const MAX_ROUTER_BATCH = 250;

/**
 * MAC of router port r1:p1 and of host d (on r1:p2, a different segment). test-run repeats a
 * program on one skb; after a forward the frame carries d's MAC as destination, and because
 * that is also r1:p1's MAC the next run is again a frame addressed to r1:p1 that the router
 * forwards in full (LPM, neighbour lookup, TTL and checksum update, MAC rewrite). The TTL
 * walks down by one per run; the check after each batch proves every run forwarded.
 */
export const LOOP_MAC = '02:00:5e:10:00:01';

/** Addresses of the measured topology (all from 198.18.0.0/15). */
export const PATH_ADDR = {
  a: '198.18.1.10',
  b: '198.18.1.11',
  c: '198.18.2.10',
  d: '198.18.3.10',
  r1p1: '198.18.2.1',
  r1p2: '198.18.3.1',
} as const;

/** The measured topology: hosts a, b on bridge br1; hosts c, d on router r1; monitors m1..m4. */
export interface PathTopology {
  dp: Dataplane;
  hosts: { a: string; b: string; c: string; d: string };
  macs: { a: string; b: string; c: string; d: string; r1p1: string; r1p2: string };
  monitors: string[];
}

/** One measured path: a frame entering at a port's netdev and leaving through another port. */
export interface PathCase {
  name: string;
  frame: Uint8Array;
  ingress: { instance: string; port: string };
  egress: { instance: string; port: string };
  /** Transparent instances stacked on the egress port (each must count every run). */
  monitors: string[];
  /** Checks the frame test-run hands back after `runs` runs; throws when it is not right. */
  checkOut?: (out: Uint8Array, runs: number) => void;
}

/** Result of one verified test-run call. */
export interface PathRun {
  /** Kernel-measured mean time per run. */
  ns: number;
  retval: number;
  runs: number;
}

/** Runs a command in a namespace without blocking the event loop (the slow path runs on it). */
function exec(ns: string, cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args]);
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.on('error', reject);
    c.on('close', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${cmd} ${args.join(' ')} in ${ns}: exit ${code}: ${out}`)),
    );
  });
}

/**
 * Builds the measured topology in `dp` and learns real state with real traffic first: pings
 * a ↔ b (the bridge learns both MACs) and c → d (the router resolves d's MAC through its slow
 * path). Checks that the state is there before anything is measured.
 */
export async function buildPathTopology(
  dp: Dataplane,
  prefix: string,
  monitors = 4,
  hook: 'tcx' | 'xdp' = 'tcx',
): Promise<PathTopology> {
  const hosts = { a: `${prefix}a`, b: `${prefix}b`, c: `${prefix}c`, d: `${prefix}d` };
  dp.addHost(hosts.a, { address: `${PATH_ADDR.a}/24` });
  dp.addHost(hosts.b, { address: `${PATH_ADDR.b}/24` });
  dp.addHost(hosts.c, { address: `${PATH_ADDR.c}/24`, gateway: PATH_ADDR.r1p1 });
  dp.addHost(hosts.d, { address: `${PATH_ADDR.d}/24`, gateway: PATH_ADDR.r1p2 });
  dp.createInstance('br1', 'bridge', { hook, ports: { p1: {}, p2: {} } });
  dp.createInstance('r1', 'router', {
    hook,
    ports: {
      p1: { address: `${PATH_ADDR.r1p1}/24`, mac: LOOP_MAC },
      p2: { address: `${PATH_ADDR.r1p2}/24` },
    },
  });
  // Quiet hosts: no IPv6 (router solicitations and MLD reports would otherwise cross the
  // ports, and the router counts IPv6 multicast as drops, while the checks expect exact
  // counters).
  for (const h of Object.values(hosts))
    for (const k of ['all', 'default'])
      setSysctl(`net.ipv6.conf.${k}.disable_ipv6`, 1, { netns: h });
  const mons: string[] = [];
  for (let i = 1; i <= monitors; i++) {
    dp.createInstance(`m${i}`, 'monitor');
    mons.push(`m${i}`);
  }
  dp.connect({ kind: 'host', host: hosts.a }, { kind: 'port', instance: 'br1', port: 'p1' });
  dp.connect({ kind: 'host', host: hosts.b }, { kind: 'port', instance: 'br1', port: 'p2' });
  dp.connect({ kind: 'host', host: hosts.c }, { kind: 'port', instance: 'r1', port: 'p1' });
  dp.connect({ kind: 'host', host: hosts.d }, { kind: 'port', instance: 'r1', port: 'p2' });
  // See LOOP_MAC: d's next-hop MAC is r1:p1's own, so a forwarded frame is again one for r1:p1.
  setMac('eth0', LOOP_MAC, { netns: hosts.d });
  await exec(hosts.a, 'ping', ['-n', '-c', '2', '-i', '0.2', '-W', '2', PATH_ADDR.b]);
  await exec(hosts.c, 'ping', ['-n', '-c', '2', '-i', '0.2', '-W', '2', PATH_ADDR.d]);
  const mac = (ns: string): string => linkByName('eth0', { netns: ns }).mac;
  const view = dp.topology();
  const r1 = view.instances.find((i) => i.name === 'r1')!;
  const t: PathTopology = {
    dp,
    hosts,
    macs: {
      a: mac(hosts.a),
      b: mac(hosts.b),
      c: mac(hosts.c),
      d: mac(hosts.d),
      r1p1: r1.ports.find((p) => p.name === 'p1')!.mac,
      r1p2: r1.ports.find((p) => p.name === 'p2')!.mac,
    },
    monitors: mons,
  };
  const fdb = (dp.status('br1') as { fdb: { mac: string; port: string }[] }).fdb;
  for (const [m, port] of [
    [t.macs.a, 'p1'],
    [t.macs.b, 'p2'],
  ] as const)
    if (!fdb.some((e) => e.mac === m && e.port === port))
      throw new Error(`bench path: br1 has not learned ${m} on ${port}: ${JSON.stringify(fdb)}`);
  const neigh = (dp.status('r1') as { neighbors: { ip: string; mac: string }[] }).neighbors;
  if (!neigh.some((n) => n.ip === PATH_ADDR.d && n.mac === t.macs.d))
    throw new Error(`bench path: r1 has not resolved ${PATH_ADDR.d}: ${JSON.stringify(neigh)}`);
  return t;
}

/** A UDP/IPv4 frame of `size` bytes (without FCS). */
export function udpFrame(
  dstMac: string,
  srcMac: string,
  src: string,
  dst: string,
  ttl = 64,
  size = 60,
): Uint8Array {
  const udp = new Uint8Array(size - 14 - 20);
  const dv = new DataView(udp.buffer);
  dv.setUint16(0, 40000);
  dv.setUint16(2, 9);
  dv.setUint16(4, udp.length);
  return buildEth(dstMac, srcMac, 0x0800, buildIpv4(src, dst, 17, udp, ttl));
}

/** Bridge: learned unicast a → b, in at br1:p1, out at br1:p2 (where monitors stack). */
export function bridgeCase(t: PathTopology, monitors: string[] = []): PathCase {
  const frame = udpFrame(t.macs.b, t.macs.a, PATH_ADDR.a, PATH_ADDR.b);
  return {
    name: monitors.length ? `bridge + ${monitors.length} monitor(s)` : 'bridge',
    frame,
    ingress: { instance: 'br1', port: 'p1' },
    egress: { instance: 'br1', port: 'p2' },
    monitors,
    checkOut: (out) => {
      if (Buffer.compare(out, frame) !== 0)
        throw new Error('bridge: the frame changed on a learned unicast path');
    },
  };
}

/** Router: IPv4 forward c → d (LPM, neighbour, TTL and checksum update, MAC rewrite). */
export function routerCase(t: PathTopology, monitors: string[] = []): PathCase {
  const frame = udpFrame(LOOP_MAC, t.macs.c, PATH_ADDR.c, PATH_ADDR.d, 255);
  return {
    name: monitors.length ? `router + ${monitors.length} monitor(s)` : 'router',
    frame,
    ingress: { instance: 'r1', port: 'p1' },
    egress: { instance: 'r1', port: 'p2' },
    monitors,
    checkOut: (out, runs) => {
      const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
      const want = (m: string): string => m.replaceAll(':', '');
      if (
        hex(out.subarray(0, 6)) !== want(t.macs.d) ||
        hex(out.subarray(6, 12)) !== want(t.macs.r1p2)
      )
        throw new Error(`router: MACs not rewritten: ${hex(out.subarray(0, 12))}`);
      if (out[14 + 8] !== 255 - runs)
        throw new Error(`router: TTL ${out[14 + 8]} after ${runs} runs (want ${255 - runs})`);
      if (inetChecksum(out.subarray(14, 34)) !== 0)
        throw new Error('router: IPv4 header checksum wrong after forwarding');
    },
  };
}

/**
 * The patch panel's entry program, as attached to a port's netdev (via its pinned link): the
 * tcx one, or with `xdp` the XDP one of an instance on hook xdp.
 */
export function entryProgram(dp: Dataplane, instance: string, port: string, xdp = false): Program {
  const gid = dp.portGid(instance, port);
  const l = Link.openPinned(path.join(dp.pinDir, 'links', `iovp${gid}${xdp ? ':xdp' : ''}`));
  try {
    return Program.fromId(l.info().progId);
  } finally {
    l.close();
  }
}

function monCount(dp: Dataplane, mon: string, gid: number, dir: 'in' | 'out'): number {
  // mon_slot: gid -> counter slot + 1; mon_ports: per-CPU {u64 packets; u64 bytes} at
  // slot * 2 + dir (see modules/monitor/monitor.bpf.c).
  const key = (n: number): Uint8Array => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    return b;
  };
  const s = dp.map(mon, 'mon_slot').lookupBytes(key(gid));
  const slot = s ? new DataView(s.buffer, s.byteOffset).getUint32(0, true) : 0;
  if (!slot) return 0;
  const raw = dp.map(mon, 'mon_ports').lookupBytes(key((slot - 1) * 2 + (dir === 'in' ? 0 : 1)));
  if (!raw) return 0;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let n = 0;
  for (let o = 0; o + 16 <= raw.byteLength; o += 16) n += Number(dv.getBigUint64(o, true));
  return n;
}

function allStats(dp: Dataplane, instance: string): Map<string, PortStats> {
  const out = new Map<string, PortStats>();
  for (const p of Object.keys(dp.instance(instance)!.ports)) out.set(p, dp.portStats(instance, p));
  return out;
}

/**
 * Runs a case `runs` times in one BPF_PROG_TEST_RUN call through the port's entry program and
 * checks that every run took the intended path (see the file comment). Throws otherwise.
 */
export function runPath(
  dp: Dataplane,
  c: PathCase,
  runs: number,
  prog?: Program,
  xdp = false,
): PathRun {
  const entry = prog ?? entryProgram(dp, c.ingress.instance, c.ingress.port, xdp);
  const inGid = dp.portGid(c.ingress.instance, c.ingress.port);
  const outGid = dp.portGid(c.egress.instance, c.egress.port);
  const ifindex = linkByName(`iovp${inGid}`, { netns: dp.netns }).index;
  const ctx = new Uint8Array(xdp ? XDP_MD_SIZE : SKB_SIZE);
  new DataView(ctx.buffer).setUint32(xdp ? XDP_MD_IFINDEX : SKB_IFINDEX, ifindex, true);
  // xdp_md.data_end must be the frame's length (data and data_meta 0: no metadata given).
  if (xdp) new DataView(ctx.buffer).setUint32(4, c.frame.length, true);
  const want = xdp ? XDP_REDIRECT : TC_ACT_REDIRECT;
  const xdp0 = xdp ? dp.xdpTxPackets(c.egress.instance, c.egress.port) : 0;
  const before = allStats(dp, c.ingress.instance);
  const outBefore = dp.portStats(c.egress.instance, c.egress.port);
  const mon0 = c.monitors.map((m) => monCount(dp, m, outGid, 'out'));
  const r = withNetns(dp.netns, () => entry.run({ data: c.frame, ctx, repeat: runs }));
  try {
    const fail = (what: string): never => {
      throw new Error(`bench path ${c.name}: ${what} (${runs} runs)`);
    };
    if (r.retval !== want)
      fail(`verdict ${r.retval}, want ${xdp ? 'XDP_REDIRECT' : 'TC_ACT_REDIRECT'} (${want})`);
    // XDP: every run was sent by the XDP build itself (none handed to tc).
    if (xdp && dp.xdpTxPackets(c.egress.instance, c.egress.port) - xdp0 !== runs)
      fail(`egress ${c.egress.instance}:${c.egress.port}: not every run sent from XDP`);
    const after = allStats(dp, c.ingress.instance);
    const rx = after.get(c.ingress.port)!.rxPackets - before.get(c.ingress.port)!.rxPackets;
    if (rx !== runs) fail(`ingress ${c.ingress.instance}:${c.ingress.port} rx +${rx}`);
    const tx = dp.portStats(c.egress.instance, c.egress.port).txPackets - outBefore.txPackets;
    if (tx !== runs) fail(`egress ${c.egress.instance}:${c.egress.port} tx +${tx}`);
    for (const [p, s] of after) {
      const d = s.drops - before.get(p)!.drops;
      if (d) fail(`${c.ingress.instance}:${p} dropped ${d}`);
      if (p !== c.egress.port && s.txPackets - before.get(p)!.txPackets >= runs)
        fail(
          `${c.ingress.instance}:${p} sent ${s.txPackets - before.get(p)!.txPackets} (flooded?)`,
        );
    }
    c.monitors.forEach((m, i) => {
      const n = monCount(dp, m, outGid, 'out') - mon0[i]!;
      if (n !== runs) fail(`monitor ${m} counted +${n} on the egress port`);
    });
    // XDP test-run hands back the metadata in front of the frame.
    const skip = xdp ? r.dataOut.length - c.frame.length : 0;
    c.checkOut?.(r.dataOut.subarray(skip, skip + c.frame.length), runs);
  } finally {
    if (!prog) entry.close();
  }
  return { ns: r.duration, retval: r.retval, runs };
}

/** Builds the benchmark's C generator and passthrough module into .build-cache/ (once). */
export function buildBenchArtifacts(): { sender: string; passthrough: string } {
  const out = path.join(ROOT, '.build-cache', 'bench-dataplane');
  mkdirSync(out, { recursive: true });
  const sender = path.join(out, 'dataplane-sender');
  const passthrough = path.join(out, 'passthrough.bpf.o');
  const run = (cmd: string, args: string[]): void => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error}`);
  };
  run('cc', [
    '-O2',
    '-Wall',
    '-Werror',
    '-o',
    sender,
    path.join(ROOT, 'bench', 'dataplane-sender.c'),
  ]);
  // The tc build, and its XDP build next to it (found by the data plane as passthrough.xdp.bpf.o).
  for (const [extra, obj] of [
    [[], passthrough],
    [['-DIOV_XDP'], passthrough.replace(/\.bpf\.o$/, '.xdp.bpf.o')],
  ] as const)
    run('clang', [
      '-O2',
      '-g',
      '-target',
      'bpf',
      ...extra,
      `-I/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
      '-Wall',
      '-Werror',
      '-c',
      path.join(ROOT, 'bench', 'dataplane-null.bpf.c'),
      '-o',
      obj,
    ]);
  return { sender, passthrough };
}

/** A transparent module type that only moves packets on (bench/dataplane-null.bpf.c). */
export function passthroughType(object: string): ModuleType {
  return {
    name: 'passthrough',
    kind: 'transparent',
    description: 'benchmark only: moves packets on, does nothing else',
    object,
    source: path.join(ROOT, 'bench', 'dataplane-null.bpf.c'),
    program: 'passthrough',
    readme: path.join(ROOT, 'docs', 'benchmarks-dataplane.md'),
    schema: { type: 'object', properties: {} },
    create: () => ({ configure: () => undefined }),
  };
}
