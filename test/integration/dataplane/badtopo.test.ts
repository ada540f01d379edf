import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyTopology, type Dataplane } from '../../../src/dataplane/index.js';
import { withDataplane } from './helpers.js';

function snapshot(dp: Dataplane): unknown {
  const v = dp.topology();
  return {
    hosts: v.hosts,
    links: v.links,
    instances: v.instances.map((i) => ({
      ...i,
      ports: i.ports.map((p) => ({ ...p, stats: null })),
    })),
  };
}

test('bad topologies are rejected naming the field, and nothing changes', async () => {
  await withDataplane(async (dp, px) => {
    const a = `${px}a`;
    const b = `${px}b`;
    const good = `
hosts:
  ${a}: { address: 198.18.1.10/24 }
  ${b}: { address: 198.18.1.11/24 }
modules:
  br1: { type: bridge }
links:
  - [${a}, br1:p1]
  - [${b}, br1:p2]
`;
    applyTopology(dp, good);
    const before = snapshot(dp);
    const cases: [string, string, RegExp][] = [
      [
        'unknown module type',
        `modules:\n  br1: { type: bridge }\n  x1: { type: switchy }\n`,
        /modules\.x1\.type: unknown module type "switchy"/,
      ],
      [
        'port used twice',
        `hosts:\n  ${a}: { address: 198.18.1.10/24 }\n  ${b}: { address: 198.18.1.11/24 }\nmodules:\n  br1: { type: bridge }\nlinks:\n  - [${a}, br1:p1]\n  - [${b}, br1:p1]\n`,
        /links\[1\]\[1\]: br1:p1 is already used by links\[0\]\[1\]/,
      ],
      [
        'dangling peer',
        `modules:\n  br1: { type: bridge }\nlinks:\n  - [br1:p1, r9:p1]\n`,
        /links\[0\]\[1\]: "r9:p1": no module r9 in this topology \(dangling peer\)/,
      ],
      [
        'missing namespace',
        `modules:\n  br1: { type: bridge }\nlinks:\n  - [br1:p1, netdev:veth9@${px}nons]\n`,
        new RegExp(`links\\[0\\]\\[1\\]: namespace ${px}nons does not exist`),
      ],
      [
        'invalid config value',
        `modules:\n  r1:\n    type: router\n    ports:\n      p1: { address: 198.18.1.300/24 }\n`,
        /modules\.r1\.ports\.p1\.address: "198\.18\.1\.300\/24" is not an address with a prefix length/,
      ],
      [
        'invalid VLAN',
        `modules:\n  br1:\n    type: bridge\n    ports:\n      p1: { mode: access, vlan: 5000 }\n`,
        /modules\.br1\.ports\.p1\.vlan: must be between 1 and 4094, got 5000/,
      ],
      [
        'unknown config field',
        `modules:\n  br1: { type: bridge, agin: 10s }\n`,
        /modules\.br1\.agin: unknown field/,
      ],
      [
        'a step fails late (missing netdev): rolled back',
        `hosts:\n  ${a}: { address: 198.18.1.10/24 }\n  ${b}: { address: 198.18.1.11/24 }\nmodules:\n  br1: { type: bridge }\n  br2: { type: bridge }\nlinks:\n  - [${a}, br1:p1]\n  - [${b}, br1:p2]\n  - [br1:p3, br2:p1]\n  - [br2:p2, netdev:nosuch0]\n`,
        /netdev nosuch0: not found in the data plane namespace.*\(rolled back\)/,
      ],
    ];
    for (const [what, yaml, re] of cases) {
      assert.throws(() => applyTopology(dp, yaml), re, what);
      assert.deepEqual(snapshot(dp), before, `${what}: nothing changed`);
    }
  });
});
