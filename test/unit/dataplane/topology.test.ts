import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, parseTopology, repoRoot, validate } from '../../../src/dataplane/index.js';
import { bridgePortSchema } from '../../../modules/bridge/index.js';
import { routerPortSchema } from '../../../modules/router/index.js';

test('the demo topology parses: ports implied by links, monitor attached to r1:p2', () => {
  const text = readFileSync(path.join(repoRoot(), 'examples/topology/demo.yaml'), 'utf8');
  const t = parseTopology(text);
  assert.deepEqual(
    t.hosts.map((h) => h.name),
    ['h1', 'h2', 'h3'],
  );
  const br1 = t.modules.find((m) => m.name === 'br1')!;
  assert.deepEqual(Object.keys(br1.ports).sort(), ['p1', 'p2', 'p3']);
  const mon = t.modules.find((m) => m.name === 'mon1')!;
  assert.deepEqual(mon.attach, ['r1:p2']);
  assert.equal(t.links.length, 4);
});

test('structural errors name the field', () => {
  const bad: [string, RegExp][] = [
    ['links:\n  - [h1]\n', /links\[0\]: must be a pair/],
    ['hosts:\n  h1: { address: nope }\n', /hosts\.h1\.address: "nope" is not an address/],
    ['modules:\n  m: { hook: tcx }\n', /modules\.m\.type: is required/],
    ['modules:\n  b: { type: bridge }\nlinks:\n  - [b:p1, h9]\n', /links\[0\]\[1\]: "h9": no host/],
    [
      'modules:\n  m: { type: monitor, attach: r1:p2 }\n',
      /modules\.m\.attach: "r1:p2": no module r1/,
    ],
    ['foo: 1\n', /foo: unknown section/],
  ];
  for (const [yaml, re] of bad) assert.throws(() => parseTopology(yaml), re);
});

test('module schemas: errors name the field and the problem', () => {
  assert.throws(
    () => validate(bridgePortSchema, { mode: 'hybrid' }, 'modules.b.ports.p1'),
    (e: unknown) => e instanceof ConfigError && e.field === 'modules.b.ports.p1.mode',
  );
  assert.throws(
    () => validate(routerPortSchema, { address: ['198.18.1.1/24', 'x'] }, 'modules.r.ports.p1'),
    /modules\.r\.ports\.p1\.address/,
  );
  validate(routerPortSchema, { address: ['198.18.1.1/24', '2001:db8::1/64'] }, 'ok');
});
