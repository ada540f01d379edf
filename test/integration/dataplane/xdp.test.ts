import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyTopology, ConfigError } from '../../../src/dataplane/index.js';
import { withDataplane } from './helpers.js';

// hook: xdp is refused with a reason a person can act on, and nothing is created (see
// src/dataplane/xdp.ts for why the XDP hook needs its own build of the patch panel).
test('xdp hook: an instance on xdp is refused clearly and changes nothing', async () => {
  await withDataplane(async (dp, px) => {
    assert.throws(
      () => dp.createInstance('br1', 'bridge', { hook: 'xdp', ports: { p1: {} } }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /modules\.br1\.hook/.test(err.message) &&
        /tail-call/.test(err.message) &&
        /tcx/.test(err.message),
    );
    assert.deepEqual(dp.instanceNames(), []);
    const yaml = `
hosts:
  ${px}a: { address: 198.18.1.10/24 }
modules:
  br1: { type: bridge, hook: xdp }
links:
  - [${px}a, br1:p1]
`;
    assert.throws(() => applyTopology(dp, yaml), /modules\.br1\.hook.*xdp/);
    assert.deepEqual(dp.instanceNames(), []);
    assert.deepEqual(dp.hostNames(), []);
    // tcx, the default, still works.
    dp.createInstance('br1', 'bridge', { hook: 'tcx', ports: { p1: {} } });
    assert.equal(dp.topology().instances[0]!.hook, 'tcx');
  });
});
