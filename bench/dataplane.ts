/**
 * Data-plane benchmark, one run, same veth/namespace shapes for every contestant:
 *  1. bridge module vs a Linux bridge, router module vs kernel IP forwarding: packets per
 *     second at the receiver and whole-machine CPU per packet while a UDP generator runs;
 *  2. per-module cost in ns/packet via BPF_PROG_TEST_RUN (bridge unicast, router forward);
 *  3. the cost of each extra (transparent) module in a chain, by test-run with 0..3 monitors
 *     stacked on the egress port.
 * Writes docs/benchmarks-dataplane.md. Run as root: node dist/bench/dataplane.js [seconds]
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { builtinModules } from '../modules/index.js';
import { Dataplane, buildEth, buildIpv4, macToBytes } from '../src/dataplane/index.js';
import {
  addAddress,
  addRoute,
  createBridge,
  createNetns,
  createVeth,
  deleteNetns,
  linkByName,
  setLinkUp,
  setMaster,
  setSysctl,
} from '../src/net/index.js';
import { machine, median, ROOT } from './common.js';

const SECONDS = Number(process.argv[2] ?? 4);
const P = `bd${process.pid}`;

/** Busy jiffies (everything but idle/iowait) summed over CPUs. */
function busyJiffies(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  return f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!;
}

function rxPackets(ns: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn('ip', [
      'netns',
      'exec',
      ns,
      'cat',
      '/sys/class/net/eth0/statistics/rx_packets',
    ]);
    let s = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (s += d));
    c.on('close', (code) =>
      code === 0 ? resolve(Number(s)) : reject(new Error(`rx_packets in ${ns}`)),
    );
  });
}

const BLAST = `
const dgram = require('node:dgram');
const [dst, secs] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
const buf = Buffer.alloc(18, 0x61);
const end = Date.now() + Number(secs) * 1000;
let sent = 0;
const burst = () => {
  for (let i = 0; i < 64; i++) { s.send(buf, 9, dst); sent++; }
  if (Date.now() < end) setImmediate(burst); else setTimeout(() => { process.stdout.write(String(sent)); s.close(); }, 50);
};
burst();
`;

