import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Btf, BtfError } from '../../../src/bpf/btf/btf.js';
import { parseBtfExt } from '../../../src/bpf/btf/ext.js';
import { CoreReloKind } from '../../../src/bpf/btf/core.js';
import { BtfKind, type BtfType } from '../../../src/bpf/btf/types.js';
import { compileBpf, section } from './helpers.js';
import { memberOf, sizeOf, typeBlock } from './vmlinux-text.js';

const SRC = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

enum color { RED = 1, GREEN = 2, BLUE = -3 };
enum big { HUGE = 0x123456789aULL };
typedef unsigned long long u64;

struct flags {
  unsigned int a: 3;
  unsigned int b: 5;
  int c: 4;
};

struct rec {
  u64 id;
  char name[16];
  enum color col;
  struct flags f;
  union { int i; float fl; } u;
  const volatile int *p;
  unsigned char mac[6];
  _Bool ok;
};

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, int); __type(value, struct rec); } recs SEC(".maps");

struct rec global_rec = { .id = 1 };
enum big big_val = HUGE;

static __noinline int helper(int x) { return x * 3; }

SEC("xdp")
int prog(struct xdp_md *ctx) {
  int k = 0;
  struct rec *r = bpf_map_lookup_elem(&recs, &k);
  if (!r) return XDP_PASS;
  r->id += helper(ctx->ingress_ifindex); /* MARKER_LINE */
  return XDP_DROP;
}
char _license[] SEC("license") = "GPL";
`;

const obj = compileBpf(SRC, 'types');
const btf = Btf.parse(section(obj, '.BTF'));

/** A signed 32-bit INT named `name`. */
function int32(name: string): BtfType {
  return {
    kind: BtfKind.Int,
    name,
    size: 4,
    signed: true,
    char: false,
    bool: false,
    bits: 32,
    bitOffset: 0,
  };
}

function only(name: string, kind?: BtfKind): number {
  const ids = btf.findByName(name, kind);
  assert.equal(ids.length, 1, `${name}: ${ids.length} matches`);
  return ids[0];
}

test('parses types of a compiled object', () => {
  const rec = btf.type(only('rec', BtfKind.Struct));
  assert.equal(rec.kind, BtfKind.Struct);
  if (rec.kind !== BtfKind.Struct) return;
  assert.deepEqual(
    rec.members.map((m) => m.name),
    ['id', 'name', 'col', 'f', 'u', 'p', 'mac', 'ok'],
  );
  assert.equal(btf.typeName(rec.members[0].type), 'u64');
  assert.equal(btf.typeName(rec.members[1].type), 'char[16]');
  assert.equal(btf.typeName(rec.members[2].type), 'enum color');
  assert.equal(btf.typeName(rec.members[5].type), 'const volatile int *');
  assert.equal(btf.typeName(rec.members[4].type), 'union {...}');
  assert.equal(btf.sizeof(only('rec', BtfKind.Struct)), rec.size);
  assert.equal(btf.alignof(only('rec', BtfKind.Struct)), 8);
  assert.equal(btf.typeName(btf.resolve(rec.members[0].type)), 'unsigned long long');

  const flags = btf.type(only('flags', BtfKind.Struct));
  assert.ok(flags.kind === BtfKind.Struct);
  assert.deepEqual(
    flags.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize]),
    [
      ['a', 0, 3],
      ['b', 3, 5],
      ['c', 8, 4],
    ],
  );
  const color = btf.type(only('color', BtfKind.Enum));
  assert.ok(color.kind === BtfKind.Enum);
  // clang 14 predates the signed-enum kind_flag, so -3 reads back as its unsigned 32-bit pattern.
  assert.deepEqual(
    color.values.map((v) => [v.name, v.value]),
    [
      ['RED', 1n],
      ['GREEN', 2n],
      ['BLUE', color.signed ? -3n : 4294967293n],
    ],
  );
  const big = btf.type(btf.findByName('big')[0]);
  assert.ok(big.kind === BtfKind.Enum64 || big.kind === BtfKind.Enum);
  if (big.kind === BtfKind.Enum64) assert.equal(big.values[0].value, 0x123456789an);

  const helper = btf.type(only('helper', BtfKind.Func));
  assert.ok(helper.kind === BtfKind.Func);
  assert.equal(helper.linkage, 0);
  assert.equal(btf.typeName(helper.type), 'int (int x)');
  assert.ok(btf.findByName('.maps', BtfKind.Datasec).length === 1);
  assert.throws(() => btf.type(btf.types.length), BtfError);
  assert.throws(() => btf.type(-1), BtfError);
});

test('parses func_info, line_info and CO-RE records from .BTF.ext', () => {
  const ext = parseBtfExt(section(obj, '.BTF.ext'), btf);
  const fi = ext.funcInfo.get('xdp');
  assert.ok(fi && fi.length === 1);
  assert.equal(fi[0].insnOff, 0);
  assert.equal(btf.type(fi[0].typeId).name, 'prog');
  const text = ext.funcInfo.get('.text');
  assert.ok(text && btf.type(text[0].typeId).name === 'helper');

  const li = ext.lineInfo.get('xdp')!;
  assert.ok(li.length > 2);
  const marker = li.find((l) => l.line.includes('MARKER_LINE'));
  assert.ok(marker, 'line info carries the source text');
  const expectedLine = SRC.split('\n').findIndex((l) => l.includes('MARKER_LINE')) + 1;
  assert.equal(marker.lineNum, expectedLine);
  assert.ok(marker.fileName.endsWith('types.bpf.c'), marker.fileName);
  assert.ok(marker.col > 0);
  assert.equal(marker.insnOff % 8, 0);
  for (let i = 1; i < li.length; i++) assert.ok(li[i].insnOff >= li[i - 1].insnOff);
});

test('CO-RE records of BPF_CORE_READ', () => {
  const o = compileBpf(
    `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
