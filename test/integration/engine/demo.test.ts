// The README demo runs end to end: namespaces, XDP attach by name, real traffic, live counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const demo = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'examples',
  'xdp-counter',
  'demo.js',
);

test('xdp-counter demo counts the ping and UDP packets it sends, and cleans up', () => {
  const r = spawnSync(process.execPath, [demo, '--seconds', '2', '--json'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { counters: Record<string, { packets: number }> });
  const last = lines.at(-1)!.counters;
  // ping -i 0.2 for 2 s sends about 10 requests; the UDP sender sends 40 datagrams.
  assert.ok(last.icmp!.packets >= 5, `icmp ${last.icmp?.packets}`);
  assert.ok(last.udp!.packets >= 30 && last.udp!.packets <= 40, `udp ${last.udp?.packets}`);
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  assert.doesNotMatch(ns, /iovdemo-/, 'namespaces removed');
});
