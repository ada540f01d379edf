// Adoption after kill -9 with a router (whose ARP/ND lives in the user-space slow path): the
// restarted daemon re-adopts the running data plane through Dataplane.adopt, so the router
// still answers ARP for a host added later, a changed topology is applied in place while a flow
// runs through the router (every datagram arrives), slow-path packets reach the event stream,
// and program run time appears in /metrics (--bpf-stats).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Dataplane, DEFAULT_BPFFS_ROOT } from '../../../src/dataplane/index.js';
import { deleteNetns, netnsExists } from '../../../src/net/index.js';
import {
  DaemonClient,
  type ChangeResult,
  type DaemonEvent,
  type Topology,
} from '../../../src/daemon/index.js';
import { exec, udpListen, udpSend } from '../../helpers/netns.js';

import { PACED, ready, startDaemonProcess } from './process.js';

test('kill -9, restart: the router is adopted, answers ARP for a new host, and a changed topology applies without interrupting a flow', async () => {
  const id = process.pid;
  const name = `iova${id}`;
  const [ha, hb, hc] = [`aa${id}`, `ab${id}`, `ac${id}`];
  const dir = mkdtempSync(path.join(tmpdir(), 'iovisord-adopt-'));
  const sock = path.join(dir, 'iovisord.sock');
  const args = [
    ...['--state-dir', path.join(dir, 'state'), '--socket', sock, '--name', name],
    ...['--reconcile', '1', '--bpf-stats'],
  ];
  const topo: Topology = {
    hosts: {
      [ha]: { address: '198.18.20.10/24', gateway: '198.18.20.1' },
      [hb]: { address: '198.18.21.10/24', gateway: '198.18.21.1' },
    },
    modules: {
      r1: {
        type: 'router',
        ports: { p1: { address: '198.18.20.1/24' }, p2: { address: '198.18.21.1/24' } },
      },
    },
    links: [
      [ha, 'r1:p1'],
      ['r1:p2', hb],
    ],
  };
  let daemon: ChildProcess | undefined;
  const client = new DaemonClient({ socketPath: sock, keepAlive: false });
  try {
    daemon = startDaemonProcess(args);
    await ready(client, sock);
    await client.request('PUT', '/api/v1/topology', topo);
    const rx = await udpListen(hb, { addr: '198.18.21.10' });
    try {
      // Warm up: the router resolves both hosts through its slow path, then forwards in the kernel.
      const warm = await exec(ha, 'ping', [
        '-n',
        '-c',
        '2',
        '-i',
        '0.2',
        '-W',
        '2',
        '198.18.21.10',
      ]);
      assert.equal(warm.code, 0, `ping across the router: ${warm.stdout}${warm.stderr}`);
      assert.equal(await udpSend(ha, '198.18.21.10', rx.port, 10), 10);
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
          '198.18.21.10',
          String(rx.port),
          '10000',
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      sender.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      const senderDone = new Promise<number>((resolve) =>
        sender.on('exit', () => resolve(Number(out.trim()))),
      );
      await new Promise((r) => setTimeout(r, 800));

      daemon.kill('SIGKILL');
      await new Promise((r) => daemon!.once('exit', r));
      await new Promise((r) => setTimeout(r, 500));
      daemon = startDaemonProcess(args);
      await ready(client, sock);

      const events: DaemonEvent[] = [];
      const ws = await client.events(['packet', 'change']);
      ws.on('message', (m: string) => events.push(JSON.parse(m) as DaemonEvent));
      try {
        // The controller runs again: live status, not a placeholder.
        const st = await client.get<{ slowPath?: { arpIn: number } }>(
          '/api/v1/instances/r1/status',
        );
        assert.ok(st.slowPath, 'router controller status after adoption');

        // A changed topology, applied in place while the flow runs: nothing is removed.
        const next = structuredClone(topo);
        next.hosts![hc] = { address: '198.18.22.10/24', gateway: '198.18.22.1' };
        next.modules!.r1!.ports!.p3 = { address: '198.18.22.1/24' };
        next.links!.push(['r1:p3', hc]);
        const r = await client.request<ChangeResult>('PUT', '/api/v1/topology', next);
        assert.deepEqual(
          r.changes.map((c) => `${c.op} ${c.kind} ${c.name}`).sort(),
          [`add host ${hc}`, `add link ${hc} - r1:p3`, 'add port r1:p3'].sort(),
        );

        // The new host's first packets need ARP for its gateway: the router's slow path answers.
        const ping = await exec(hc, 'ping', [
          '-n',
          '-c',
          '2',
          '-i',
          '0.2',
          '-W',
          '2',
          '198.18.22.1',
        ]);
        assert.equal(
          ping.code,
          0,
          `ping the router from the new host: ${ping.stdout}${ping.stderr}`,
        );
        const across = await exec(hc, 'ping', [
          '-n',
          '-c',
          '2',
          '-i',
          '0.2',
          '-W',
          '2',
          '198.18.21.10',
        ]);
        assert.equal(across.code, 0, `ping across the router: ${across.stdout}`);
        const st2 = await client.get<{ slowPath: { arpIn: number } }>(
          '/api/v1/instances/r1/status',
        );
        assert.ok(st2.slowPath.arpIn > 0, 'the adopted router handled ARP');
        for (let i = 0; i < 40 && !events.some((e) => e.type === 'packet'); i++)
          await new Promise((res) => setTimeout(res, 50));
        const pk = events.find((e) => e.type === 'packet');
        assert.ok(pk && pk.type === 'packet' && pk.instance === 'r1', 'packet-in on the stream');
        assert.ok(
          events.some((e) => e.type === 'change'),
          'the change on the stream',
        );

        const metrics = await client.request<string>('GET', '/metrics');
        // Stats are on (--bpf-stats): each instance's program has run-count and run-time rows.
        // The kernel counts runs of the program a hook invokes; modules run by tail call from
        // the patch panel, so their own rows only grow when they are invoked directly.
        assert.match(
          metrics,
          /iovisor_module_program_runs_total\{instance="r1",type="router"\} \d+/,
        );
        assert.match(
          metrics,
          /iovisor_module_program_run_seconds_total\{instance="r1",type="router"\} [0-9.e-]+/,
        );
      } finally {
        ws.close();
      }

      const sent = await senderDone;
      assert.equal(sent, 10000);
      await rx.waitFor(sent + 10, 20_000);
      await new Promise((r) => setTimeout(r, 300));
      const got = await rx.stop();
      assert.equal(got.count, sent + 10, 'packets sent equal packets received');
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
    for (const h of [ha, hb, hc]) if (netnsExists(h)) deleteNetns(h);
    rmSync(dir, { recursive: true, force: true });
  }
});
