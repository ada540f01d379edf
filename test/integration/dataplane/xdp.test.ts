import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtinModules } from '../../../modules/index.js';
import { applyTopology, ConfigError, Dataplane } from '../../../src/dataplane/index.js';
import { udpListen, udpSend } from '../../helpers/netns.js';
import { chainYaml, ping, uniquePrefix, withDataplane } from './helpers.js';

/**
 * Sends `n` UDP datagrams in batches and checks that exactly `n` arrived. Batches, because a
 * frame delivered through XDP becomes an skb with a page-sized buffer: a burst of a few hundred
 * fills the (unread) receiver's socket buffer (RcvbufErrors) where tc's smaller skbs fit.
 */
async function udpExactly(
  from: string,
  to: string,
  dst: string,
  n: number,
  family: 4 | 6 = 4,
): Promise<number> {
  const rx = await udpListen(to, { family });
  let sent = 0;
  try {
    while (sent < n) {
      sent += await udpSend(from, dst, rx.port, Math.min(25, n - sent), 200);
      await rx.waitFor(sent);
    }
  } finally {
    assert.equal((await rx.stop()).count, n, `UDP over IPv${family} from ${from} to ${dst}`);
  }
  return sent;
}

/** The egress port's counters grew by `n` and every one of them was sent by the XDP build. */
function assertXdpSent(
  dp: Dataplane,
  inst: string,
  port: string,
  before: { tx: number; xdp: number },
  n: number,
): void {
  // tx may also count the hosts' own IPv6 multicast (router solicitations, MLD), flooded by tc.
  const tx = dp.portStats(inst, port).txPackets - before.tx;
  const xdp = dp.xdpTxPackets(inst, port) - before.xdp;
  assert.ok(tx >= n, `${inst}:${port} sent ${tx}, want at least ${n}`);
  assert.equal(xdp, n, `${inst}:${port}: ${xdp} of ${n} sent from XDP (the rest went through tc)`);
}

function snap(dp: Dataplane, inst: string, port: string): { tx: number; xdp: number } {
  return { tx: dp.portStats(inst, port).txPackets, xdp: dp.xdpTxPackets(inst, port) };
}

test('xdp hook: bridge on XDP, two hosts ping and exchange UDP; unicast forwarded by XDP, ARP flooded by tc', async () => {
  await withDataplane(async (dp, px) => {
    const a = `${px}a`;
    const b = `${px}b`;
    dp.addHost(a, { address: '198.18.1.10/24' });
    dp.addHost(b, { address: '198.18.1.11/24' });
    dp.createInstance('br1', 'bridge', { hook: 'xdp', ports: { p1: {}, p2: {} } });
    dp.connect({ kind: 'host', host: a }, { kind: 'port', instance: 'br1', port: 'p1' });
    dp.connect({ kind: 'host', host: b }, { kind: 'port', instance: 'br1', port: 'p2' });
    assert.equal(dp.topology().instances[0]!.hook, 'xdp');
    const r = await ping(a, '198.18.1.11', 3);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const st = dp.status('br1') as { fdb: { port: string }[] };
    assert.deepEqual(st.fdb.map((e) => e.port).sort(), ['p1', 'p2']);
    const before = snap(dp, 'br1', 'p2');
    const sent = await udpExactly(a, b, '198.18.1.11', 200);
    assertXdpSent(dp, 'br1', 'p2', before, sent);
  });
});

test('xdp hook: router on XDP, IPv4 and IPv6 ping and UDP; ARP/ND and ICMP errors through the slow path', async () => {
  await withDataplane(async (dp, px) => {
    const a = `${px}a`;
    const b = `${px}b`;
    dp.addHost(a, {
      address: '198.18.1.10/24',
      gateway: '198.18.1.1',
      address6: '2001:db8:1::10/64',
      gateway6: '2001:db8:1::1',
    });
    dp.addHost(b, {
      address: '198.18.2.10/24',
      gateway: '198.18.2.1',
      address6: '2001:db8:2::10/64',
      gateway6: '2001:db8:2::1',
    });
    dp.createInstance('r1', 'router', {
      hook: 'xdp',
      ports: {
        p1: { address: ['198.18.1.1/24', '2001:db8:1::1/64'] },
        p2: { address: ['198.18.2.1/24', '2001:db8:2::1/64'] },
      },
    });
    dp.connect({ kind: 'host', host: a }, { kind: 'port', instance: 'r1', port: 'p1' });
    dp.connect({ kind: 'host', host: b }, { kind: 'port', instance: 'r1', port: 'p2' });

    // The first packets resolve neighbours through the slow path (ARP, ND: tc, packet-in).
    let r = await ping(a, '198.18.2.10', 3);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /ttl=63/);
    r = await ping(a, '2001:db8:2::10', 3);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /ttl=63/);
    r = await ping(a, '198.18.1.1', 1);
    assert.equal(r.code, 0, `router answers its own address: ${r.stdout}`);

    for (const [dst, family] of [
      ['198.18.2.10', 4],
      ['2001:db8:2::10', 6],
    ] as const) {
      const before = snap(dp, 'r1', 'p2');
      const sent = await udpExactly(a, b, dst, 200, family);
      assertXdpSent(dp, 'r1', 'p2', before, sent);
    }
    r = await ping(a, '198.18.99.1', 1);
    assert.match(r.stdout, /Destination Net Unreachable/, r.stdout);
  });
});

