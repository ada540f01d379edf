import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bridgeCase,
  buildBenchArtifacts,
  buildPathTopology,
  routerCase,
  runPath,
  TC_ACT_REDIRECT,
  XDP_REDIRECT,
} from '../../../bench/dataplane-path.js';
import { withDataplane } from './helpers.js';

// The benchmark's measured test-run path, once per module, without timing: runPath throws
// unless the verdict, the port and monitor counters and the output frame show the intended
// path; here we also assert the verdict and the counters directly.
test('bench path: bridge, router and stacked monitors take the measured path in test-run', async () => {
  buildBenchArtifacts(); // the generator and passthrough module compile
  await withDataplane(async (dp, px) => {
    const t = await buildPathTopology(dp, px, 2);
    const runs = 10;
    for (const c of [bridgeCase(t), routerCase(t)]) {
      const rx0 = dp.portStats(c.ingress.instance, c.ingress.port).rxPackets;
      const tx0 = dp.portStats(c.egress.instance, c.egress.port).txPackets;
      const r = runPath(dp, c, runs);
      assert.equal(r.retval, TC_ACT_REDIRECT, c.name);
      assert.equal(dp.portStats(c.ingress.instance, c.ingress.port).rxPackets - rx0, runs);
      assert.equal(dp.portStats(c.egress.instance, c.egress.port).txPackets - tx0, runs);
    }
    dp.attach('m1', 'br1', 'p2');
    dp.attach('m2', 'br1', 'p2');
    const r = runPath(dp, bridgeCase(t, ['m1', 'm2']), runs);
    assert.equal(r.retval, TC_ACT_REDIRECT);
    const mon = dp.status('m1') as { ports: { port: string; dir: string; packets: number }[] };
    const out = mon.ports.find((p) => p.port === 'br1:p2' && p.dir === 'out');
    assert.ok(out && out.packets >= runs, JSON.stringify(mon.ports));
    // A path that is not taken fails loudly: an unlearned destination floods instead.
    const flood = { ...bridgeCase(t), frame: bridgeCase(t).frame.slice() };
    flood.frame.set([0x02, 0, 0, 0, 0, 0x99], 0);
    assert.throws(() => runPath(dp, flood, 1), /bench path bridge: verdict 2/);
  });
});

// The same on hook xdp: the XDP entry, the XDP builds of bridge, router and monitors, and a
// redirect the XDP build performs itself (runPath checks the port's XDP-sent counter).
test('bench path (XDP): bridge, router and stacked monitors take the measured XDP path in test-run', async () => {
  await withDataplane(async (dp, px) => {
    const t = await buildPathTopology(dp, px, 2, 'xdp');
    const runs = 10;
    for (const c of [bridgeCase(t), routerCase(t)]) {
      const r = runPath(dp, c, runs, undefined, true);
      assert.equal(r.retval, XDP_REDIRECT, c.name);
    }
    dp.attach('m1', 'br1', 'p2');
    dp.attach('m2', 'br1', 'p2');
    assert.equal(
      runPath(dp, bridgeCase(t, ['m1', 'm2']), runs, undefined, true).retval,
      XDP_REDIRECT,
    );
  });
});
