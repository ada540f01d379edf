import assert from 'node:assert/strict';
import { test } from 'node:test';
import { udpListen, udpSend } from '../../helpers/netns.js';
import { ping, withDataplane } from './helpers.js';

test('bridge: two hosts ping and exchange UDP through a bridge instance, MACs learned', async () => {
  await withDataplane(async (dp, px) => {
    const h1 = `${px}a`;
    const h2 = `${px}b`;
    dp.addHost(h1, { address: '198.18.1.10/24' });
    dp.addHost(h2, { address: '198.18.1.11/24' });
    dp.createInstance('br1', 'bridge', { ports: { p1: {}, p2: {} } });
    dp.connect({ kind: 'host', host: h1 }, { kind: 'port', instance: 'br1', port: 'p1' });
    dp.connect({ kind: 'host', host: h2 }, { kind: 'port', instance: 'br1', port: 'p2' });
    const r = await ping(h1, '198.18.1.11', 3);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const rx = await udpListen(h2, { port: 0 });
    let sent = 0;
    try {
      sent = await udpSend(h1, '198.18.1.11', rx.port, 100, 100);
      await rx.waitFor(sent);
    } finally {
      const got = await rx.stop();
      assert.equal(got.count, sent);
    }
    const st = dp.status('br1') as { fdb: { port: string; static: boolean }[] };
    assert.deepEqual(st.fdb.map((e) => e.port).sort(), ['p1', 'p2']);
    const p2 = dp.portStats('br1', 'p2');
    assert.ok(p2.txPackets >= sent, `p2 sent ${p2.txPackets}`);
  });
});
