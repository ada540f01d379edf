// An object's programs are laid out together and then loaded back to back (Program.loadAll).
// The batch must behave as loading them one after another did: the error of the first
// program that fails, in program order, and nothing left loaded when one fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import {
  BpfMap,
  Collection,
  loadCollectionSpec,
  MapType,
  Program,
  VerifierError,
} from '../../../src/bpf/index.js';
import { corpusObject } from '../../helpers/corpus.js';

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** The maps of these corpus objects (no programs loaded), merged; close them when done. */
function mapsOf(...objects: string[]): { maps: Map<string, BpfMap>; close: () => void } {
  const cs = objects.map((o) => Collection.loadFile(corpusObject(o), { programs: [] }));
  const maps = new Map<string, BpfMap>();
  for (const c of cs) for (const [name, m] of c.maps) maps.set(name, m);
  return { maps, close: () => cs.forEach((c) => c.close()) };
}

const prog = (object: string, name: string) =>
  loadCollectionSpec(corpusObject(object)).programs.get(name)!;

test('loadAll: every program loads and runs, in the order given', () => {
  const { maps, close } = mapsOf('calls', 'globals');
  try {
    const progs = Program.loadAll([prog('globals', 'xdp_globals'), prog('calls', 'xdp_calls')], {
      maps,
    });
    try {
      assert.deepEqual(
        progs.map((p) => p.name),
        ['xdp_globals', 'xdp_calls'],
      );
      const frame = new Uint8Array(64);
      assert.equal(progs[1]!.run({ data: frame }).retval, 3); // calls.bpf.c: (334 + 1) & 3
      assert.ok(progs[0]!.info().id > 0);
    } finally {
      progs.forEach((p) => p.close());
    }
  } finally {
    close();
  }
});

test('loadAll: a verifier rejection comes before a later program that cannot be laid out, and nothing stays loaded', () => {
  const { maps, close } = mapsOf('calls', 'reject');
  try {
    const before = openFds();
    // prog_a needs tailcall's maps, which are not there: its layout fails, but xdp_reject is
    // earlier and fails first, as it would loading one by one.
    const specs = [
      prog('calls', 'xdp_calls'),
      prog('reject', 'xdp_reject'),
      prog('tailcall', 'prog_a'),
    ];
    assert.throws(
      () => Program.loadAll(specs, { maps }),
      (e: unknown) => e instanceof VerifierError && e.program === 'xdp_reject',
    );
    assert.equal(openFds(), before, 'xdp_calls was left loaded');
    assert.throws(
      () => Program.loadAll([specs[0]!, specs[2]!], { maps }),
      /load program prog_a: insn \d+: map \S+ was not created/,
    );
    assert.equal(openFds(), before, 'xdp_calls was left loaded');
  } finally {
    close();
  }
});

test('loadAll: a collection reports each program it loaded', () => {
  const steps: string[] = [];
  const c = Collection.loadFile(corpusObject('sections'), { onProgress: (s) => steps.push(s) });
  try {
    const loaded = steps.filter((s) => s.startsWith('program '));
    assert.deepEqual(
      loaded,
      [...c.programs.keys()].map((n) => `program ${n} loaded`),
    );
    assert.equal(loaded.length, 8);
  } finally {
    c.close();
  }
});

test('createAll: maps are created together; a refused one is an error in its slot, the rest exist', () => {
  const before = openFds();
  const made = BpfMap.createAll([
    { spec: { name: 'ok_hash', type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: 4 } },
    { spec: { name: 'bad_hash', type: MapType.Hash, keySize: 0, valueSize: 8, maxEntries: 4 } },
    { spec: { name: 'ok_array', type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 2 } },
  ]);
  try {
    assert.ok(made[0] instanceof BpfMap && made[2] instanceof BpfMap);
    assert.ok(made[1] instanceof Error);
    assert.match(made[1].message, /^create map bad_hash \(hash\): .*EINVAL/);
    assert.equal(made[0].info().name, 'ok_hash');
    assert.equal(made[2].info().maxEntries, 2);
    made[2].set(1, 7);
    assert.equal(made[2].get(1), 7);
  } finally {
    for (const m of made) if (m instanceof BpfMap) m.close();
  }
  assert.equal(openFds(), before);
});
