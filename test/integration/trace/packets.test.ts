/**
 * `packets` follows a ping and a UDP datagram through a namespace topology a — r — b (r routes
 * between two veth pairs): every hop's device, namespace, hook and verdict, in order, including
 * the kernel's drop reason when b has no socket for the datagram.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { describe, it } from 'node:test';
import '../../../src/sys/index.js';
import { packets, type PacketHop } from '../../../src/trace/index.js';
import { withTopology, type TestNet } from '../../helpers/netns.js';
import { iovisor } from '../../helpers/cli.js';
import { collect } from './helpers.js';

const SPEC = {
  hosts: ['a', 'r', 'b'],
  links: [
    { a: 'a', b: 'r' },
    { a: 'r', b: 'b' },
  ],
  routers: ['r'],
  staticNeighbors: true,
};

function route(net: TestNet): void {
  const [ar, rb] = net.links;
  net.route('a', { dst: rb!.subnet4, gateway: ar!.b.ip4 });
  net.route('b', { dst: ar!.subnet4, gateway: rb!.a.ip4 });
}

const ino = (ns: string): number => statSync(`/run/netns/${ns}`).ino;

/** "host:dev hook verdict" per hop, hosts named by namespace inode. */
function path(hops: PacketHop[], names: Map<number, string>): string[] {
  return hops.map(
    (h) =>
      `${names.get(h.netns) ?? h.netns}:${h.dev || '-'} ${h.hook} ${h.verdict}${h.reason ? `(${h.reason})` : ''}`,
  );
}

describe('trace packets', () => {
  for (const hook of ['tp_btf', 'raw_tp']) {
    it(`(${hook}) follows an ICMP echo and its reply hop by hop across a router`, async () => {
      await withTopology(SPEC, async (net) => {
        route(net);
        const [ar, rb] = net.links;
        const names = new Map(['a', 'r', 'b'].map((h) => [ino(net.ns(h)), h]));
        const s = packets({ host: rb!.b.ip4, proto: 'icmp', hook });
        assert.equal(s.hook, hook);
        let ok = false;
        const hops = await collect(
          s,
          async () => {
            ok = await net.ping('a', rb!.b.ip4);
          },
          (ev) =>
            ev.some(
              (e) =>
                e.icmpType === 0 && names.get(e.netns) === 'a' && e.hook === 'netif_receive_skb',
            ),
        );
        assert.ok(ok, 'ping answered');
        const req = hops.filter((h) => h.icmpType === 8);
        const rep = hops.filter((h) => h.icmpType === 0);
        assert.ok(hops.every((h) => h.proto === 'ICMP'));
        assert.ok(req.every((h) => h.saddr === ar!.a.ip4 && h.daddr === rb!.b.ip4));
        assert.ok(rep.every((h) => h.saddr === rb!.b.ip4 && h.daddr === ar!.a.ip4));
        assert.equal(new Set(req.map((h) => h.skb)).size, 1, 'the request is one skb end to end');
        assert.deepEqual(path(req, names), [
          'a:eth0 net_dev_queue pass',
          'a:eth0 net_dev_start_xmit pass',
          'r:eth0 netif_rx pass',
          'r:eth0 netif_receive_skb pass',
          'r:eth1 net_dev_queue pass',
          'r:eth1 net_dev_start_xmit pass',
          'b:eth0 netif_rx pass',
          'b:eth0 netif_receive_skb pass',
          'b:eth0 consume_skb consumed',
        ]);
        assert.deepEqual(path(rep, names).slice(0, 8), [
          'b:eth0 net_dev_queue pass',
          'b:eth0 net_dev_start_xmit pass',
          'r:eth1 netif_rx pass',
          'r:eth1 netif_receive_skb pass',
          'r:eth0 net_dev_queue pass',
          'r:eth0 net_dev_start_xmit pass',
          'a:eth0 netif_rx pass',
          'a:eth0 netif_receive_skb pass',
        ]);
        assert.ok(
          hops.every((h, i) => i === 0 || h.ts >= hops[i - 1]!.ts),
          'in order',
        );
        assert.equal(req[0]!.icmpSeq, rep[0]!.icmpSeq);
      });
    });
  }

  it('shows the drop reason of a datagram nobody listens for, and filters by port', async () => {
    await withTopology(SPEC, async (net) => {
      route(net);
      const [, rb] = net.links;
      const names = new Map(['a', 'r', 'b'].map((h) => [ino(net.ns(h)), h]));
      const s = packets({ dst: rb!.b.ip4, proto: 'udp', port: 9999 });
      const hops = await collect(
        s,
        async () => {
          await net.udpSend('a', rb!.b.ip4, 9998, 1);
          await net.udpSend('a', rb!.b.ip4, 9999, 1);
        },
        (ev) => ev.some((e) => e.verdict === 'drop'),
      );
      assert.ok(
        hops.every((h) => h.dport === 9999 && h.proto === 'UDP'),
        'port filter',
      );
      const last = hops.at(-1)!;
      assert.equal(path([last], names)[0], 'b:eth0 kfree_skb drop(NO_SOCKET)');
      assert.equal(hops.filter((h) => h.verdict === 'drop').length, 1);
    });
  });

  it('iovisor trace packets prints hops of a ping as JSON lines and as a table', async () => {
    await withTopology(SPEC, async (net) => {
      route(net);
      const [, rb] = net.links;
      // The CLI runs in the background while the ping goes through.
      const { spawn } = await import('node:child_process');
      const { CLI } = await import('../../helpers/corpus.js');
      const child = spawn(
        process.execPath,
        [
          CLI,
          'trace',
          'packets',
          '--host',
          rb!.b.ip4,
          '--proto',
          'icmp',
          '--json',
          '--count',
          '18',
          '--netns',
          net.ns('b'),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', () => {
          if (err.includes('Tracing packets')) resolve();
        });
        child.on('exit', () => reject(new Error(`exited: ${err}`)));
      });
      assert.ok(await net.ping('a', rb!.b.ip4));
      const code = await new Promise((r) => {
        const t = setTimeout(() => child.kill('SIGINT'), 15_000);
        child.on('close', (c) => {
          clearTimeout(t);
          r(c);
        });
      });
      assert.equal(code, 0, err);
      const lines = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as PacketHop);
      // --netns b: the first hop reported is where the packet enters b; it is then followed.
      assert.equal(lines[0]!.hook, 'netif_rx');
      assert.equal(lines[0]!.dev, 'eth0');
      assert.ok(lines.some((l) => l.verdict === 'consumed'));
      const table = iovisor('trace', 'help');
      assert.match(table.stderr + table.stdout, /packets \[--host IP\]/);
    });
  });
});
