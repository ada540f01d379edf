import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createVeth } from '../../../src/net/index.js';
import { exec, udpListen, udpSend } from '../../helpers/netns.js';
import { ping, withDataplane } from './helpers.js';

// VLANs through real traffic. This kernel has no 802.1Q sub-interfaces (CONFIG_VLAN_8021Q is
// off, `ip link add ... type vlan` says "Unknown device type"), so the trunk is between two
// bridge instances over a real veth pair in the data plane namespace: tagged frames cross a
// wire (checked with tshark), and access hosts on both sides must only reach their own VLAN.
// On hook xdp, untagged frames from access ports stay in XDP and are tagged there on the way
// to the trunk (bpf_xdp_adjust_head); what enters through the trunk and floods go to tc.
for (const hook of ['tcx', 'xdp'] as const)
  test(`vlan (hook ${hook}): access ports isolated per VLAN; a trunk over a veth carries VLANs 10 and 20 tagged and drops others`, () =>
    vlan(hook));

async function vlan(hook: 'tcx' | 'xdp'): Promise<void> {
  await withDataplane(async (dp, px) => {
    const h = (n: string): string => `${px}${n}`;
    dp.addHost(h('a10'), { address: '198.18.10.1/24' });
    dp.addHost(h('c20'), { address: '198.18.20.2/24' });
    // In VLAN 20 but with an address in VLAN 10's subnet: only VLAN isolation keeps it apart.
    dp.addHost(h('x20'), { address: '198.18.10.9/24' });
    dp.addHost(h('b10'), { address: '198.18.10.3/24' });
    dp.addHost(h('d20'), { address: '198.18.20.4/24' });
    dp.addHost(h('y30'), { address: '198.18.10.30/24' });
    createVeth('trk0', 'trk1', { netns: dp.netns });
    dp.createInstance('br1', 'bridge', {
      hook,
      ports: {
        p1: { mode: 'access', vlan: 10 },
        p2: { mode: 'access', vlan: 20 },
        p3: { mode: 'access', vlan: 20 },
        p4: { mode: 'trunk', vlans: [10, 20] },
      },
    });
    dp.createInstance('br2', 'bridge', {
      hook,
      ports: {
        p1: { mode: 'trunk', vlans: [10, 20, 30] },
        p2: { mode: 'access', vlan: 10 },
        p3: { mode: 'access', vlan: 20 },
        p4: { mode: 'access', vlan: 30 },
      },
    });
    const link = (host: string, instance: string, port: string): void =>
      dp.connect({ kind: 'host', host: h(host) }, { kind: 'port', instance, port });
    link('a10', 'br1', 'p1');
    link('c20', 'br1', 'p2');
    link('x20', 'br1', 'p3');
    link('b10', 'br2', 'p2');
    link('d20', 'br2', 'p3');
    link('y30', 'br2', 'p4');
    dp.connect({ kind: 'port', instance: 'br1', port: 'p4' }, { kind: 'netdev', dev: 'trk0' });
    dp.connect({ kind: 'port', instance: 'br2', port: 'p1' }, { kind: 'netdev', dev: 'trk1' });

    // Same VLAN across the trunk, both VLANs; the frames on the wire carry 802.1Q tags.
    const capture = exec(dp.netns, 'tshark', [
      '-n',
      '-i',
      'trk1',
      '-a',
      'duration:4',
      '-T',
      'fields',
      '-e',
      'vlan.id',
      '-e',
      'icmp.type',
    ]);
    await new Promise((r) => setTimeout(r, 1500));
    let r = await ping(h('a10'), '198.18.10.3', 2);
    assert.equal(r.code, 0, `a10 → b10 (vlan 10): ${r.stdout}${r.stderr}`);
    r = await ping(h('c20'), '198.18.20.4', 2);
    assert.equal(r.code, 0, `c20 → d20 (vlan 20): ${r.stdout}${r.stderr}`);
    const cap = await capture;
    const seen = cap.stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => l.split('\t'));
    assert.ok(
      seen.some(([v, t]) => v === '10' && t === '8'),
      `tagged vlan 10 echo requests on the trunk: ${cap.stdout}${cap.stderr}`,
    );
    assert.ok(
      seen.some(([v, t]) => v === '20' && t === '0'),
      'tagged vlan 20 echo replies',
    );
    assert.ok(!seen.some(([v]) => v === ''), 'no untagged frames on the trunk');

    // Isolation: x20 is in VLAN 10's subnet but on a VLAN 20 port.
    r = await ping(h('a10'), '198.18.10.9', 2);
    assert.notEqual(r.code, 0, 'a10 must not reach a VLAN 20 host');
    // Had a10's ARP request reached x20, x20 would have made a neighbour entry for a10.
    const neigh = await exec(h('x20'), 'ip', ['neigh', 'show', '198.18.10.1']);
    assert.equal(neigh.stdout.trim(), '', `a10's ARP leaked into VLAN 20: ${neigh.stdout}`);
    r = await ping(h('x20'), '198.18.10.3', 1);
    assert.notEqual(r.code, 0, 'x20 must not reach a VLAN 10 host across the trunk');

    // br2 sends VLAN 30 over the trunk; br1's trunk does not carry it and drops it.
    const drops = dp.portStats('br1', 'p4').drops;
    r = await ping(h('y30'), '198.18.10.1', 1);
    assert.notEqual(r.code, 0, 'y30 (VLAN 30) must not reach a10');
    assert.ok(dp.portStats('br1', 'p4').drops > drops, 'VLAN 30 frames dropped at br1:p4');

    // UDP across the trunk, counted exactly, both directions.
    for (const [from, to, addr] of [
      [h('a10'), h('b10'), '198.18.10.3'],
      [h('d20'), h('c20'), '198.18.20.2'],
    ] as const) {
      const rx = await udpListen(to, { port: 0 });
      let sent = 0;
      try {
        sent = await udpSend(from, addr, rx.port, 50, 200);
        await rx.waitFor(sent);
      } finally {
        assert.equal((await rx.stop()).count, sent, `UDP ${from} → ${addr}`);
      }
    }

    // Learned per VLAN: remote MACs behind the trunk port in their own VLAN only.
    const fdb = (dp.status('br1') as { fdb: { mac: string; vlan: number; port: string }[] }).fdb;
    const want: Record<string, number[]> = { p1: [10], p2: [20], p3: [20], p4: [10, 20] };
    for (const e of fdb) assert.ok(want[e.port]?.includes(e.vlan), JSON.stringify(e));
    assert.deepEqual(
      [...new Set(fdb.filter((e) => e.port === 'p4').map((e) => e.vlan))].sort(),
      [10, 20],
    );
  });
}
