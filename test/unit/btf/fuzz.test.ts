import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Btf, BtfError } from '../../../src/bpf/btf/btf.js';
import { parseBtfExt } from '../../../src/bpf/btf/ext.js';
import { compileBpf, section } from './helpers.js';

// A small deterministic PRNG so failures reproduce.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const obj = compileBpf(
  `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct s { int a; char b[4]; struct s *next; unsigned x: 3; };
enum e { A, B };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, int); __type(value, struct s); } m SEC(".maps");
int g; enum e ge;
SEC("xdp") int prog(struct xdp_md *ctx) { int k = 0; struct s *v = bpf_map_lookup_elem(&m, &k); return v ? v->a + g : 0; }
char _license[] SEC("license") = "GPL";`,
  'fuzz',
);
const good = section(obj, '.BTF');
const goodExt = section(obj, '.BTF.ext');
const btf = Btf.parse(good);

/** Parses, and uses the result the way callers do, so lazy failures surface too. */
function exercise(bytes: Uint8Array): void {
  const b = Btf.parse(bytes);
  for (let id = 0; id < b.types.length; id++) {
    try {
      b.typeName(id);
      b.sizeof(id);
    } catch (e) {
      // Asking the size of a function is a BtfError, never anything else.
      if (!(e instanceof BtfError)) throw e;
    }
  }
  b.encode();
}

test('fuzz: truncated and bit-flipped BTF gives BtfError or a valid result', () => {
  const r = rng(1234);
  let rejected = 0;
  const cases: Uint8Array[] = [];
  for (let n = 0; n < good.length; n += Math.max(1, Math.floor(good.length / 150)))
    cases.push(good.slice(0, n));
  for (let i = 0; i < 400; i++) {
    const b = good.slice();
    const flips = 1 + Math.floor(r() * 4);
    for (let f = 0; f < flips; f++) {
      const at = Math.floor(r() * b.length);
      b[at] ^= 1 << Math.floor(r() * 8);
    }
    cases.push(b);
  }
  for (let i = 0; i < 100; i++) {
    const b = good.slice();
    const at = 24 + Math.floor(r() * (b.length - 28));
    new DataView(b.buffer).setUint32(at & ~3, Math.floor(r() * 2 ** 32), true);
    cases.push(b);
  }
  for (let i = 0; i < 50; i++)
    cases.push(Uint8Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256)));
  for (const c of cases) {
    try {
      exercise(c);
    } catch (e) {
      assert.ok(
        e instanceof BtfError,
        `non-BtfError ${(e as Error)?.constructor?.name}: ${String(e)}`,
      );
      rejected++;
    }
  }
  assert.ok(cases.length >= 600);
  assert.ok(rejected > cases.length / 4, `only ${rejected} of ${cases.length} rejected`);
});

test('fuzz: truncated and bit-flipped .BTF.ext gives BtfError or a valid result', () => {
  const r = rng(99);
  const cases: Uint8Array[] = [];
  for (let n = 0; n < goodExt.length; n += 3) cases.push(goodExt.slice(0, n));
  for (let i = 0; i < 300; i++) {
    const b = goodExt.slice();
    const at = Math.floor(r() * b.length);
    b[at] ^= 1 << Math.floor(r() * 8);
    cases.push(b);
  }
  for (const c of cases) {
    try {
      parseBtfExt(c, btf);
    } catch (e) {
      assert.ok(e instanceof BtfError, `non-BtfError: ${String(e)}`);
    }
  }
});

test('fuzz: cyclic type graphs do not hang', () => {
  const b = Btf.parse(good);
  // typedef A -> const -> typedef A: resolve must give up with BtfError.
  const a = b.add({ kind: 8, name: 'cyc_a', type: 0 } as never);
  const c = b.add({ kind: 10, name: '', type: a } as never);
  b.set(a, { kind: 8, name: 'cyc_a', type: c } as never);
  assert.throws(() => b.resolve(a), BtfError);
  assert.throws(() => b.sizeof(a), BtfError);
  const arr = b.add({ kind: 3, name: '', type: 0, indexType: 1, nelems: 2 } as never);
  b.set(arr, { kind: 3, name: '', type: arr, indexType: 1, nelems: 2 } as never);
  assert.throws(() => b.sizeof(arr), BtfError);
  assert.throws(() => b.typeName(arr), Error);
  // The encoded cycle parses (the kernel would reject it) and still does not hang.
  const again = Btf.parse(b.encode());
  assert.throws(() => again.resolve(a), BtfError);
});
