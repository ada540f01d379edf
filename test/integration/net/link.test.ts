import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import {
  NetlinkError,
  addAddress,
  addRoute,
  createBridge,
  createVeth,
  deleteAddress,
  deleteLink,
  deleteRoute,
  findLink,
  linkByIndex,
  linkByName,
  listAddresses,
  listLinks,
  listRoutes,
  setLinkDown,
  setLinkNetns,
  setLinkUp,
  setMac,
  setMaster,
  setMtu,
} from '../../../src/net/index.js';
import { isErrno } from '../../../src/sys/index.js';
import { withTopology } from '../../helpers/netns.js';

const ipIn = (ns: string, ...args: string[]): string =>
  execFileSync('ip', ['netns', 'exec', ns, 'ip', ...args], { encoding: 'utf8' });

describe('links over rtnetlink', () => {
  it('creates a veth pair straight into two namespaces and reads it back', async () => {
    await withTopology({ hosts: ['a', 'b'] }, (net) => {
      const a = net.ns('a');
      const b = net.ns('b');
      createVeth('va', 'vb', { netns: a, peerNetns: b });
      const va = linkByName('va', { netns: a });
      const vb = linkByName('vb', { netns: b });
      assert.equal(va.type, 'veth');
      assert.equal(vb.type, 'veth');
      assert.equal(va.mtu, 1500);
      assert.match(va.mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      assert.equal(va.up, false);
      assert.equal(findLink('vb', { netns: a }), undefined, 'the peer is not in a');
      assert.deepEqual(linkByIndex(va.index, { netns: a }).name, 'va');
      assert.deepEqual(
        listLinks({ netns: a }).map((l) => l.name),
        ['lo', 'va'],
      );
      // ip agrees.
      assert.match(ipIn(a, '-o', 'link', 'show', 'va'), /va@if\d+: .* mtu 1500/);
      assert.match(ipIn(b, '-o', 'link', 'show', 'vb'), /vb@if\d+/);

      setLinkUp('va', { netns: a });
      assert.equal(linkByName('va', { netns: a }).up, true);
      setLinkDown('va', { netns: a });
      assert.equal(linkByName('va', { netns: a }).up, false);
      setMtu('va', 1400, { netns: a });
      setMac('va', '02:00:5e:00:00:0a', { netns: a });
      const changed = linkByName('va', { netns: a });
      assert.equal(changed.mtu, 1400);
      assert.equal(changed.mac, '02:00:5e:00:00:0a');
      assert.match(ipIn(a, '-o', 'link', 'show', 'va'), /mtu 1400 .*link\/ether 02:00:5e:00:00:0a/);

      deleteLink('va', { netns: a });
      assert.equal(findLink('va', { netns: a }), undefined);
      assert.equal(findLink('vb', { netns: b }), undefined, 'deleting one end removes the peer');
    });
  });

  it('reports kernel errors by errno name with the extended ack text', async () => {
    await withTopology({ hosts: ['a'] }, (net) => {
      const a = net.ns('a');
      assert.throws(
        () => linkByName('nope0', { netns: a }),
        (e: unknown) => e instanceof NetlinkError && e.code === 'ENODEV' && /nope0/.test(e.message),
      );
      createVeth('x0', 'x1', { netns: a });
      assert.throws(
        () => createVeth('x0', 'x2', { netns: a }),
        (e: unknown) => isErrno(e, 'EEXIST') && /create veth x0/.test((e as Error).message),
      );
      assert.throws(
        () => setMtu('x0', 1 << 20, { netns: a }),
        (e: unknown) =>
          e instanceof NetlinkError &&
          e.code === 'EINVAL' &&
          typeof e.extAck === 'string' &&
          /MTU/i.test(e.extAck),
      );
    });
  });

  it('moves a link between namespaces and enslaves it to a bridge', async () => {
    await withTopology({ hosts: ['a', 'b'] }, (net) => {
      const a = net.ns('a');
      const b = net.ns('b');
      createVeth('m0', 'm1', { netns: a });
      setLinkNetns('m1', b, { netns: a });
      assert.equal(findLink('m1', { netns: a }), undefined);
      assert.equal(linkByName('m1', { netns: b }).type, 'veth');

      createBridge('br0', { netns: a });
      assert.equal(linkByName('br0', { netns: a }).type, 'bridge');
      setMaster('m0', 'br0', { netns: a });
      const br = linkByName('br0', { netns: a });
      assert.equal(linkByName('m0', { netns: a }).master, br.index);
      assert.match(ipIn(a, '-o', 'link', 'show', 'm0'), /master br0/);
      setMaster('m0', null, { netns: a });
      assert.equal(linkByName('m0', { netns: a }).master, undefined);
    });
  });

  it('adds, lists and deletes IPv4/IPv6 addresses and routes', async () => {
    await withTopology({ hosts: ['a', 'b'] }, (net) => {
      const a = net.ns('a');
      createVeth('r0', 'r1', { netns: a, peerNetns: net.ns('b') });
      setLinkUp('r0', { netns: a });
      addAddress('r0', '198.18.7.1/24', { netns: a });
      addAddress('r0', '2001:db8:7::1/64', { netns: a, nodad: true });
      const addrs = listAddresses({ netns: a, ifname: 'r0' }).map((x) => x.cidr);
      assert.ok(addrs.includes('198.18.7.1/24'), addrs.join());
      assert.ok(addrs.includes('2001:db8:7::1/64'), addrs.join());
      assert.match(ipIn(a, '-o', 'addr', 'show', 'r0'), /inet 198\.18\.7\.1\/24/);
      assert.throws(
        () => addAddress('r0', '198.18.7.1/24', { netns: a }),
        (e: unknown) => isErrno(e, 'EEXIST'),
      );

      addRoute({ dst: '198.18.9.0/24', gateway: '198.18.7.2' }, { netns: a });
      addRoute({ dst: 'default', gateway: '198.18.7.2', dev: 'r0' }, { netns: a });
      addRoute({ dst: '2001:db8:9::/64', gateway: '2001:db8:7::2' }, { netns: a });
      addRoute({ dst: '198.18.10.0/24', dev: 'r0' }, { netns: a });
      const routes = listRoutes({ netns: a });
      const find = (dst: string) => routes.find((r) => r.dst === dst);
      assert.equal(find('198.18.9.0/24')?.gateway, '198.18.7.2');
      assert.equal(find('default')?.gateway, '198.18.7.2');
      assert.equal(find('2001:db8:9::/64')?.gateway, '2001:db8:7::2');
      assert.equal(find('198.18.10.0/24')?.scope, 253);
      const shown = ipIn(a, 'route', 'show');
      assert.match(shown, /default via 198\.18\.7\.2 dev r0/);
      assert.match(shown, /198\.18\.9\.0\/24 via 198\.18\.7\.2 dev r0/);
      assert.match(shown, /198\.18\.10\.0\/24 dev r0 .*scope link/);

      deleteRoute({ dst: '198.18.9.0/24', gateway: '198.18.7.2' }, { netns: a });
      assert.equal(
        listRoutes({ netns: a }).find((r) => r.dst === '198.18.9.0/24'),
        undefined,
      );
      deleteAddress('r0', '198.18.7.1/24', { netns: a });
      assert.ok(
        !listAddresses({ netns: a, ifname: 'r0' })
          .map((x) => x.cidr)
          .includes('198.18.7.1/24'),
      );
    });
  });
});
