// BpfMap logic against the in-memory fake kernel: runs without root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfCmd, FakeSys, setSys } from '../../../src/sys/index.js';
import { BpfMap, MapType, UpdateFlags, type MapSpec } from '../../../src/bpf/index.js';

function spec(over: Partial<MapSpec> = {}): MapSpec {
  return {
    name: 'm',
    type: MapType.Hash,
    keySize: 4,
    valueSize: 8,
    maxEntries: 4,
    flags: 0,
    mapExtra: 0n,
    pinning: 'none',
    contents: [],
    freeze: false,
    ...over,
  };
}

function withFake<T>(fn: (fake: FakeSys) => T): T {
  const fake = new FakeSys();
  const restore = setSys(fake);
  try {
    return fn(fake);
  } finally {
    restore();
  }
}

test('set, get, delete and iterate through the fake', () => {
  withFake((fake) => {
    const m = BpfMap.create(spec());
    assert.equal(fake.calls[0], BpfCmd.MAP_CREATE);
    m.set(1, 10n);
    m.set(2, 20n);
    assert.equal(m.get(1), 10n, '8-byte values are bigint, as through BTF');
    assert.equal(m.get(3), undefined);
    assert.deepEqual(
      [...m.entries()].map(([k, v]) => [k, v]),
      [
        [1, 10n],
        [2, 20n],
      ],
    );
    assert.equal(m.delete(1), true);
    assert.equal(m.delete(1), false);
    m.close();
    assert.equal(fake.openFds.size, 0, 'fd closed');
  });
});

test('update flags and a full map surface as errors naming the map', () => {
  withFake(() => {
    const m = BpfMap.create(spec({ name: 'flows', maxEntries: 1 }));
    m.set(1, 1n);
    assert.throws(() => m.set(1, 2n, UpdateFlags.NoExist), /map flows: update: .*EEXIST/);
    assert.throws(() => m.set(9, 2n, UpdateFlags.Exist), /map flows: update: .*ENOENT/);
    assert.throws(() => m.set(2, 2n), /map flows: update: .*E2BIG/);
    m.close();
  });
});

test('wrong-sized raw keys and values are refused before any syscall', () => {
  withFake((fake) => {
    const m = BpfMap.create(spec({ name: 'x' }));
    const before = fake.calls.length;
    assert.throws(
      () => m.updateBytes(new Uint8Array(3), new Uint8Array(8)),
      /key must be 4 bytes, got 3/,
    );
    assert.throws(
      () => m.updateBytes(new Uint8Array(4), new Uint8Array(2)),
      /value must be 8 bytes, got 2/,
    );
    assert.throws(() => m.set('nope', 1n), /cannot encode key/);
    assert.equal(fake.calls.length, before);
    m.close();
  });
});

test('a kernel refusal at create time names the map and its type', () => {
  withFake((fake) => {
    fake.handlers.set(BpfCmd.MAP_CREATE, () => FakeSys.fail('bpf(BPF_MAP_CREATE)', 'EPERM'));
    assert.throws(
      () => BpfMap.create(spec({ name: 'counts', type: MapType.LRUHash })),
      /create map counts \(lru_hash\): .*EPERM/,
    );
  });
});
