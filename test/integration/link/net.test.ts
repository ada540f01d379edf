/**
 * XDP and tcx attached by interface name inside test namespaces, with real traffic (ping and
 * UDP) between two namespaces joined by a veth pair; atomic replacement under traffic; errors
 * for missing interfaces and namespaces; nothing of ours left after detach.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import '../../../src/sys/index.js';
import { Collection } from '../../../src/bpf/collection.js';
import { AttachError, Link, queryTcx } from '../../../src/bpf/link/index.js';
import { attachTc, attachTcx, attachXdp } from '../../../src/net/attach.js';
import { listTcBpf, withNetns, xdpInfo } from '../../../src/net/index.js';
import { withTopology, type TestNet } from '../../helpers/netns.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
function corpus(name: string): string {
  const p = path.join(ROOT, 'testdata', 'corpus', 'build', `${name}.o`);
  if (!existsSync(p)) throw new Error(`${p} missing: run 'bash scripts/build-testdata.sh'`);
  return p;
}

interface ProtoKey {
  h_proto: number;
  ip_proto: number;
  hook: number;
}

/** Packets counted by the tc corpus programs for (ethertype, ip proto, hook). */
function counted(c: Collection, h: number, ip: number, hook: number): number {
  for (const [k, v] of c.map('proto_counts').entries()) {
    const key = k as ProtoKey;
    if (key.h_proto === h && key.ip_proto === ip && key.hook === hook) return Number(v);
  }
  return 0;
}

const ETH_P_IP = 0x800;
const UDP = 17;
const ICMP = 1;

/** The Udp: line of /proc/net/snmp inside a namespace. */
function udpStats(ns: string): Record<string, number> {
  const text = withNetns(ns, () => readFileSync('/proc/thread-self/net/snmp', 'utf8'));
  const lines = text.split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0]!.split(/\s+/).slice(1);
  const values = lines[1]!.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
}

const topo = { hosts: ['a', 'b'], links: [{ a: 'a', b: 'b' }], staticNeighbors: true };

