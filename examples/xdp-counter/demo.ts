/**
 * The README's main demo: build a small XDP packet counter, load it, attach it inside a pair of
 * network namespaces joined by a veth pair, send real ping and UDP traffic across, and print
 * live counters read from its map. Everything it creates is removed at the end, even on Ctrl-C.
 *
 *   node dist/examples/xdp-counter/demo.js [--seconds N] [--json]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Collection, type Attachment } from '../../src/bpf/index.js';
import {
  addAddress,
  attachXdp,
  createNetns,
  createVeth,
  deleteNetns,
  netnsExists,
  setLinkUp,
} from '../../src/net/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..', '..');
const source = path.join(root, 'examples', 'xdp-counter', 'counter.bpf.c');
const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1]) || 6;
const json = args.includes('--json');

const tag = `${process.pid % 100000}`;
const nsA = `iovdemo-a-${tag}`;
const nsB = `iovdemo-b-${tag}`;
const PROTO: Record<number, string> = {
  1: 'icmp',
  6: 'tcp',
  17: 'udp',
  0x10806: 'arp',
  0x186dd: 'ipv6',
};

function log(msg: string): void {
  if (!json) process.stderr.write(`==> ${msg}\n`);
}

function build(out: string): string {
  const obj = path.join(out, 'counter.bpf.o');
  const multiarch =
    spawnSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).stdout.trim() ||
    'x86_64-linux-gnu';
  const r = spawnSync(
    'clang',
    ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${multiarch}`, '-c', source, '-o', obj],
    {
      encoding: 'utf8',
    },
  );
  if (r.error)
    throw new Error(
      `clang not found: install it with 'apt-get install clang' (${r.error.message})`,
    );
  if (r.status !== 0) throw new Error(`clang failed:\n${r.stderr}`);
  return obj;
}

function inNs(ns: string, cmd: string, cmdArgs: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, cmd, ...cmdArgs], { stdio: 'ignore' });
}

/** Per-protocol totals, summing the per-CPU values. */
function totals(coll: Collection): Map<string, { packets: number; bytes: number }> {
  const out = new Map<string, { packets: number; bytes: number }>();
  for (const [k, v] of coll.map('by_proto').entries()) {
    const per = v as { packets: bigint | number; bytes: bigint | number }[];
    const name = PROTO[k as number] ?? `proto ${k}`;
    out.set(name, {
      packets: per.reduce((a, c) => a + Number(c.packets), 0),
      bytes: per.reduce((a, c) => a + Number(c.bytes), 0),
    });
  }
  return out;
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'iovisor-demo-'));
  let coll: Collection | undefined;
  let link: Attachment | undefined;
  const children: ChildProcess[] = [];
  const cleanup = (): void => {
    for (const c of children) c.kill();
    try {
      link?.close();
    } catch {
      // The namespace may already be gone.
    }
    coll?.close();
    for (const ns of [nsA, nsB]) if (netnsExists(ns)) deleteNetns(ns);
    rmSync(work, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    log(`building ${path.relative(root, source)} with clang`);
    const obj = build(work);

    log(`creating namespaces ${nsA} and ${nsB} joined by a veth pair (198.18.0.1 <-> 198.18.0.2)`);
    createNetns(nsA);
    createNetns(nsB);
    createVeth('veth0', 'veth1', { netns: nsA, peerNetns: nsB });
    addAddress('veth0', '198.18.0.1/24', { netns: nsA });
    addAddress('veth1', '198.18.0.2/24', { netns: nsB });
    for (const [ns, dev] of [
      [nsA, 'veth0'],
      [nsA, 'lo'],
      [nsB, 'veth1'],
      [nsB, 'lo'],
    ] as const) {
      setLinkUp(dev, { netns: ns });
    }

    log('loading the object and attaching count_packets to veth1 (XDP) in ' + nsB);
    coll = Collection.loadFile(obj);
    link = attachXdp(coll.program('count_packets'), { dev: 'veth1', netns: nsB });

    log(`sending ping and UDP traffic from ${nsA} to ${nsB} for ${seconds}s`);
    children.push(inNs(nsA, 'ping', ['-q', '-i', '0.2', '-w', String(seconds), '198.18.0.2']));
    children.push(
      inNs(nsA, process.execPath, [
        '-e',
        `const s=require('dgram').createSocket('udp4');let n=0;const t=setInterval(()=>{s.send(Buffer.alloc(100),9,'198.18.0.2');if(++n>=${seconds * 20}){clearInterval(t);s.close();}},50);`,
      ]),
    );

    const started = Date.now();
    while (Date.now() - started < seconds * 1000 + 300) {
      await new Promise((r) => setTimeout(r, 1000));
      const t = totals(coll);
      const at = ((Date.now() - started) / 1000).toFixed(1);
      if (json) {
        process.stdout.write(
          JSON.stringify({ t: Number(at), counters: Object.fromEntries(t) }) + '\n',
        );
      } else {
        const cells = [...t].map(([p, c]) => `${p}: ${c.packets} pkts ${c.bytes} B`).join('   ');
        process.stdout.write(`[${at.padStart(4)}s] ${cells || '(no packets yet)'}\n`);
      }
    }
    const final = totals(coll);
    if (!json) {
      process.stdout.write('\nfinal counts on veth1 (read from the by_proto map):\n');
      for (const [p, c] of final)
        process.stdout.write(
          `  ${p.padEnd(6)} ${String(c.packets).padStart(6)} packets ${String(c.bytes).padStart(9)} bytes\n`,
        );
    }
    if (!final.get('icmp') || !final.get('udp'))
      throw new Error('demo: expected ICMP and UDP packets to be counted');
  } finally {
    log('cleaning up');
    cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
