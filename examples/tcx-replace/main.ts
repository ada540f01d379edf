/**
 * Atomic replacement of a tcx program. Two namespaces joined by a veth pair; count_v1 is
 * attached at tcx ingress of the veth end in namespace B (by interface name, from the default
 * namespace); pings from A are counted by v1; `Link.update` swaps in count_v2 on the same link
 * (same link id, no moment without a program); more pings are counted by v2. A second update
 * that insists the old program is still v1 is refused. Namespaces, link and objects are
 * removed at the end, also on failure.
 *
 *   sudo node dist/examples/tcx-replace/main.js [--json]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Collection, queryTcx, type Link } from '../../src/bpf/index.js';
import {
  addAddress,
  attachTcx,
  createNetns,
  createVeth,
  deleteNetns,
  linkByName,
  netnsExists,
  setLinkUp,
  withNetns,
} from '../../src/net/index.js';
import { buildObject } from '../../src/toolchain/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.resolve(here, '..', '..', '..', 'examples', 'tcx-replace', 'versions.bpf.c');
const json = process.argv.includes('--json');
const tag = `${process.pid}`;
const nsA = `iovex-a-${tag}`;
const nsB = `iovex-b-${tag}`;
const result: Record<string, unknown> = {};
// __u64 values decode through BTF as bigint; JSON has no bigint, so print them as numbers.
const big = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v);
const say = (label: string, value: unknown): void => {
  result[label] = value;
  if (!json) console.log(`${label}: ${JSON.stringify(value, big)}`);
};

/** Pings B from A `n` times; ping runs inside A through `ip netns exec` (traffic only). */
function ping(n: number): void {
  const r = spawnSync(
    'ip',
    ['netns', 'exec', nsA, 'ping', '-q', '-c', String(n), '-i', '0.05', '-W', '2', '198.18.7.2'],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`ping from ${nsA} failed: ${r.stderr || r.stdout}`);
}

const work = mkdtempSync(path.join(tmpdir(), 'iovisor-tcx-'));
let coll: Collection | undefined;
let link: Link | undefined;
try {
  // The topology: A (198.18.7.1/24) <-veth-> B (198.18.7.2/24), built over rtnetlink.
  createNetns(nsA);
  createNetns(nsB);
  createVeth('veth-a', 'veth-b', { netns: nsA, peerNetns: nsB });
  addAddress('veth-a', '198.18.7.1/24', { netns: nsA });
  addAddress('veth-b', '198.18.7.2/24', { netns: nsB });
  setLinkUp('veth-a', { netns: nsA });
  setLinkUp('veth-b', { netns: nsB });

  const { out } = buildObject(source, {
    out: path.join(work, 'versions.o'),
    cacheDir: path.join(work, 'cache'),
  });
  coll = Collection.loadFile(out);
  const v1 = coll.program('count_v1');
  const v2 = coll.program('count_v2');
  const hits = coll.map('hits');

  // Attach by name inside B; the link outlives the trip into the namespace.
  link = attachTcx(v1, { dev: 'veth-b', netns: nsB, direction: 'ingress' });
  const before = link.info();
  say('attached', { link: before.id, program: v1.info().id, hook: link.hook });
  ping(3);
  say('after 3 pings with v1', { v1: hits.get(1), v2: hits.get(2) });

  // BPF_LINK_UPDATE with BPF_F_REPLACE: swap only if v1 is still the attached program.
  link.update(v2, { expectOld: v1 });
  const after = link.info();
  // queryTcx takes an ifindex of the calling thread's namespace: ask from inside B.
  const chain = withNetns(nsB, () => queryTcx(linkByName('veth-b').index, 'ingress'));
  say('replaced', {
    sameLink: after.id === before.id,
    program: after.progId,
    v2: v2.info().id,
    chain: chain.entries.map((e) => ({ program: e.programId, link: e.linkId })),
  });
  const v1Count = hits.get(1);
  ping(3);
  say('after 3 more pings with v2', { v1: hits.get(1), v2: hits.get(2) });
  say('v1 unchanged after replace', hits.get(1) === v1Count);

  // The kernel answers a stale expectOld with EPERM, which reads like a privilege problem.
  try {
    link.update(v1, { expectOld: v1 });
  } catch (err) {
    say('update expecting v1 while v2 is attached', (err as Error).message);
  }
} finally {
  link?.close();
  coll?.close();
  for (const ns of [nsA, nsB]) if (netnsExists(ns)) deleteNetns(ns);
  rmSync(work, { recursive: true, force: true });
}
if (json) console.log(JSON.stringify(result, big));