struct task_struct { int pid; } __attribute__((preserve_access_index));
SEC("raw_tp") int p(void *ctx) { struct task_struct *t = (void *)bpf_get_current_task(); return BPF_CORE_READ(t, pid) + bpf_core_type_exists(struct task_struct); }
char _license[] SEC("license") = "GPL";`,
    'relos',
  );
  const b = Btf.parse(section(o, '.BTF'));
  const ext = parseBtfExt(section(o, '.BTF.ext'), b);
  const relos = ext.coreRelos.get('raw_tp')!;
  assert.equal(relos.length, 2);
  assert.deepEqual(
    relos.map((r) => [r.kind, r.accessStr, b.typeName(r.typeId)]),
    [
      [CoreReloKind.FieldByteOffset, '0:0', 'struct task_struct'],
      [CoreReloKind.TypeExists, '0', 'struct task_struct'],
    ],
  );
});

test('encode then parse gives identical types', () => {
  const again = Btf.parse(btf.encode());
  assert.deepEqual(again.types, btf.types);
  // Encoding is deterministic: a second round gives the same bytes.
  assert.deepEqual(Btf.parse(again.encode()).encode(), again.encode());
});

test('add and set build new BTF that survives a round trip', () => {
  const b = Btf.parse(btf.encode());
  const int = b.add(int32('my_int'));
  const st = b.add({
    kind: BtfKind.Struct,
    name: 'added',
    size: 8,
    members: [
      { name: 'x', type: int, bitOffset: 0, bitfieldSize: 0 },
      { name: 'y', type: int, bitOffset: 32, bitfieldSize: 7 },
    ],
  });
  b.set(int, int32('my_int2'));
  assert.deepEqual(b.findByName('my_int'), []);
  assert.deepEqual(b.findByName('my_int2'), [int]);
  const again = Btf.parse(b.encode());
  assert.deepEqual(again.types[st], b.types[st]);
  assert.equal(again.typeName(st), 'struct added');
  assert.throws(() => b.set(0, { kind: BtfKind.Void, name: '' }), BtfError);
});

test('vmlinux: known types match bpftool, parsed once', () => {
  const k = Btf.kernel();
  assert.equal(Btf.kernel(), k);
  const ts = k.findByName('task_struct', BtfKind.Struct);
  assert.equal(ts.length, 1);
  assert.equal(ts[0], typeBlock('STRUCT', 'task_struct').id);
  const t = k.type(ts[0]);
  assert.ok(t.kind === BtfKind.Struct);
  const pid = t.members.find((m) => m.name === 'pid');
  assert.ok(pid);
  assert.equal(pid.bitOffset, memberOf('task_struct', 'pid').bitOffset);
  assert.equal(k.typeName(pid.type), 'pid_t');
  assert.equal(k.sizeof(ts[0]), sizeOf('STRUCT', 'task_struct'));
  const skb = k.findByName('sk_buff', BtfKind.Struct);
  assert.equal(skb.length, 1);
  assert.equal(k.sizeof(skb[0]), sizeOf('STRUCT', 'sk_buff'));
  const comm = t.members.find((m) => m.name === 'comm')!;
  assert.equal(k.typeName(comm.type), 'char[16]');
  const u64 = k.findByName('u64', BtfKind.Typedef);
  assert.equal(k.typeName(k.add({ kind: BtfKind.Ptr, name: '', type: u64[0] })), 'u64 *');
});

test('split BTF: ids and strings continue after the base', () => {
  const base = Btf.parse(btf.encode());
  const split = Btf.empty(base);
  const rec = base.findByName('rec', BtfKind.Struct)[0];
  const p = split.add({ kind: BtfKind.Ptr, name: '', type: rec });
  const td = split.add({ kind: BtfKind.Typedef, name: 'rec_ptr_t', type: p });
  assert.equal(p, base.types.length);
  const bytes = split.encode();
  const parsed = Btf.parse(bytes, base);
  assert.equal(parsed.types.length, base.types.length + 2);
  assert.deepEqual(parsed.types[td], { kind: BtfKind.Typedef, name: 'rec_ptr_t', type: p });
  assert.equal(parsed.typeName(td), 'rec_ptr_t');
  assert.equal(parsed.typeName(parsed.resolve(td)), 'struct rec *');
  // Without the base the same bytes refer to types that do not exist.
  assert.throws(() => Btf.parse(bytes), BtfError);
});

test('malformed input names the offset', () => {
  const good = btf.encode();
  const bad = good.slice();
  bad[0] = 0;
  assert.throws(() => Btf.parse(bad), /offset 0: bad magic/);
  assert.throws(() => Btf.parse(good.subarray(0, 10)), /too short/);
  const trunc = good.slice(0, good.length - 50);
  assert.throws(
    () => Btf.parse(trunc),
    (e: unknown) => e instanceof BtfError && /offset \d+/.test(e.message),
  );
  assert.throws(() => parseBtfExt(new Uint8Array(8), btf), BtfError);
});

test('types are decoded when read, yet every name and reference is checked by the parse', () => {
  // A fresh parse decodes each type on first use: the same object each time, equal to what
  // decoding all of them gives.
  const fresh = Btf.parse(btf.encode());
  const rec = fresh.findByName('rec', BtfKind.Struct)[0]!;
  const first = fresh.type(rec);
  assert.equal(fresh.type(rec), first);
  assert.equal(fresh.count, btf.count);
  assert.deepEqual(Btf.parse(btf.encode()).types, btf.types);
  assert.equal(fresh.types[rec], first);

  // int (id 1, 16 bytes from offset 24), then struct s { int m; } (id 2): its member's name
  // offset is at 52 and its type at 56.
  const b = Btf.empty();
  const int = b.add(int32('int'));
  b.add({
    kind: BtfKind.Struct,
    name: 's',
    size: 4,
    members: [{ name: 'm', type: int, bitOffset: 0, bitfieldSize: 0 }],
  });
  const blob = b.encode();
  const dv = new DataView(blob.buffer, blob.byteOffset);
  assert.equal(Btf.parse(blob).type(2).name, 's');
  const badName = blob.slice();
  new DataView(badName.buffer).setUint32(52, dv.getUint32(20, true) + 7, true);
  assert.throws(() => Btf.parse(badName), /offset 52: name offset \d+ outside the string section/);
  const badRef = blob.slice();
  new DataView(badRef.buffer).setUint32(56, 99, true);
  assert.throws(() => Btf.parse(badRef), /type 2: member 0 refers to type 99, have 3/);
});
