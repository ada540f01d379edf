import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkTopology,
  diffTopology,
  FAKE_TYPES,
  InputError,
  type Topology,
} from '../../../src/daemon/index.js';

const base: Topology = {
  hosts: { h1: { address: '198.18.1.1/24' }, h2: { address: '198.18.1.2/24' } },
  modules: { br0: { type: 'bridge', ports: { p1: {}, p2: { mode: 'access', vlan: 10 } } } },
  links: [
    ['h1', 'br0:p1'],
    ['br0:p2', 'h2'],
  ],
};

test('checkTopology accepts a valid document and canonicalises links', () => {
  const t = checkTopology(base, FAKE_TYPES);
  assert.deepEqual(t.links, [
    ['br0:p1', 'h1'],
    ['br0:p2', 'h2'],
  ]);
  assert.deepEqual(t.modules!.br0!.config, {});
});

test('checkTopology names the bad field', () => {
  const bad: [unknown, RegExp][] = [
    [[], /topology: must be an object/],
    [{ extra: 1 }, /topology.extra: unknown field/],
    [{ hosts: { 'bad name': {} } }, /invalid host name/],
    [{ hosts: { h1: { address: 'x' } } }, /hosts.h1.address/],
    [{ modules: { b: { type: 'nope' } } }, /unknown module type "nope"/],
    [{ modules: { b: { type: 'bridge', config: { aging: true } } } }, /modules.b.config.aging/],
    [{ modules: { b: { type: 'bridge', ports: { p: { mode: 'x' } } } } }, /modules.b.ports.p.mode/],
    [{ modules: { b: { type: 'bridge', colour: 1 } } }, /modules.b.colour: unknown field/],
    [{ modules: { m: { type: 'monitor', ports: { p: {} } } } }, /transparent/],
    [{ links: [['a', 'b']] }, /one end must be a module port/],
    [{ links: [['x:p', 'h']] }, /no module "x"/],
    [
      {
        ...base,
        links: [
          ['h1', 'br0:p1'],
          ['br0:p1', 'h2'],
        ],
      },
      /already linked/,
    ],
    [{ ...base, links: [['h1', 'br0:p9']] }, /no port "p9"/],
    [{ modules: { m: { type: 'monitor', attach: ['br0:p1'] } } }, /no module "br0"/],
    [{ modules: { b: { type: 'bridge', attach: ['x:y'] } } }, /only transparent modules attach/],
  ];
  for (const [doc, re] of bad) {
    assert.throws(
      () => checkTopology(doc, FAKE_TYPES),
      (e: unknown) => e instanceof InputError && re.test(e.message),
      JSON.stringify(doc),
    );
  }
});

test('diffTopology orders removals before additions and replaces changed types', () => {
  const a = checkTopology(base, FAKE_TYPES);
  assert.deepEqual(diffTopology(a, a).changes, []);
  const b = checkTopology(
    {
      hosts: base.hosts,
      modules: { br0: { type: 'router', ports: { p1: { address: '198.18.1.254/24' } } } },
      links: [['h1', 'br0:p1']],
    },
    FAKE_TYPES,
  );
  const d = diffTopology(a, b).changes.map((c) => `${c.op} ${c.kind} ${c.name}`);
  assert.deepEqual(d, [
    'remove link br0:p1 - h1',
    'remove link br0:p2 - h2',
    'remove module br0',
    'add module br0',
    'add port br0:p1',
    'add link br0:p1 - h1',
  ]);
  const c = structuredClone(a);
  c.modules!.br0!.config = { aging: 30 };
  c.modules!.br0!.ports!.p2 = { mode: 'trunk' };
  assert.deepEqual(
    diffTopology(a, c).changes.map((x) => `${x.op} ${x.kind} ${x.name}`),
    ['update module br0', 'update port br0:p2'],
  );
});
