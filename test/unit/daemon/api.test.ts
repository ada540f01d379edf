import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { rmSync } from 'node:fs';
import {
  ApiError,
  FakeDataplane,
  type ChangeResult,
  type Graph,
} from '../../../src/daemon/index.js';
import { SMALL, testDaemon } from './harness.js';

test('apply, show, resources, counters and metrics over the unix socket', async () => {
  const t = await testDaemon();
  const fake = t.dp as FakeDataplane;
  try {
    assert.equal(statSync(t.daemon.socketPath!).mode & 0o777, 0o600);
    const r = await t.client.request<ChangeResult>('PUT', '/api/v1/topology', SMALL);
    assert.equal(r.generation, 1);
    assert.ok(r.changes.some((c) => c.kind === 'module' && c.name === 'br0'));
    // Applying the same document again changes nothing.
    const again = await t.client.request<ChangeResult>('PUT', '/api/v1/topology', SMALL);
    assert.deepEqual(again, { generation: 1, changes: [] });
    const g = await t.client.get<Graph>('/api/v1/topology/running');
    assert.deepEqual(
      g.instances.map((i) => i.name),
      ['br0'],
    );
    assert.equal(g.links.length, 2);

    fake.traffic('br0:p1', 10, 100, 1);
    const c = await t.client.get<{ ports: Record<string, { rxPackets: number }> }>(
      '/api/v1/counters',
    );
    assert.equal(c.ports['br0:p1']!.rxPackets, 10);
    const m = await t.client.request<string>('GET', '/metrics');
    assert.match(m, /iovisor_port_packets_total\{instance="br0",port="p1",direction="rx"\} 10/);
    assert.match(m, /iovisor_port_drops_total\{instance="br0",port="p1"\} 1/);
    assert.match(m, /iovisor_module_packets_total\{instance="br0",type="bridge"\} 10/);

    // Resource edits.
    await t.client.request('POST', '/api/v1/instances', {
      name: 'r1',
      type: 'router',
      ports: { a: { address: '198.18.2.1/24' } },
    });
    await t.client.request('POST', '/api/v1/instances/br0/ports', { name: 'p3' });
    await t.client.request('POST', '/api/v1/connections', { a: 'br0:p3', b: 'r1:a' });
    await t.client.request('PUT', '/api/v1/instances/br0/config', { aging: '30s' });
    await t.client.request('POST', '/api/v1/instances', {
      name: 'mon',
      type: 'monitor',
      attach: ['br0:p1'],
    });
    let g2 = await t.client.get<Graph>('/api/v1/topology/running');
    assert.equal(g2.links.length, 3);
    assert.deepEqual(
      g2.instances.find((i) => i.name === 'br0')!.ports.find((p) => p.name === 'p1')!.stack,
      ['mon'],
    );
    await t.client.request('DELETE', '/api/v1/connections/r1:a');
    await t.client.request('DELETE', '/api/v1/instances/r1');
    await t.client.request('DELETE', '/api/v1/instances/br0/ports/p3');
    g2 = await t.client.get<Graph>('/api/v1/topology/running');
    assert.deepEqual(g2.instances.map((i) => i.name).sort(), ['br0', 'mon']);
    const st = await t.client.get<{ generation: number; instances: number }>('/api/v1/status');
    assert.equal(st.instances, 2);
    assert.equal(st.generation, 9);

    // Maps: write, read back, list, delete.
    await t.client.request('PUT', '/api/v1/instances/br0/maps/fdb/entries', {
      key: { mac: '02:00:00:00:00:01', vlan: 1 },
      value: { port: 1 },
    });
    const e = await t.client.get<{ key: unknown; value: unknown }[]>(
      '/api/v1/instances/br0/maps/fdb/entries',
    );
    assert.deepEqual(e, [{ key: { mac: '02:00:00:00:00:01', vlan: 1 }, value: { port: 1 } }]);
    const one = await t.client.request('POST', '/api/v1/instances/br0/maps/fdb/lookup', {
      key: { mac: '02:00:00:00:00:01', vlan: 1 },
    });
    assert.deepEqual(one, e[0]);
    await t.client.request('DELETE', '/api/v1/instances/br0/maps/fdb/entries', {
      key: { mac: '02:00:00:00:00:01', vlan: 1 },
    });
    await assert.rejects(
      t.client.request('POST', '/api/v1/instances/br0/maps/fdb/lookup', { key: 1 }),
      (err: ApiError) => err.status === 404,
    );

    // OpenAPI lists every route and embeds module config schemas.
    const doc = await t.client.get<{
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    }>('/openapi.json');
    assert.equal(doc.openapi, '3.0.3');
    assert.ok(doc.paths['/api/v1/instances/{name}/maps/{map}/entries']);
    assert.ok(doc.components.schemas['config.bridge']);
    // The dashboard is served.
    const page = await t.client.raw('GET', '/');
    assert.equal(page.status, 200);
    assert.match(page.text, /<title>iovisor/);
  } finally {
    await t.stop();
  }
});

test('desired state survives a restart and the reconcile loop repairs drift', async () => {
  const t = await testDaemon();
  const dir = t.dir;
  try {
    await t.client.request('PUT', '/api/v1/topology', SMALL);
    t.client.close();
    await t.daemon.close();
    // A fresh (empty) data plane: the new daemon rebuilds it from the store at start.
    const fresh = new FakeDataplane();
    const t2 = await testDaemon({ dir, dp: fresh });
    try {
      assert.deepEqual(
        fresh.show().instances.map((i) => i.name),
        ['br0'],
      );
      const d = await t2.client.get<{ generation: number }>('/api/v1/topology');
      assert.equal(d.generation, 1);
      fresh.dropInstance('br0');
      assert.equal(fresh.show().instances.length, 0);
      await t2.daemon.reconcile();
      assert.deepEqual(
        fresh.show().instances.map((i) => i.name),
        ['br0'],
      );
      assert.equal(fresh.show().links.length, 2);
      const m = await t2.client.request<string>('GET', '/metrics');
      assert.match(m, /iovisor_reconcile_drift_total 2/);
    } finally {
      await t2.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('event stream: changes, logs and counter snapshots over WebSocket', async () => {
  const t = await testDaemon({ countersMs: 50 });
  try {
    const ws = await t.client.events(['change', 'log', 'counters']);
    const got: { type: string }[] = [];
    const wait = (pred: () => boolean): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => (pred() ? resolve() : void setTimeout(check, 10));
        check();
      });
    ws.on('message', (m: string) => got.push(JSON.parse(m) as { type: string }));
    await wait(() => got.some((e) => e.type === 'hello'));
    await t.client.request('PUT', '/api/v1/topology', SMALL);
    (t.dp as FakeDataplane).emit({
      type: 'log',
      time: Date.now(),
      instance: 'br0',
      message: 'hello from br0',
    });
    await wait(() => ['change', 'log', 'counters'].every((k) => got.some((e) => e.type === k)));
    const recent = await t.client.get<{ type: string }[]>('/api/v1/events?types=log');
    assert.ok(recent.some((e) => e.type === 'log'));
    ws.close();
  } finally {
    await t.stop();
  }
});
