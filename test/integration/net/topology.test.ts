import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { listNeighbors, netnsExists } from '../../../src/net/index.js';
import { TestNet, cleanupStaleNamespaces, withTopology } from '../../helpers/netns.js';

const rootLinks = (): string[] =>
  execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.split(': ')[1]!.split('@')[0]!);

const netnsList = (): string => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

describe('test topologies', () => {
  it('joins two namespaces by veth with IPv4 and IPv6, pings across, leaves nothing behind', async () => {
    cleanupStaleNamespaces();
    const before = rootLinks();
    let names: string[] = [];
    await withTopology(
      { hosts: ['a', 'b'], links: [{ a: 'a', b: 'b', ipv6: true }] },
      async (net) => {
        names = [...net.namespaces.values()];
        for (const n of names) assert.match(n, new RegExp(`^iovt-${process.pid}-\\d+$`));
        const [l] = net.links;
        assert.equal(l!.a.ip4, '198.18.1.1');
        assert.equal(l!.b.ip6, '2001:db8:1::2');
        assert.ok(await net.ping('a', l!.b.ip4));
        assert.ok(await net.ping('b', l!.a.ip4));
        assert.ok(await net.ping('a', l!.b.ip6!));
        assert.equal(
          await net.ping('a', '198.18.1.99'),
          false,
          'an unowned address does not answer',
        );
        for (const n of names) assert.match(netnsList(), new RegExp(n));
      },
    );
    const listed = netnsList();
    for (const n of names) {
      assert.ok(!listed.includes(n), `${n} removed`);
      assert.equal(netnsExists(n), false);
    }
    const added = rootLinks().filter((x) => !before.includes(x) && /^eth\d+$/.test(x));
    assert.deepEqual(added, [], 'no link leaked into the root namespace');
  });

  it('routes through a forwarding host with static neighbours', async () => {
    await withTopology(
      {
        hosts: ['a', 'r', 'b'],
        links: [
          { a: 'a', b: 'r' },
          { a: 'r', b: 'b' },
        ],
        routers: ['r'],
        staticNeighbors: true,
      },
      async (net) => {
        const [ar, rb] = net.links;
        net.route('a', { dst: 'default', gateway: ar!.b.ip4 });
        net.route('b', { dst: 'default', gateway: rb!.a.ip4 });
        const neigh = listNeighbors({ netns: net.ns('a'), ifname: ar!.a.ifname });
        assert.ok(neigh.some((n) => n.ip === ar!.b.ip4 && n.mac === ar!.b.mac && n.state === 0x80));
        assert.ok(await net.ping('a', rb!.b.ip4));
        const out = (await net.exec('a', 'ip', ['route', 'get', rb!.b.ip4])).stdout;
        assert.match(out, new RegExp(`via ${ar!.b.ip4.replace(/\./g, '\\.')}`));
      },
    );
  });

  it('counts UDP datagrams sent and received inside namespaces', async () => {
    await withTopology(
      { hosts: ['a', 'b'], links: [{ a: 'a', b: 'b', ipv6: true }] },
      async (net) => {
        const [l] = net.links;
        const rx = await net.udpListen('b', { addr: l!.b.ip4 });
        assert.equal(await net.udpSend('a', l!.b.ip4, rx.port, 25, 100), 25);
        assert.equal(await rx.waitFor(25), 25);
        const total = await rx.stop();
        assert.deepEqual(total, { count: 25, bytes: 2500 });

        const rx6 = await net.udpListen('b', { family: 6 });
        assert.equal(await net.udpSend('a', l!.b.ip6!, rx6.port, 3), 3);
        assert.equal(await rx6.waitFor(3), 3);
        await rx6.stop();
      },
    );
  });

  it('tears down even when the test body throws', async () => {
    let names: string[] = [];
    await assert.rejects(
      withTopology({ hosts: ['a', 'b'], links: [{ a: 'a', b: 'b' }] }, async (net) => {
        names = [...net.namespaces.values()];
        await net.udpListen('a'); // a running child must not keep anything alive
        throw new Error('test body failed');
      }),
      /test body failed/,
    );
    assert.equal(names.length, 2);
    for (const n of names) assert.equal(netnsExists(n), false);
  });

  it('cleans up what it built when the spec itself is bad', async () => {
    const before = netnsList();
    await assert.rejects(
      TestNet.create({ hosts: ['a'], links: [{ a: 'a', b: 'missing' }] }),
      /no host missing/,
    );
    assert.equal(netnsList(), before);
  });
});
