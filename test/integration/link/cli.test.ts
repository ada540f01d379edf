// The attach, link and events commands end to end, as a user runs them: load with
// `object load`, attach by interface name in a namespace with a pinned link, see it in
// `link list`, count real traffic with `map dump`, detach, and stream ring-buffer records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, closeSync, rmSync } from 'node:fs';
import path from 'node:path';
import { iovisor, iovisorJSON } from '../../helpers/cli.js';
import { corpusObject } from '../../helpers/corpus.js';
import { withTopology } from '../../helpers/netns.js';

interface LinkRow {
  id: number;
  type: string;
  prog_id: number;
}

test('attach tcx by name in a namespace, list, count traffic, detach', async () => {
  const dir = `/sys/fs/bpf/iovt-cli-${process.pid}`;
  const linkPin = `${dir}-link`;
  try {
    await withTopology(
      { hosts: ['a', 'b'], links: [{ a: 'a', b: 'b' }], staticNeighbors: true },
      async (net) => {
        const { a, b } = net.links[0]!;
        iovisorJSON('object', 'load', corpusObject('tc'), '--pin', dir);
        const prog = path.join(dir, 'tcx_ingress_count');
        const att = iovisor(
          'attach',
          'tcx',
          prog,
          '--dev',
          b.ifname,
          '--netns',
          b.ns,
          '--direction',
          'ingress',
          '--pin',
          linkPin,
          '--json',
        );
        assert.equal(att.status, 0, att.stderr);
        const progId = iovisorJSON<{ id: number }>('prog', 'show', prog).id;
        const links = iovisorJSON<LinkRow[]>('link', 'list');
        const mine = links.find((l) => l.prog_id === progId);
        assert.ok(mine, 'link list shows the new link');
        assert.equal(mine.type, 'tcx');

        const sent = await net.udpSend(a.host, b.ip4, 7, 25, 64);
        assert.equal(sent, 25);
        const counts = iovisorJSON<{ key: { ip_proto: number; hook: number }; value: number }[]>(
          'map',
          'dump',
          path.join(dir, 'maps', 'proto_counts'),
        );
        const udp = counts.find((e) => e.key.ip_proto === 17 && e.key.hook === 1);
        assert.equal(udp?.value, 25, `UDP counted at tcx ingress: ${JSON.stringify(counts)}`);

        const det = iovisor('link', 'detach', linkPin);
        assert.equal(det.status, 0, det.stderr);
        assert.ok(
          !iovisorJSON<LinkRow[]>('link', 'list').some((l) => l.prog_id === progId),
          'link gone after detach',
        );

        // The hook's failures are one clear line naming the hook and the reason.
        const bad = iovisor(
          'attach',
          'tcx',
          prog,
          '--dev',
          'nosuchdev0',
          '--netns',
          b.ns,
          '--direction',
          'ingress',
          '--pin',
          linkPin,
        );
        assert.notEqual(bad.status, 0);
        assert.match(bad.stderr, /attach tcx ingress .*no interface nosuchdev0 in namespace/);
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(linkPin, { force: true });
  }
});

test('events streams ring-buffer records of a tracepoint the test triggers', () => {
  const dir = `/sys/fs/bpf/iovt-ev-${process.pid}`;
  const linkPin = `${dir}-link`;
  try {
    iovisorJSON('object', 'load', corpusObject('ringbuf'), '--pin', dir);
    const att = iovisor(
      'attach',
      'tracepoint',
      path.join(dir, 'trace_openat'),
      '--tp',
      'syscalls/sys_enter_openat',
      '--pin',
      linkPin,
    );
    assert.equal(att.status, 0, att.stderr);
    // Records accumulate in the ring until read: trigger first, then read them back.
    for (let i = 0; i < 5; i++) closeSync(openSync('/etc/hostname', 'r'));
    const ev = iovisor(
      'events',
      path.join(dir, 'maps', 'events'),
      '--count',
      '3',
      '--timeout',
      '10',
    );
    assert.equal(ev.status, 0, ev.stderr);
    const lines = ev.stdout.trim().split('\n');
    assert.equal(lines.length, 3, ev.stdout);
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `JSON line: ${l}`);
  } finally {
    iovisor('link', 'detach', linkPin);
    rmSync(dir, { recursive: true, force: true });
    rmSync(linkPin, { force: true });
  }
});
