import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../../../src/dataplane/index.js';
import { exec, udpListen } from '../../helpers/netns.js';
import { ping, withDataplane } from './helpers.js';

/** A paced UDP generator: `count` datagrams in bursts of 10 every 5 ms (about 2000/s). */
const PACED = `
const dgram = require('node:dgram');
const [dst, port, count] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
const buf = Buffer.alloc(64, 0x61);
let sent = 0;
const t = setInterval(() => {
  for (let i = 0; i < 10 && sent < Number(count); i++) { s.send(buf, Number(port), dst); sent++; }
  if (sent >= Number(count)) { clearInterval(t); setTimeout(() => { process.stdout.write(String(sent)); s.close(); }, 100); }
}, 5);
`;

function buildBridge(out: string, version: number): string {
  const r = spawnSync(
    'bash',
    ['scripts/build-modules.sh', '--out', out, '-D', `BRIDGE_VERSION=${version}`, 'bridge'],
    { cwd: repoRoot(), encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  return path.join(out, 'bridge.bpf.o');
}

for (const hook of ['tcx', 'xdp'] as const)
  test(`hot swap under load (hook ${hook}): bridge upgraded to a rebuilt object, monitor inserted and removed; no packet lost, MAC table kept`, () =>
    hotSwap(hook));

async function hotSwap(hook: 'tcx' | 'xdp'): Promise<void> {
  const tmp = mkdtempSync(path.join(tmpdir(), 'iov-hotswap-'));
  try {
    const v2 = buildBridge(tmp, 2);
    await withDataplane(async (dp, px) => {
      const a = `${px}a`;
      const b = `${px}b`;
      dp.addHost(a, { address: '198.18.1.10/24' });
      dp.addHost(b, { address: '198.18.1.11/24' });
      dp.createInstance('br1', 'bridge', { hook, ports: { p1: {}, p2: {} } });
      dp.createInstance('mon1', 'monitor');
      dp.connect({ kind: 'host', host: a }, { kind: 'port', instance: 'br1', port: 'p1' });
      dp.connect({ kind: 'host', host: b }, { kind: 'port', instance: 'br1', port: 'p2' });
      assert.equal((await ping(a, '198.18.1.11', 1)).code, 0);
      const fdbBefore = (dp.status('br1') as { fdb: { mac: string; port: string }[] }).fdb;
      assert.equal(fdbBefore.length, 2);
      assert.equal(dp.variable('br1', 'bridge_version'), 1);

      const rx = await udpListen(b, { port: 0 });
      const xdp0 = dp.xdpTxPackets('br1', 'p2');
      const count = 6000;
      let sent = 0;
      try {
        const gen = exec(a, process.execPath, [
          '-e',
          PACED,
          '198.18.1.11',
          String(rx.port),
          String(count),
        ]);
        await sleep(600);
        dp.upgrade('br1', { object: v2 });
        assert.equal(dp.variable('br1', 'bridge_version'), 2, 'the new build runs');
        await sleep(400);
        dp.attach('mon1', 'br1', 'p2');
        await sleep(600);
        dp.detach('mon1', 'br1', 'p2');
        await sleep(300);
        dp.upgrade('br1');
        const g = await gen;
        assert.equal(g.code, 0, g.stderr);
        sent = Number(g.stdout.trim());
        assert.equal(sent, count);
        await rx.waitFor(sent);
      } finally {
        const got = await rx.stop();
        assert.equal(got.count, sent, `received ${got.count} of ${sent}`);
      }
      const mon = dp.status('mon1') as { flows: { dport: number; packets: number }[] };
      const seen = mon.flows.find((f) => f.dport === rx.port);
      assert.ok(
        seen && seen.packets > 0 && seen.packets < count,
        'the monitor saw part of the stream while attached',
      );
      const fdbAfter = (dp.status('br1') as { fdb: { mac: string; port: string }[] }).fdb;
      assert.deepEqual(
        fdbAfter.map((e) => [e.mac, e.port]),
        fdbBefore.map((e) => [e.mac, e.port]),
        'learned MAC table survived both swaps',
      );
      assert.equal(dp.portStats('br1', 'p1').drops, 0);
      // On XDP the stream stayed in XDP across both swaps (the new build's XDP program ran).
      if (hook === 'xdp') assert.equal(dp.xdpTxPackets('br1', 'p2') - xdp0, count);
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
