// The dashboard over the real data plane (root): a bridge with a monitor stacked on one port,
// two hosts in their own namespaces, real UDP traffic; the page shows every instance and link
// and the counters rise. Saves test-artifacts/dashboard-kernel.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { DaemonClient, openDataplane, startDaemon, type Graph } from '../../src/daemon/index.js';
import { Dataplane, DEFAULT_BPFFS_ROOT } from '../../src/dataplane/index.js';
import { deleteNetns, netnsExists } from '../../src/net/index.js';
import { udpListen, udpSend } from '../helpers/netns.js';
import { launchChromium, repoRoot } from './chromium.js';

test('dashboard over the real data plane shows the topology and rising counters', async () => {
  const id = process.pid;
  const name = `iovw${id}`;
  const ha = `wa${id}`;
  const hb = `wb${id}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'iovisord-kbrowser-'));
  const stateDir = path.join(dir, 'state');
  const dp = await openDataplane({ name, stateDir, log: () => undefined });
  const d = await startDaemon({
    dataplane: dp,
    stateDir,
    socket: path.join(dir, 'd.sock'),
    listen: '127.0.0.1:0',
    tokenFile: path.join(dir, 'token'),
    reconcileMs: 0,
    countersMs: 250,
    log: () => undefined,
  });
  const client = new DaemonClient({ socketPath: d.socketPath! });
  let browser: BrowserContext | undefined;
  let traffic: NodeJS.Timeout | undefined;
  try {
    await client.request('PUT', '/api/v1/topology', {
      hosts: { [ha]: { address: '198.18.9.1/24' }, [hb]: { address: '198.18.9.2/24' } },
      modules: {
        br0: { type: 'bridge', ports: { p1: {}, p2: {} } },
        mon: { type: 'monitor', attach: ['br0:p1'] },
      },
      links: [
        [ha, 'br0:p1'],
        ['br0:p2', hb],
      ],
    });
    const g = await client.get<Graph>('/api/v1/topology/running');
    const rx = await udpListen(hb, { addr: '198.18.9.2' });
    let sending = false;
    traffic = setInterval(() => {
      if (sending) return;
      sending = true;
      udpSend(ha, '198.18.9.2', rx.port, 200, 200)
        .catch(() => undefined)
        .finally(() => (sending = false));
    }, 300);
    browser = await launchChromium(path.join(dir, 'profile'));
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const token = readFileSync(path.join(dir, 'token'), 'utf8').trim();
    await page.goto(`http://127.0.0.1:${d.tcp!.port}/?token=${token}`);
    await page.waitForFunction(() => document.body.dataset.ws === 'open');
    await page.waitForFunction(
      (n) => document.querySelectorAll('#graph [data-instance]').length === n,
      g.instances.length,
    );
    const drawn = await page.evaluate(() => ({
      instances: [...document.querySelectorAll('#graph [data-instance]')].map(
        (e) => (e as HTMLElement).dataset.instance,
      ),
      links: [...document.querySelectorAll('#graph .link[data-link]')].map(
        (e) => (e as HTMLElement).dataset.link,
      ),
    }));
    assert.deepEqual([...drawn.instances].sort(), ['br0', 'mon']);
    assert.deepEqual([...drawn.links].sort(), g.links.map(([a, b]) => `${a}|${b}`).sort());
    const first = Number(await page.evaluate(() => document.body.dataset.totalPackets ?? '0'));
    await page.waitForFunction(
      (f) => Number(document.body.dataset.totalPackets ?? '0') > f + 200,
      first,
      { timeout: 20_000 },
    );
    await page.waitForFunction(
      () => document.querySelector('[data-port="br0:p1"]')?.getAttribute('data-health') === 'ok',
    );
    await page.click('[data-instance="br0"]');
    await page.waitForSelector('#detail [data-chart="inst:br0:pps"]');
    await new Promise((r) => setTimeout(r, 1500));
    mkdirSync(path.join(repoRoot(), 'test-artifacts'), { recursive: true });
    await page.screenshot({
      path: path.join(repoRoot(), 'test-artifacts', 'dashboard-kernel.png'),
    });
    assert.ok(rx.count > 0);
    assert.deepEqual(errors, []);
    clearInterval(traffic);
    await rx.stop();
  } finally {
    if (traffic) clearInterval(traffic);
    await browser?.close();
    client.close();
    await d.close({ teardown: true }).catch(() => undefined);
    Dataplane.removeStale(path.join(DEFAULT_BPFFS_ROOT, name), name);
    for (const h of [ha, hb]) if (netnsExists(h)) deleteNetns(h);
    rmSync(dir, { recursive: true, force: true });
  }
});
