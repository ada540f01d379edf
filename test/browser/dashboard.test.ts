// The dashboard in a real browser (Debian's chromium through playwright-core): the daemon
// serves it over TCP with a token, a topology is applied, traffic flows, and the page must show
// every instance and link and counters that rise. Saves test-artifacts/dashboard.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { FakeDataplane, type Graph } from '../../src/daemon/index.js';
import { testDaemon } from '../unit/daemon/harness.js';
import { launchChromium, repoRoot } from './chromium.js';

const TOPOLOGY = {
  hosts: {
    h1: { address: '198.18.1.1/24' },
    h2: { address: '198.18.1.2/24' },
    h3: { address: '198.18.2.3/24', gateway: '198.18.2.254' },
  },
  modules: {
    br0: { type: 'bridge', ports: { p1: {}, p2: {}, up: {} } },
    r1: {
      type: 'router',
      ports: { lan: { address: '198.18.1.254/24' }, h3: { address: '198.18.2.254/24' } },
    },
    mon: { type: 'monitor', attach: ['br0:p1'] },
  },
  links: [
    ['h1', 'br0:p1'],
    ['h2', 'br0:p2'],
    ['br0:up', 'r1:lan'],
    ['r1:h3', 'h3'],
  ],
};

test('dashboard shows the topology and live counters', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'iovisord-browser-'));
  const fake = new FakeDataplane();
  const t = await testDaemon({
    dir,
    dp: fake,
    listen: '127.0.0.1:0',
    tokenFile: path.join(dir, 'token'),
    countersMs: 250,
  });
  const traffic = setInterval(() => {
    fake.traffic('br0:p1', 40, 98);
    fake.traffic('br0:p2', 20, 1500, 1);
    fake.traffic('r1:h3', 30, 98);
  }, 100);
  let browser: BrowserContext | undefined;
  try {
    await t.client.request('PUT', '/api/v1/topology', TOPOLOGY);
    fake.emit({
      type: 'log',
      time: Date.now(),
      instance: 'br0',
      message: 'learned 02:00:00:00:00:01 on p1',
    });
    const g = await t.client.get<Graph>('/api/v1/topology/running');
    browser = await launchChromium(path.join(dir, 'profile'));
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    const token = readFileSync(path.join(dir, 'token'), 'utf8').trim();
    const base = `http://127.0.0.1:${t.daemon.tcp!.port}`;
    // Without the token the page is refused (in a page of its own, so its 401s stay out of
    // the error check below).
    const anon = await browser.newPage();
    assert.equal((await anon.goto(`${base}/`))?.status(), 401);
    await anon.close();
    await page.goto(`${base}/?token=${token}`);
    await page.waitForFunction(() => document.body.dataset.ws === 'open');
    await page.waitForFunction(
      (n) => document.querySelectorAll('#graph [data-instance]').length === n,
      g.instances.length,
    );

    // Every instance, host and link of the running graph is drawn.
    const drawn = await page.evaluate(() => ({
      instances: [...document.querySelectorAll('#graph [data-instance]')].map(
        (e) => (e as HTMLElement).dataset.instance,
      ),
      hosts: [...document.querySelectorAll('#graph [data-host]')].map(
        (e) => (e as HTMLElement).dataset.host,
      ),
      links: [...document.querySelectorAll('#graph .link[data-link]')].map(
        (e) => (e as HTMLElement).dataset.link,
      ),
      ports: document.querySelectorAll('#graph [data-port]').length,
    }));
    assert.deepEqual([...drawn.instances].sort(), g.instances.map((i) => i.name).sort());
    assert.deepEqual([...drawn.hosts].sort(), g.hosts.map((h) => h.name).sort());
    assert.deepEqual([...drawn.links].sort(), g.links.map(([a, b]) => `${a}|${b}`).sort());
    assert.equal(
      drawn.ports,
      g.instances.reduce((n, i) => n + i.ports.length, 0),
    );

    // Counters rise in the page, and elements are coloured by health.
    const first = Number(await page.evaluate(() => document.body.dataset.totalPackets ?? '0'));
    await page.waitForFunction(
      (f) => Number(document.body.dataset.totalPackets ?? '0') > f + 100,
      first,
    );
    await page.waitForFunction(
      () => document.querySelector('[data-port="br0:p1"]')?.getAttribute('data-health') === 'ok',
    );
    await page.waitForFunction(
      () => document.querySelector('[data-port="br0:p2"]')?.getAttribute('data-health') === 'warn',
    );
    const pps = await page.evaluate(() =>
      Number(document.querySelector('[data-chart="total:pps"]')?.getAttribute('data-last')),
    );
    assert.ok(pps > 0, `total packets/s chart shows ${pps}`);

    // The module view: charts, config and the map browser.
    await t.client.request('PUT', '/api/v1/instances/br0/maps/fdb/entries', {
      key: { mac: '02:00:00:00:00:01', vlan: 1 },
      value: { port: 'p1' },
    });
    await page.click('[data-instance="br0"]');
    await page.waitForSelector('#detail [data-chart="inst:br0:pps"]');
    await page.click('[data-tab="maps"]');
    await page.click('[data-map-tab="fdb"]');
    await page.waitForFunction(() =>
      document.querySelector('[data-map="fdb"]')?.textContent?.includes('02:00:00:00:00:01'),
    );
    // The event stream shows the apply and the module log.
    await page.waitForFunction(() =>
      document.querySelector('#events li.log')?.textContent?.includes('learned'),
    );
    assert.ok(await page.$('#events li.change'));

    // A change made through the API appears live.
    await t.client.request('POST', '/api/v1/instances', { name: 'r2', type: 'router' });
    await page.waitForSelector('[data-instance="r2"]');
    await page.click('[data-tab="ports"]');
    await new Promise((r) => setTimeout(r, 1500));
    mkdirSync(path.join(repoRoot(), 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(repoRoot(), 'test-artifacts', 'dashboard.png') });
    assert.deepEqual(errors, []);
  } finally {
    clearInterval(traffic);
    await browser?.close();
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
