import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyTopology, deleteTopology } from '../../../src/dataplane/index.js';
import { netnsExists } from '../../../src/net/index.js';
import { udpListen, udpSend } from '../../helpers/netns.js';
import { chainYaml, ping, withDataplane } from './helpers.js';

test('chain: host → bridge → router → bridge → host, a monitor on a router port counts exactly what was sent; apply is idempotent; delete removes all', async () => {
  await withDataplane(async (dp, px) => {
    const a = `${px}a`;
    const b = `${px}b`;
    const yaml = chainYaml(a, b, {}, ', aging: 60s');
    const first = applyTopology(dp, yaml);
    assert.ok(first.changes.length > 0);
    assert.deepEqual(applyTopology(dp, yaml).changes, [], 'second apply changes nothing');

    const r = await ping(a, '198.18.2.10', 2);
    assert.equal(r.code, 0, r.stdout + r.stderr);

    const rx = await udpListen(b, { port: 0 });
    let sent = 0;
    try {
      sent = await udpSend(a, '198.18.2.10', rx.port, 100, 300);
      await rx.waitFor(sent);
    } finally {
      assert.equal((await rx.stop()).count, sent);
    }
    const st = dp.status('mon1') as {
      flows: {
        dir: string;
        src: string;
        dst: string;
        dport: number;
        proto: number;
        packets: number;
        bytes: number;
      }[];
      ports: { port: string; dir: string; packets: number }[];
      topTalkers: { src: string }[];
    };
    const flow = st.flows.filter((f) => f.proto === 17 && f.dport === rx.port);
    assert.equal(flow.length, 1, JSON.stringify(st.flows));
    assert.equal(flow[0]!.packets, sent, 'monitor flow count equals packets sent');
    assert.equal(flow[0]!.dir, 'out');
    assert.equal(flow[0]!.bytes, sent * (300 + 8 + 20 + 14));
    const out = st.ports.find((p) => p.port === 'r1:p2' && p.dir === 'out');
    assert.ok(out && out.packets >= sent);
    assert.equal(st.topTalkers[0]!.src, '198.18.1.10');

    const view = dp.topology();
    assert.deepEqual(view.instances.find((i) => i.name === 'r1')!.ports[1]!.stack, ['mon1']);

    const del = deleteTopology(dp, yaml);
    assert.ok(del.changes.length >= 6);
    assert.equal(dp.instanceNames().length, 0);
    assert.equal(netnsExists(a), false);
    assert.equal(netnsExists(b), false);
  });
});
