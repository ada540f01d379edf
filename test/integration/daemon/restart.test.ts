// kill -9 of iovisord while traffic flows through a real bridge instance: the kernel keeps
// forwarding (every packet sent arrives), and the restarted daemon adopts the pinned state: the
// same topology, and counters that continue from where they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Dataplane, DEFAULT_BPFFS_ROOT } from '../../../src/dataplane/index.js';
import { deleteNetns, netnsExists } from '../../../src/net/index.js';
import { DaemonClient, type Counters, type Graph } from '../../../src/daemon/index.js';
import { udpListen, udpSend } from '../../helpers/netns.js';

import { PACED, ready, startDaemonProcess } from './process.js';

test('kill -9 while traffic flows: nothing lost, the restarted daemon adopts and counts on', async () => {
  const id = process.pid;
  const name = `iovd${id}`;
  const ha = `da${id}`;
  const hb = `db${id}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'iovisord-restart-'));
  const sock = path.join(dir, 'iovisord.sock');
  const args = [
    '--state-dir',
    path.join(dir, 'state'),
    '--socket',
    sock,
    '--name',
    name,
    '--reconcile',
    '1',
  ];
  let daemon: ChildProcess | undefined;
  const client = new DaemonClient({ socketPath: sock, keepAlive: false });
  try {
    daemon = startDaemonProcess(args);
    await ready(client, sock);
    await client.request('PUT', '/api/v1/topology', {
      hosts: { [ha]: { address: '198.18.7.1/24' }, [hb]: { address: '198.18.7.2/24' } },
      modules: { br0: { type: 'bridge', ports: { p1: {}, p2: {} } } },
      links: [
        [ha, 'br0:p1'],
        ['br0:p2', hb],
      ],
    });
    const before = await client.get<Graph>('/api/v1/topology/running');
    const rx = await udpListen(hb, { addr: '198.18.7.2' });
    try {
      // Warm up (ARP through the bridge), then a steady flow across the kill and the restart.
      assert.equal(await udpSend(ha, '198.18.7.2', rx.port, 10), 10);
      await rx.waitFor(10);
      const sender = spawn(
        'ip',
        [
          'netns',
          'exec',
          ha,
          process.execPath,
          '-e',
          PACED,
          '198.18.7.2',
          String(rx.port),
          '12000',
        ],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let out = '';
      sender.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      const senderDone = new Promise<number>((resolve) =>
        sender.on('exit', () => resolve(Number(out.trim()))),
      );
      await new Promise((r) => setTimeout(r, 1000));
      const c1 = await client.get<Counters>('/api/v1/counters');
      assert.ok(c1.ports['br0:p1']!.rxPackets > 10, 'traffic is counted before the kill');

      daemon.kill('SIGKILL');
      await new Promise((r) => daemon!.once('exit', r));
      await new Promise((r) => setTimeout(r, 1000));
      daemon = startDaemonProcess(args);
      await ready(client, sock);

      const after = await client.get<Graph>('/api/v1/topology/running');
      const shape = (g: Graph): unknown => ({
        hosts: g.hosts.map((h) => [h.name, h.link]),
        instances: g.instances.map((i) => [i.name, i.type, i.ports.map((p) => [p.name, p.peer])]),
        links: g.links,
      });
      assert.deepEqual(shape(after), shape(before));
      const c2 = await client.get<Counters>('/api/v1/counters');
      assert.ok(
        c2.ports['br0:p1']!.rxPackets > c1.ports['br0:p1']!.rxPackets,
        'counters continue, not reset',
      );

      const sent = await senderDone;
      assert.equal(sent, 12000);
      await rx.waitFor(sent + 10, 20_000);
      await new Promise((r) => setTimeout(r, 300));
      const got = await rx.stop();
      assert.equal(got.count, sent + 10, 'packets sent equal packets received');
      const c3 = await client.get<Counters>('/api/v1/counters');
      assert.ok(c3.ports['br0:p1']!.rxPackets >= sent + 10);
      assert.ok(c3.ports['br0:p2']!.txPackets >= sent + 10);
      const m = await client.request<string>('GET', '/metrics');
      assert.match(m, /iovisor_port_packets_total\{instance="br0",port="p1",direction="rx"\} \d+/);
    } finally {
      await rx.stop().catch(() => undefined);
    }
  } finally {
    client.close();
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGKILL');
      await new Promise((r) => daemon!.once('exit', r));
    }
    Dataplane.removeStale(path.join(DEFAULT_BPFFS_ROOT, name), name);
    for (const h of [ha, hb]) if (netnsExists(h)) deleteNetns(h);
    rmSync(dir, { recursive: true, force: true });
  }
});
