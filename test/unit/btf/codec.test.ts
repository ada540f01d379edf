import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Btf, BtfError } from '../../../src/bpf/btf/btf.js';
import { decodeValue, encodeValue, parseValueText } from '../../../src/bpf/btf/codec.js';
import { BtfKind } from '../../../src/bpf/btf/types.js';
import { compileBpf, section } from './helpers.js';

const obj = compileBpf(
  `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
enum proto { TCP = 6, UDP = 17 };
enum wide { W = 0x100000000ULL };
struct key { unsigned short port; unsigned int addr; };
struct val {
  struct key key;
  char name[8];
  unsigned char mac[6];
  long long big;
  unsigned long long ubig;
  enum proto proto;
  unsigned int lo: 3, mid: 10;
  int neg: 5;
  _Bool on;
  void *ptr;
  double ratio;
  float f;
  union { int i; unsigned int u; };
  struct { short a, b; } pair[2];
  enum wide w;
  const volatile signed char sc;
};
struct val v;
char _license[] SEC("license") = "GPL";`,
  'codec',
);
const btf = Btf.parse(section(obj, '.BTF'));
const VAL = btf.findByName('val', BtfKind.Struct)[0];
const KEY = btf.findByName('key', BtfKind.Struct)[0];

const sample = {
  key: { port: 8080, addr: 0xc6120001 },
  name: 'eth0',
  mac: [2, 0, 0, 0, 0, 1],
  big: -5n,
  ubig: 0xffffffffffffffffn,
  proto: 'UDP',
  lo: 5,
  mid: 1000,
  neg: -7,
  on: true,
  ptr: 0xdeadbeefn,
  ratio: 0.25,
  f: 1.5,
  i: -1,
  u: 4294967295,
  pair: [
    { a: 1, b: -2 },
    { a: 3, b: 4 },
  ],
  w: 'W',
  sc: -100,
};

test('encode/decode round trip', () => {
  const bytes = encodeValue(btf, VAL, { ...sample, u: undefined });
  assert.deepEqual(encodeValue(btf, VAL, sample), bytes);
  assert.throws(
    () => encodeValue(btf, VAL, { ...sample, u: 1 }),
    /value: union members .* disagree/,
  );
  assert.equal(bytes.length, btf.sizeof(VAL));
  const back = decodeValue(btf, VAL, bytes) as Record<string, unknown>;
  assert.deepEqual(back, { ...sample, u: 4294967295 });
  assert.deepEqual(encodeValue(btf, VAL, back), bytes);
});

test('bitfields land at the right bits', () => {
  const bytes = encodeValue(btf, VAL, { ...sample, u: undefined, lo: 7, mid: 0, neg: 0 });
  const vt = btf.type(VAL);
  assert.ok(vt.kind === BtfKind.Struct);
  const lo = vt.members.find((m) => m.name === 'lo')!;
  assert.equal(lo.bitfieldSize, 3);
  assert.equal((bytes[lo.bitOffset >> 3] >> (lo.bitOffset & 7)) & 7, 7);
});

test('enums decode to names, unknown values to numbers', () => {
  const proto = btf.findByName('proto', BtfKind.Enum)[0];
  assert.equal(decodeValue(btf, proto, Uint8Array.of(6, 0, 0, 0)), 'TCP');
  assert.equal(decodeValue(btf, proto, Uint8Array.of(99, 0, 0, 0)), 99);
  assert.deepEqual(encodeValue(btf, proto, 17), Uint8Array.of(17, 0, 0, 0));
});

test('errors name the field path', () => {
  assert.throws(
    () => encodeValue(btf, VAL, { ...sample, key: { port: 'x', addr: 1 } }),
    (e: unknown) =>
      e instanceof BtfError && e.message === 'value.key.port: expected integer, got "x"',
  );
  assert.throws(
    () => encodeValue(btf, VAL, { ...sample, extra: 1 }),
    /value\.extra: no such field/,
  );
  assert.throws(() => encodeValue(btf, KEY, { port: 1 }), /value\.addr: missing field/);
  assert.throws(
    () => encodeValue(btf, KEY, { port: 70000, addr: 1 }),
    /value\.port: 70000 out of range/,
  );
  assert.throws(
    () => encodeValue(btf, VAL, { ...sample, name: 'much too long' }),
    /value\.name: .*char\[8\]/,
  );
  assert.throws(
    () => encodeValue(btf, VAL, { ...sample, proto: 'ICMP' }),
    /value\.proto: "ICMP" is not an enumerator/,
  );
  assert.throws(
    () => encodeValue(btf, VAL, { ...sample, mid: 5000 }),
    /value\.mid: 5000 does not fit a 10-bit field/,
  );
  assert.throws(
    () => encodeValue(btf, VAL, { ...sample, pair: [{ a: 1, b: 2 }] }),
    /value\.pair: expected 2 elements/,
  );
  assert.throws(
    () =>
      encodeValue(btf, VAL, {
        ...sample,
        pair: [
          { a: 1, b: 2 },
          { a: 1, b: 'q' },
        ],
      }),
    /value\.pair\[1\]\.b: expected integer/,
  );
});

test('parseValueText accepts JSON or a number', () => {
  const u64 =
    btf.type(VAL).kind === BtfKind.Struct
      ? (btf.type(VAL) as { members: { name: string; type: number }[] }).members.find(
          (m) => m.name === 'ubig',
        )!.type
      : 0;
  assert.equal(parseValueText(btf, u64, '18446744073709551615'), 18446744073709551615n);
  assert.equal(parseValueText(btf, u64, '0x10'), 16n);
  const port = (btf.type(KEY) as { members: { type: number }[] }).members[0].type;
  assert.equal(parseValueText(btf, port, '80'), 80);
  const v = parseValueText(btf, KEY, '{"port": 80, "addr": 3323068417}');
  assert.deepEqual(decodeValue(btf, KEY, encodeValue(btf, KEY, v)), { port: 80, addr: 3323068417 });
  const big = parseValueText(
    btf,
    VAL,
    JSON.stringify({ ubig: 'x' }).replace('"x"', '18446744073709551615'),
  ) as { ubig: bigint };
  assert.equal(big.ubig, 18446744073709551615n);
  assert.throws(() => parseValueText(btf, KEY, '{port'), BtfError);
});