test('xdp hook: chain host → bridge (xdp) → router (xdp) → bridge (tcx) → host with a monitor; hooks mix', async () => {
  await withDataplane(async (dp, px) => {
    const a = `${px}a`;
    const b = `${px}b`;
    const yaml = chainYaml(a, b, { br1: 'xdp', r1: 'xdp' });
    applyTopology(dp, yaml);
    assert.deepEqual(applyTopology(dp, yaml).changes, [], 'second apply changes nothing');
    const r = await ping(a, '198.18.2.10', 2);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const before = snap(dp, 'br2', 'p2');
    const sent = await udpExactly(a, b, '198.18.2.10', 200);
    // br2 is on tcx: its host is not set up for XDP redirects, so the XDP path hands those
    // packets to tc at that port (and counts them once).
    const tx = dp.portStats('br2', 'p2').txPackets - before.tx;
    assert.ok(tx >= sent);
    assert.equal(dp.xdpTxPackets('br2', 'p2') - before.xdp, 0);
    const st = dp.status('mon1') as {
      flows: { proto: number; dir: string; packets: number; dport: number }[];
    };
    // One flow per batch (each batch is a new sender socket).
    const udp = st.flows.filter((f) => f.proto === 17 && f.dir === 'out');
    assert.equal(
      udp.reduce((a, f) => a + f.packets, 0),
      sent,
      'monitor (XDP build) counted every packet once',
    );
  });
});

test('xdp hook: a module without an XDP build is refused naming the field, and nothing changes', async () => {
  await withDataplane(async (dp, px) => {
    const t = dp.moduleType('bridge');
    const noXdp = { ...t, name: 'tconly', object: '/nonexistent/tconly.bpf.o' };
    (dp as unknown as { types: Map<string, unknown> }).types.set('tconly', noXdp);
    assert.throws(
      () => dp.createInstance('x1', 'tconly', { hook: 'xdp' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /modules\.x1\.hook/.test(err.message) &&
        /no XDP build/.test(err.message),
    );
    const yaml = `
hosts:
  ${px}a: { address: 198.18.1.10/24 }
modules:
  x1: { type: tconly, hook: xdp }
links:
  - [${px}a, x1:p1]
`;
    assert.throws(() => applyTopology(dp, yaml), /modules\.x1\.hook.*no XDP build/);
    assert.throws(
      () => applyTopology(dp, yaml.replace('hook: xdp', 'hook: ebpf')),
      /modules\.x1\.hook/,
    );
    assert.deepEqual(dp.instanceNames(), []);
    assert.deepEqual(dp.hostNames(), []);
  });
});

test('xdp hook: a released data plane with an XDP bridge is adopted and keeps forwarding through XDP', async () => {
  const px = uniquePrefix();
  const name = `iovt-${process.pid}-xa`;
  const a = `${px}a`;
  const b = `${px}b`;
  let dp = Dataplane.open({ name, types: builtinModules });
  try {
    dp.addHost(a, { address: '198.18.1.10/24' });
    dp.addHost(b, { address: '198.18.1.11/24' });
    dp.createInstance('br1', 'bridge', { hook: 'xdp', ports: { p1: {}, p2: {} } });
    dp.connect({ kind: 'host', host: a }, { kind: 'port', instance: 'br1', port: 'p1' });
    dp.connect({ kind: 'host', host: b }, { kind: 'port', instance: 'br1', port: 'p2' });
    assert.equal((await ping(a, '198.18.1.11', 2)).code, 0);
    const state = dp.snapshot();
    dp.release();
    // Nobody owns it now; the kernel still forwards (through XDP).
    assert.equal((await ping(a, '198.18.1.11', 1)).code, 0);
    dp = Dataplane.adopt({ name, types: builtinModules, state });
    assert.equal(dp.topology().instances[0]!.hook, 'xdp');
    const before = snap(dp, 'br1', 'p2');
    const sent = await udpExactly(a, b, '198.18.1.11', 100);
    assertXdpSent(dp, 'br1', 'p2', before, sent);
    // Later changes work in place: the adopted port's links are owned again.
    dp.disconnect({ kind: 'host', host: b });
    assert.notEqual((await ping(a, '198.18.1.11', 1)).code, 0);
  } finally {
    dp.close();
  }
});
