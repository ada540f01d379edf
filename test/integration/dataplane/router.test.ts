import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exec, udpListen, udpSend } from '../../helpers/netns.js';
import { ping, withDataplane } from './helpers.js';

test('router: two subnets, IPv4 and IPv6, ping and UDP; TTL exceeded and net unreachable', async () => {
  await withDataplane(async (dp, px) => {
    const h1 = `${px}a`;
    const h2 = `${px}b`;
    dp.addHost(h1, {
      address: '198.18.1.10/24',
      gateway: '198.18.1.1',
      address6: '2001:db8:1::10/64',
      gateway6: '2001:db8:1::1',
    });
    dp.addHost(h2, {
      address: '198.18.2.10/24',
      gateway: '198.18.2.1',
      address6: '2001:db8:2::10/64',
      gateway6: '2001:db8:2::1',
    });
    dp.createInstance('r1', 'router', {
      ports: {
        p1: { address: ['198.18.1.1/24', '2001:db8:1::1/64'] },
        p2: { address: ['198.18.2.1/24', '2001:db8:2::1/64'] },
      },
    });
    dp.connect({ kind: 'host', host: h1 }, { kind: 'port', instance: 'r1', port: 'p1' });
    dp.connect({ kind: 'host', host: h2 }, { kind: 'port', instance: 'r1', port: 'p2' });

    let r = await ping(h1, '198.18.2.10', 3);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /ttl=63/, 'TTL decremented once');
    r = await ping(h1, '2001:db8:2::10', 3);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /ttl=63/, 'hop limit decremented once');
    r = await ping(h1, '198.18.1.1', 1);
    assert.equal(r.code, 0, `router answers pings to its own address: ${r.stdout}`);

    for (const [dst, family] of [
      ['198.18.2.10', 4],
      ['2001:db8:2::10', 6],
    ] as const) {
      const rx = await udpListen(h2, { family });
      try {
        const sent = await udpSend(h1, dst, rx.port, 100, 200);
        await rx.waitFor(sent);
      } finally {
        const got = await rx.stop();
        assert.equal(got.count, 100, `UDP over IPv${family}`);
      }
    }

    r = await exec(h1, 'ping', ['-n', '-c', '1', '-W', '2', '-t', '1', '198.18.2.10']);
    assert.match(r.stdout, /Time to live exceeded/, r.stdout);
    r = await exec(h1, 'ping', ['-n', '-c', '1', '-W', '2', '-t', '1', '2001:db8:2::10']);
    assert.match(r.stdout, /Time exceeded: Hop limit/, r.stdout);
    r = await exec(h1, 'ping', ['-n', '-c', '1', '-W', '2', '198.18.99.1']);
    assert.match(r.stdout, /Destination Net Unreachable/, r.stdout);
    r = await exec(h1, 'ping', ['-n', '-c', '1', '-W', '2', '2001:db8:99::1']);
    assert.match(r.stdout, /Destination unreachable: No route/, r.stdout);
  });
});