describe('network attach by interface name in a namespace', () => {
  let tc: Collection;
  let sec: Collection;
  const before0 = new Set<number>();
  before(() => {
    for (const id of Link.ids()) before0.add(id);
    tc = Collection.loadFile(corpus('tc'));
    sec = Collection.loadFile(corpus('sections'));
  });
  after(() => {
    tc?.close();
    sec?.close();
    const ours = Link.ids().filter((id) => !before0.has(id));
    assert.deepEqual(ours, [], 'no link created by these tests is left');
  });

  const nothingLeft = (net: TestNet): void => {
    const b = net.links[0]!.b;
    assert.equal(xdpInfo(b.ifname, { netns: b.ns }).mode, 'none');
    withNetns(b.ns, () => {
      assert.deepEqual(queryTcx(b.ifindex, 'ingress').entries, []);
      assert.deepEqual(queryTcx(b.ifindex, 'egress').entries, []);
    });
  };

  it('counts ping and UDP with XDP (generic) on the receiver and tcx egress on the sender', async () => {
    await withTopology(topo, async (net) => {
      const { a, b } = net.links[0]!;
      const xdp = attachXdp(sec.program('xdp_frags'), {
        dev: b.ifname,
        netns: b.ns,
        mode: 'generic',
      });
      const tcx = attachTcx(tc.program('tcx_egress_count'), {
        dev: a.ifname,
        netns: a.ns,
        direction: 'egress',
      });
      try {
        assert.ok(xdp instanceof Link);
        assert.equal(xdp.info().typeName, 'xdp');
        assert.equal(xdp.info().details.ifindex, b.ifindex);
        assert.equal(xdpInfo(b.ifname, { netns: b.ns }).mode, 'generic');
        assert.equal(tcx.info().typeName, 'tcx');
        const icmp0 = counted(tc, ETH_P_IP, ICMP, 2);
        const udp0 = counted(tc, ETH_P_IP, UDP, 2);
        const xdpBefore = sec.variables.get('hits_xdp_frags')!.get() as bigint;
        assert.ok(await net.ping('a', b.ip4), 'ping gets through');
        const rx = await net.udpListen('b', { addr: b.ip4 });
        assert.equal(await net.udpSend('a', b.ip4, rx.port, 25, 100), 25);
        await rx.waitFor(25);
        assert.equal((await rx.stop()).count, 25);
        assert.equal(counted(tc, ETH_P_IP, ICMP, 2) - icmp0, 1, 'tcx saw the echo request');
        assert.equal(counted(tc, ETH_P_IP, UDP, 2) - udp0, 25, 'tcx counted every datagram');
        const xdpHits = (sec.variables.get('hits_xdp_frags')!.get() as bigint) - xdpBefore;
        assert.ok(xdpHits >= 26n, `xdp ran for every frame (${xdpHits})`);
      } finally {
        xdp.close();
        tcx.close();
      }
      nothingLeft(net);
    });
  });

  it('replaces a tcx program atomically under traffic with zero loss', async () => {
    await withTopology(topo, async (net) => {
      const { b } = net.links[0]!;
      const progA = tc.program('tcx_ingress_count');
      const progB = tc.program('tcx_egress_count'); // same verdict, counts under hook 2
      const link = attachTcx(progA, { dev: b.ifname, netns: b.ns, direction: 'ingress' });
      try {
        const u0 = counted(tc, ETH_P_IP, UDP, 1) + counted(tc, ETH_P_IP, UDP, 2);
        const snmp0 = udpStats(b.ns);
        const rx = await net.udpListen('b', { addr: b.ip4 });
        const N = 2000;
        const sending = net.udpSend('a', b.ip4, rx.port, N, 64);
        let swaps = 0;
        let done = false;
        void sending.finally(() => (done = true));
        while (!done) {
          link.update(swaps % 2 === 0 ? progB : progA);
          swaps++;
          await new Promise((r) => setTimeout(r, 2));
        }
        assert.equal(await sending, N);
        const seen = counted(tc, ETH_P_IP, UDP, 1) + counted(tc, ETH_P_IP, UDP, 2) - u0;
        assert.equal(seen, N, 'one of the two programs saw every datagram');
        // Every datagram reached UDP in b: delivered, or (if the receiver was slow) counted as a
        // receive-buffer overflow. None vanished at the hook.
        const snmp1 = udpStats(b.ns);
        const reached =
          snmp1.InDatagrams - snmp0.InDatagrams + (snmp1.RcvbufErrors - snmp0.RcvbufErrors);
        assert.equal(reached, N, 'no datagram was lost at the tcx hook');
        const got = (await rx.stop()).count;
        assert.equal(got, snmp1.InDatagrams - snmp0.InDatagrams);
        assert.ok(swaps >= 2, `swapped ${swaps} times during the run`);
        assert.ok(counted(tc, ETH_P_IP, UDP, 2) > 0, 'the replacement program ran');
        // update with the wrong expected old program is refused
        assert.throws(() => link.update(progA, { expectOld: swaps % 2 === 0 ? progB : progA }));
      } finally {
        link.close();
      }
      nothingLeft(net);
    });
  });

  it('orders tcx programs with anchors and checks the expected revision', async () => {
    await withTopology(topo, async (net) => {
      const { b } = net.links[0]!;
      const first = attachTcx(tc.program('tcx_ingress_count'), {
        dev: b.ifname,
        netns: b.ns,
        direction: 'ingress',
      });
      try {
        const rev = withNetns(b.ns, () => queryTcx(b.ifindex, 'ingress').revision);
        assert.throws(
          () =>
            attachTcx(tc.program('tcx_egress_count'), {
              dev: b.ifname,
              netns: b.ns,
              direction: 'ingress',
              expectedRevision: rev + 5n,
            }),
          (e: unknown) => e instanceof AttachError && e.code === 'ESTALE',
        );
        const head = attachTcx(tc.program('tcx_egress_count'), {
          dev: b.ifname,
          netns: b.ns,
          direction: 'ingress',
          anchor: { kind: 'before', link: first },
          expectedRevision: rev,
        });
        try {
          const chain = withNetns(b.ns, () => queryTcx(b.ifindex, 'ingress').entries);
          assert.deepEqual(
            chain.map((e) => e.linkId),
            [head.info().id, first.info().id],
          );
        } finally {
          head.close();
        }
      } finally {
        first.close();
      }
      nothingLeft(net);
    });
  });

  it('attaches legacy tc (clsact + cls_bpf) and drops UDP to the discard port', async () => {
    await withTopology(topo, async (net) => {
      const { b } = net.links[0]!;
      const att = attachTc(tc.program('tc_drop_udp'), {
        dev: b.ifname,
        netns: b.ns,
        direction: 'ingress',
      });
      try {
        const filters = listTcBpf(b.ifname, 'ingress', { netns: b.ns });
        assert.equal(filters.length, 1);
        const rx9 = await net.udpListen('b', { addr: b.ip4, port: 9 });
        const rx = await net.udpListen('b', { addr: b.ip4 });
        await net.udpSend('a', b.ip4, 9, 10);
        await net.udpSend('a', b.ip4, rx.port, 10);
        await rx.waitFor(10);
        assert.equal((await rx.stop()).count, 10);
        assert.equal((await rx9.stop()).count, 0, 'datagrams to port 9 were dropped');
      } finally {
        att.detach();
      }
      assert.deepEqual(listTcBpf(b.ifname, 'ingress', { netns: b.ns }), []);
    });
  });

  it('names the hook and the reason when the interface or namespace is missing', async () => {
    await withTopology(topo, async (net) => {
      const { b } = net.links[0]!;
      assert.throws(
        () =>
          attachTcx(tc.program('tcx_ingress_count'), {
            dev: 'nope0',
            netns: b.ns,
            direction: 'ingress',
          }),
        (e: unknown) =>
          e instanceof AttachError &&
          /^attach tcx ingress to nope0 in namespace .*: no interface nope0 in namespace /.test(
            e.message,
          ),
      );
      assert.throws(
        () => attachXdp(sec.program('xdp_frags'), { dev: 'eth0', netns: `${b.ns}-gone` }),
        (e: unknown) =>
          e instanceof AttachError && /namespace .*-gone does not exist/.test(e.message),
      );
      // A SOCKET_FILTER program on tcx: refused before the kernel is asked, naming hook and why.
      assert.throws(
        () =>
          attachTcx(sec.program('socket_filter'), {
            dev: b.ifname,
            netns: b.ns,
            direction: 'egress',
          }),
        (e: unknown) =>
          e instanceof AttachError &&
          e.message ===
            `attach tcx egress to ${b.ifname} in namespace ${b.ns}: program socket_filter is socket_filter, tcx needs sched_cls`,
      );
    });
    // The namespace is gone now; the process keeps going and says so.
    assert.throws(
      () =>
        attachTcx(tc.program('tcx_ingress_count'), {
          dev: 'eth0',
          netns: 'iovt-gone-0',
          direction: 'ingress',
        }),
      /namespace iovt-gone-0 does not exist/,
    );
  });
});
