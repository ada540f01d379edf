import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyTopology } from '../../../src/dataplane/index.js';
import {
  closeDataplaneTraces,
  openDataplaneTraces,
  type DataplaneHop,
} from '../../../src/trace/dptrace.js';
import { packets, type PacketHop } from '../../../src/trace/packets.js';
import { ping, withDataplane } from '../dataplane/helpers.js';

test('data plane trace points: a ping through host → bridge → router → host shows the bridge and router hops and verdicts in order', async () => {
  await withDataplane(async (dp, px) => {
    const a = `${px}a`;
    const b = `${px}b`;
    applyTopology(
      dp,
      `
hosts:
  ${a}: { address: 198.18.1.10/24, gateway: 198.18.1.1 }
  ${b}: { address: 198.18.2.10/24, gateway: 198.18.2.1 }
modules:
  br1: { type: bridge }
  r1:
    type: router
    ports:
      p1: { address: 198.18.1.1/24 }
      p2: { address: 198.18.2.1/24 }
links:
  - [${a}, br1:p1]
  - [br1:p2, r1:p1]
  - [r1:p2, ${b}]
`,
    );
    // Resolve ARP first so the traced ping takes the fast path.
    const warm = await ping(a, '198.18.2.10', 1);
    assert.equal(warm.code, 0, warm.stdout + warm.stderr);

    const srcs = openDataplaneTraces({ names: [dp.name] });
    assert.deepEqual(srcs.map((s) => s.instance).sort(), ['', 'br1', 'r1']);
    const hops: DataplaneHop[] = [];
    try {
      const r = await ping(a, '198.18.2.10', 1);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      for (const s of srcs) s.ring.consume((rec) => void hops.push(s.decode(rec)));
    } finally {
      closeDataplaneTraces(srcs);
    }
    const req = hops
      .filter((h) => h.proto === 'ICMP' && h.icmpType === 8 && h.saddr === '198.18.1.10')
      .sort((x, y) => (x.ts < y.ts ? -1 : x.ts > y.ts ? 1 : 0));
    const seq = req.map((h) => `${h.instance}:${h.hook}:${h.verdict}`);
    assert.deepEqual(
      seq,
      ['br1:in:pass', 'br1:out:pass', 'r1:in:pass', 'r1:out:pass', 'r1:to_host:pass'],
      JSON.stringify(hops, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
    );
    assert.equal(req[0]!.port, 0);
    const rep = hops.filter((h) => h.icmpType === 0 && h.saddr === '198.18.2.10');
    assert.deepEqual(
      rep.sort((x, y) => (x.ts < y.ts ? -1 : 1)).map((h) => `${h.instance}:${h.hook}`),
      ['r1:in', 'r1:out', 'br1:in', 'br1:out', 'br1:to_host'],
    );

    // The same ping through `packets`: kernel hooks and module hops in one time-ordered stream.
    const stream = packets({ host: '198.18.2.10', proto: 'icmp', dataplane: [dp.name] });
    const all: PacketHop[] = [];
    const done = stream.forEach((h) => void all.push(h));
    try {
      const r = await ping(a, '198.18.2.10', 1);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      await new Promise((res) => setTimeout(res, 500));
    } finally {
      stream.stop();
    }
    await done;
    const echo = all.filter((h) => h.icmpType === 8);
    const names = echo.map((h) => (h.instance !== undefined ? h.hook : `kernel:${h.hook}`));
    const at = (n: string): number => names.indexOf(n);
    for (const n of ['br1:in', 'br1:out', 'r1:in', 'r1:out', 'r1:to_host'])
      assert.ok(at(n) >= 0, `${n} in ${names.join(' ')}`);
    assert.ok(at('br1:in') < at('br1:out') && at('br1:out') < at('r1:in'), names.join(' '));
    assert.ok(at('r1:in') < at('r1:out') && at('r1:out') < at('r1:to_host'), names.join(' '));
    // The host's transmit comes before the first module hop.
    assert.ok(
      at('kernel:net_dev_queue') >= 0 && at('kernel:net_dev_queue') < at('br1:in'),
      names.join(' '),
    );
    assert.ok(echo.filter((h) => h.instance !== undefined).every((h) => h.verdict === 'pass'));
  });
});
