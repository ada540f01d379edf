// Malformed object files: hundreds of truncated, bit-flipped and garbage variants of real corpus
// objects must each give a clean ObjectError (or load cleanly), never a crash, a hang or a
// leaked file descriptor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Collection, ObjectError, parseCollectionSpec } from '../../../src/bpf/index.js';
import { ROOT } from '../../helpers/corpus.js';

/** A small deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

const dir = path.join(ROOT, 'testdata', 'corpus', 'build');
const objects = readdirSync(dir)
  .filter((f) => f.endsWith('.o') && f !== 'reject.o')
  .map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(path.join(dir, f))) }));

function* variants(): Generator<{ label: string; bytes: Uint8Array }> {
  const r = rng(0x10515);
  for (const o of objects) {
    for (const frac of [0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]) {
      yield {
        label: `${o.name} truncated to ${frac}`,
        bytes: o.bytes.slice(0, Math.floor(o.bytes.length * frac)),
      };
    }
    for (let i = 0; i < 25; i++) {
      const b = o.bytes.slice();
      const flips = 1 + Math.floor(r() * 8);
      for (let j = 0; j < flips; j++) b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
      yield { label: `${o.name} with ${flips} bit flips (#${i})`, bytes: b };
    }
    for (let i = 0; i < 5; i++) {
      // Overwrite a header-area word with random values: section offsets and counts.
      const b = o.bytes.slice();
      const at = Math.floor(r() * 64) & ~3;
      new DataView(b.buffer).setUint32(at, Math.floor(r() * 2 ** 32), true);
      yield { label: `${o.name} header word ${at} randomised`, bytes: b };
    }
  }
  for (let i = 0; i < 20; i++) {
    const b = new Uint8Array(Math.floor(r() * 4096));
    for (let j = 0; j < b.length; j++) b[j] = Math.floor(r() * 256);
    if (i % 2 === 0 && b.length > 4) b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
    yield { label: `garbage #${i} (${b.length} bytes)`, bytes: b };
  }
}

test('hundreds of malformed objects give clean errors and leak no fds', () => {
  assert.ok(objects.length >= 8, 'the corpus must be built');
  const before = openFds();
  let count = 0;
  let rejected = 0;
  for (const v of variants()) {
    count++;
    const started = Date.now();
    let spec;
    try {
      spec = parseCollectionSpec(v.bytes, 'fuzz', v.label);
    } catch (err) {
      assert.ok(
        err instanceof ObjectError,
        `${v.label}: expected ObjectError, got ${(err as Error)?.constructor?.name}: ${String(err)}`,
      );
      assert.match((err as Error).message, /^.+: .+/, `${v.label}: message names where`);
      rejected++;
      continue;
    } finally {
      // Not a timing assertion: a guard against infinite loops on a single input.
      assert.ok(Date.now() - started < 10_000, `${v.label}: parse took too long`);
    }
    // Whatever parsed must load or fail cleanly, releasing every fd either way.
    try {
      Collection.load(spec).close();
    } catch (err) {
      assert.ok(err instanceof Error, `${v.label}: threw a non-Error`);
      assert.ok(
        !/undefined|null|is not a function/.test((err as Error).message),
        `${v.label}: internal error leaked: ${(err as Error).message}`,
      );
    }
  }
  assert.ok(count >= 300, `generated ${count} variants`);
  assert.ok(rejected > count / 3, `most variants must be rejected (${rejected}/${count})`);
  assert.equal(openFds(), before, 'file descriptors leaked');
});