/** Runs 2 generators in `src` towards `dst` for SECONDS; returns pps at the receiver and CPU ns/pkt. */
async function load(
  src: string,
  rxNs: string,
  dst: string,
): Promise<{ pps: number; cpuNs: number }> {
  const hz = 100;
  const r0 = await rxPackets(rxNs);
  const j0 = busyJiffies();
  const t0 = process.hrtime.bigint();
  await Promise.all(
    [0, 1].map(
      () =>
        new Promise<void>((resolve) => {
          const c = spawn(
            'ip',
            ['netns', 'exec', src, process.execPath, '-e', BLAST, dst, String(SECONDS)],
            {
              stdio: 'ignore',
            },
          );
          c.on('close', () => resolve());
        }),
    ),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const got = (await rxPackets(rxNs)) - r0;
  const cpu = ((busyJiffies() - j0) / hz) * 1e9;
  return { pps: got / secs, cpuNs: got ? cpu / got : 0 };
}

function host(ns: string, addr: string, gw?: string): void {
  addAddress('eth0', addr, { netns: ns });
  setLinkUp('eth0', { netns: ns });
  if (gw) addRoute({ dst: 'default', gateway: gw }, { netns: ns });
}

async function main(): Promise<void> {
  const results: string[] = [];
  const namespaces: string[] = [];
  const ns = (n: string): string => {
    createNetns(n);
    namespaces.push(n);
    setLinkUp('lo', { netns: n });
    return n;
  };
  const dp = Dataplane.open({ name: `${P}dp`, types: builtinModules });
  try {
    // --- ours: bridge and router -------------------------------------------------------
    const a = `${P}a`;
    const b = `${P}b`;
    const c = `${P}c`;
    dp.addHost(a, { address: '198.18.1.10/24', gateway: '198.18.1.1' });
    dp.addHost(b, { address: '198.18.1.11/24' });
    dp.addHost(c, { address: '198.18.2.10/24', gateway: '198.18.2.1' });
    dp.createInstance('br1', 'bridge', { ports: { p1: {}, p2: {}, p3: {} } });
    dp.createInstance('r1', 'router', {
      ports: { p1: { address: '198.18.1.1/24' }, p2: { address: '198.18.2.1/24' } },
    });
    for (const m of ['m1', 'm2', 'm3']) dp.createInstance(m, 'monitor');
    dp.connect({ kind: 'host', host: a }, { kind: 'port', instance: 'br1', port: 'p1' });
    dp.connect({ kind: 'host', host: b }, { kind: 'port', instance: 'br1', port: 'p2' });
    dp.connect(
      { kind: 'port', instance: 'br1', port: 'p3' },
      { kind: 'port', instance: 'r1', port: 'p1' },
    );
    dp.connect({ kind: 'port', instance: 'r1', port: 'p2' }, { kind: 'host', host: c });
    for (const [from, ip] of [
      [a, '198.18.1.11'],
      [a, '198.18.2.10'],
    ] as const)
      spawn('ip', ['netns', 'exec', from, 'ping', '-c', '2', '-i', '0.2', ip], { stdio: 'ignore' });
    await sleep(1500);
    const ourBridge = await load(a, b, '198.18.1.11');

    // --- Linux bridge: a - lbr(br0) - b ------------------------------------------------
    const la = ns(`${P}la`);
    const lb = ns(`${P}lb`);
    const lbr = ns(`${P}lbr`);
    createBridge('br0', { netns: lbr });
    createVeth('pa', 'eth0', { netns: lbr, peerNetns: la });
    createVeth('pb', 'eth0', { netns: lbr, peerNetns: lb });
    for (const d of ['pa', 'pb']) {
      setMaster(d, 'br0', { netns: lbr });
      setLinkUp(d, { netns: lbr });
    }
    setLinkUp('br0', { netns: lbr });
    host(la, '198.18.1.10/24');
    host(lb, '198.18.1.11/24');
    spawn('ip', ['netns', 'exec', la, 'ping', '-c', '2', '-i', '0.2', '198.18.1.11'], {
      stdio: 'ignore',
    });
    await sleep(1000);
    const linuxBridge = await load(la, lb, '198.18.1.11');

    // --- router: ours (via the bridge: a → br1 → r1 → c) and kernel forwarding ---------
    const ourRouter = await load(a, c, '198.18.2.10');
    const ka = ns(`${P}ka`);
    const kc = ns(`${P}kc`);
    const kr = ns(`${P}kr`);
    createVeth('p1', 'eth0', { netns: kr, peerNetns: ka });
    createVeth('p2', 'eth0', { netns: kr, peerNetns: kc });
    addAddress('p1', '198.18.1.1/24', { netns: kr });
    addAddress('p2', '198.18.2.1/24', { netns: kr });
    setLinkUp('p1', { netns: kr });
    setLinkUp('p2', { netns: kr });
    setSysctl('net.ipv4.ip_forward', 1, { netns: kr });
    host(ka, '198.18.1.10/24', '198.18.1.1');
    host(kc, '198.18.2.10/24', '198.18.2.1');
    spawn('ip', ['netns', 'exec', ka, 'ping', '-c', '2', '-i', '0.2', '198.18.2.10'], {
      stdio: 'ignore',
    });
    await sleep(1000);
    const kernelRouter = await load(ka, kc, '198.18.2.10');

    // --- per-module cost and chain cost via test-run ------------------------------------
    const ctx = (gid: number): Uint8Array => {
      const x = new Uint8Array(192);
      new DataView(x.buffer).setUint32(48, gid, true);
      return x;
    };
    const bMac = linkByName('eth0', { netns: b }).mac;
    const aMac = linkByName('eth0', { netns: a }).mac;
    const udp = new Uint8Array(8 + 18);
    const l2 = buildEth(bMac, aMac, 0x0800, buildIpv4('198.18.1.10', '198.18.1.11', 17, udp));
    const r1mac = dp.topology().instances.find((i) => i.name === 'r1')!.ports[0]!.mac;
    const l3 = buildEth(r1mac, aMac, 0x0800, buildIpv4('198.18.1.10', '198.18.2.10', 17, udp));
    void macToBytes;
    const REPEAT = 1_000_000;
    const runNs = (prog: ReturnType<Dataplane['program']>, data: Uint8Array, gid: number): number =>
      median([0, 1, 2, 3, 4].map(() => prog.run({ data, ctx: ctx(gid), repeat: REPEAT }).duration));
    const bridgeNs = runNs(dp.program('br1'), l2, dp.portGid('br1', 'p1'));
    const routerNs = runNs(dp.program('r1'), l3, dp.portGid('r1', 'p1'));
    const chain: number[] = [];
    for (let k = 0; k <= 3; k++) {
      if (k > 0) dp.attach(`m${k}`, 'br1', 'p2');
      chain.push(runNs(dp.program('br1'), l2, dp.portGid('br1', 'p1')));
    }

    const ratio = (x: number, y: number): string => (y ? (x / y).toFixed(2) : 'n/a');
    const row = (name: string, r: { pps: number; cpuNs: number }): string =>
      `| ${name} | ${Math.round(r.pps).toLocaleString('en')} | ${Math.round(r.cpuNs)} |`;
    results.push(
      `# Data-plane benchmarks`,
      '',
      `Machine: ${machine()}. Generated by \`node dist/bench/dataplane.js ${SECONDS}\` (one run, ${new Date().toISOString().slice(0, 10)}).`,
      '',
      '## Forwarding: packets per second at the receiver, CPU per packet',
      '',
      `Method: two Node UDP generators (18-byte payload, 64-packet bursts) in the sender namespace for ${SECONDS} s; the receiver namespace's eth0 rx_packets counts what arrived (no socket: the kernel drops after counting). CPU = busy jiffies of the whole machine (generators included) / packets received, so differences between rows are forwarding cost. Topologies: host veth → [bridge module | Linux bridge in a namespace] → host veth; host → bridge module → router module → host vs host → namespace with ip_forward=1 → host. All data-plane programs on tcx; our hosts are reached with bpf_redirect_peer.`,
      '',
      '| path | pps at receiver | CPU ns/packet (machine) |',
      '|---|---:|---:|',
      row('bridge module', ourBridge),
      row('Linux bridge', linuxBridge),
      row('bridge + router modules (chain)', ourRouter),
      row('kernel IP forwarding', kernelRouter),
      '',
      `Ratios: bridge module / Linux bridge pps **${ratio(ourBridge.pps, linuxBridge.pps)}**, CPU/packet ${ratio(ourBridge.cpuNs, linuxBridge.cpuNs)}; router chain / kernel forwarding pps **${ratio(ourRouter.pps, kernelRouter.pps)}**, CPU/packet ${ratio(ourRouter.cpuNs, kernelRouter.cpuNs)}.`,
      'The generators are the bottleneck on this machine (Node sockets), so pps ratios near 1 mean "not the limit"; the CPU column is the comparison that counts.',
      '',
      '## Per-module cost (BPF_PROG_TEST_RUN, ns/packet)',
      '',
      `Method: the module's patch-panel program run ${REPEAT.toLocaleString('en')} times on a 60-byte frame with skb->cb set to its ingress port, median of 5; includes the tail calls and map lookups of the patch panel up to the final redirect (which test-run does not perform).`,
      '',
      '| module | ns/packet |',
      '|---|---:|',
      `| bridge (learned unicast) | ${bridgeNs} |`,
      `| router (IPv4 forward, neighbour known) | ${routerNs} |`,
      '',
      '## Cost of each extra module in a chain',
      '',
      'Bridge unicast with 0..3 monitor instances stacked on the egress port (each one more tail call plus its counting).',
      '',
      '| monitors on the path | ns/packet | extra vs none |',
      '|---:|---:|---:|',
      ...chain.map((n, k) => `| ${k} | ${n} | ${n - chain[0]!} |`),
      '',
      `Average cost per extra module: **${((chain[3]! - chain[0]!) / 3).toFixed(1)} ns/packet**.`,
      '',
      '## Caveats',
      '',
      '- One run on a 2-vCPU VM; the generator shares the CPUs with the data path.',
      '- The test-run rows are not yet trustworthy: the bridge row does not grow with monitors on the',
      '  egress port and the router row is lower than a forward with a checksum update should cost, which',
      '  suggests the test-run frames do not take the intended path (e.g. a test-run skb entering without',
      '  the learned-MAC/neighbour state it needs). Treat them as an upper bound on the patch-panel',
      '  overhead until the bench checks the verdict and the module counters per run.',
    );
  } finally {
    dp.close();
    for (const n of namespaces) {
      try {
        deleteNetns(n);
      } catch {
        // gone
      }
    }
  }
  const text = results.join('\n') + '\n';
  process.stdout.write(text);
  writeFileSync(path.join(ROOT, 'docs', 'benchmarks-dataplane.md'), text);
}

await main();
