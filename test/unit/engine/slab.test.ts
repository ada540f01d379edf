// The bump allocator behind object-file reads and data-section images: slices never overlap,
// start zeroed and 8-aligned, and large requests do not eat a slab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Slab } from '../../../src/sys/index.js';

test('slab: slices are zeroed, 8-aligned and never overlap; large ones get their own buffer', () => {
  const slab = new Slab(256, 64);
  const a = slab.take(10);
  const b = slab.take(20);
  assert.equal(a.buffer, b.buffer);
  assert.equal(b.byteOffset - a.byteOffset, 16);
  assert.equal(b.byteOffset % 8, 0);
  a.fill(0xff);
  assert.ok(b.every((x) => x === 0));
  const big = slab.take(65);
  assert.notEqual(big.buffer, a.buffer);
  assert.equal(big.byteOffset, 0);
  // Filling the slab starts a new one rather than handing out bytes already given.
  const takes = Array.from({ length: 10 }, () => slab.take(64));
  const buffers = new Set(takes.map((t) => t.buffer));
  assert.ok(buffers.size >= 2);
  for (const t of takes) assert.ok(t.every((x) => x === 0));
});

test('slab: tail is at least maxSlice long and commit keeps only what it is told', () => {
  const slab = new Slab(256, 64);
  slab.take(200);
  const tail = slab.tail();
  assert.ok(tail.byteLength >= 64);
  tail.set([1, 2, 3]);
  const kept = slab.commit(3);
  assert.deepEqual([...kept], [1, 2, 3]);
  assert.ok(Buffer.isBuffer(kept));
  const next = slab.take(8);
  assert.ok(next.byteOffset >= kept.byteOffset + 8 || next.buffer !== kept.buffer);
  assert.ok(next.every((x) => x === 0));
});

test('slab: a slab that is not zeroed serves tail and commit, and refuses take', () => {
  const slab = new Slab(256, 64, false);
  const kept: Buffer[] = [];
  for (let i = 0; i < 10; i++) {
    const tail = slab.tail();
    assert.ok(tail.byteLength >= 64);
    tail.fill(i, 0, 40);
    kept.push(slab.commit(40));
  }
  // Every commit keeps its own bytes: later tails never overwrite them.
  kept.forEach((k, i) => assert.ok(k.every((x) => x === i)));
  assert.throws(() => slab.take(8), /not zeroed/);
});
