import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyTopology } from '../../../src/dataplane/index.js';
import {
  closeDataplaneTraces,
  openDataplaneTraces,
  type DataplaneHop,
} from '../../../src/trace/dptrace.js';
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
  });
});
