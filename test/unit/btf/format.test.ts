import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Btf } from '../../../src/bpf/btf/btf.js';
import { parseBtfExt } from '../../../src/bpf/btf/ext.js';
import { CoreReloKind } from '../../../src/bpf/btf/core.js';
import { formatCDecl, writeCHeader } from '../../../src/bpf/btf/format.js';
import { BtfKind } from '../../../src/bpf/btf/types.js';
import { compileBpf, section } from './helpers.js';

test('formatCDecl spells single declarations', () => {
  const obj = compileBpf(
    `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
typedef int (*handler_t)(void *ctx, unsigned long flags);
struct inner { int a; };
struct outer {
  struct inner in;
  union { int i; char c; };
  unsigned int bits: 3;
  handler_t h;
  const char *names[4];
  enum { X = 1, Y = 2 } anon_e;
};
enum sz64 { BIG = 0xffffffffffULL };
struct outer g;
enum sz64 g2;
SEC("xdp") int prog(struct xdp_md *ctx) { return g.in.a; }
char _license[] SEC("license") = "GPL";`,
    'fmt',
  );
  const btf = Btf.parse(section(obj, '.BTF'));
  const outer = btf.findByName('outer', BtfKind.Struct)[0];
  assert.equal(
    formatCDecl(btf, outer),
    [
      'struct outer {',
      '\tstruct inner in;',
      '\tunion {',
      '\t\tint i;',
      '\t\tchar c;',
      '\t};',
      '\tunsigned int bits: 3;',
      '\thandler_t h;',
      '\tconst char *names[4];',
      '\tenum {',
      '\t\tX = 1,',
      '\t\tY = 2,',
      '\t} anon_e;',
      '};',
    ].join('\n'),
  );
  assert.equal(
    formatCDecl(btf, btf.findByName('handler_t')[0]),
    'typedef int (*handler_t)(void *, unsigned long);',
  );
  // clang 14 emits no ENUM64 (it truncates), so build one to check 64-bit enumerators.
  const e64 = btf.add({
    kind: BtfKind.Enum64,
    name: 'wide',
    size: 8,
    signed: false,
    values: [
      { name: 'W_BIG', value: 0xffffffffffn },
      { name: 'W_SMALL', value: 1n },
    ],
  });
  assert.equal(
    formatCDecl(btf, e64),
    'enum wide {\n\tW_BIG = 1099511627775ULL,\n\tW_SMALL = 1,\n};',
  );
  const header = writeCHeader(btf);
  assert.match(header, /enum wide \{\n\tW_BIG = 1099511627775ULL,/);
  assert.equal(
    formatCDecl(btf, btf.findByName('prog', BtfKind.Func)[0]),
    'int prog(struct xdp_md *ctx);',
  );
});

test('header from vmlinux BTF compiles and CO-RE reads task->pid', () => {
  const k = Btf.kernel();
  const header = writeCHeader(k);
  assert.match(
    header,
    /#pragma clang attribute push \(__attribute__\(\(preserve_access_index\)\), apply_to = record\)/,
  );
  assert.match(header, /^struct task_struct \{$/m);
  const dir = mkdtempSync(join(tmpdir(), 'iovisor-vmlinux-'));
  try {
    writeFileSync(join(dir, 'vmlinux.h'), header);
    const obj = compileBpf(
      `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
char _license[] SEC("license") = "GPL";
SEC("raw_tp/sys_enter")
int prog(void *ctx) {
  struct task_struct *task = (void *)bpf_get_current_task();
  return BPF_CORE_READ(task, pid);
}`,
      'usehdr',
      ['-I', dir, '-Werror'],
    );
    const btf = Btf.parse(section(obj, '.BTF'));
    const ext = parseBtfExt(section(obj, '.BTF.ext'), btf);
    const relos = ext.coreRelos.get('raw_tp/sys_enter')!;
    assert.equal(relos.length, 1);
    assert.equal(relos[0].kind, CoreReloKind.FieldByteOffset);
    assert.equal(btf.typeName(relos[0].typeId), 'struct task_struct');

    // Every uniquely named struct/union has the kernel's size and member offsets when compiled.
    const tagCount = new Map<string, number>();
    for (const t of k.types) {
      if (
        (t.kind === BtfKind.Struct ||
          t.kind === BtfKind.Union ||
          t.kind === BtfKind.Enum ||
          t.kind === BtfKind.Enum64) &&
        t.name
      ) {
        tagCount.set(t.name, (tagCount.get(t.name) ?? 0) + 1);
      }
    }
    const lines = ['#include "vmlinux.h"'];
    let checked = 0;
    for (let id = 1; id < k.types.length; id++) {
      const t = k.types[id];
      if (
        (t.kind !== BtfKind.Struct && t.kind !== BtfKind.Union) ||
        !t.name ||
        tagCount.get(t.name) !== 1
      )
        continue;
      // va_list is target-specific: BPF's is a pointer, x86's a 24-byte array.
      if (t.members.some((m) => /va_list/.test(k.typeName(m.type)))) continue;
      const tag = `${t.kind === BtfKind.Struct ? 'struct' : 'union'} ${t.name}`;
      lines.push(`_Static_assert(sizeof(${tag}) == ${t.size}, "${t.name}");`);
      for (const m of t.members) {
        if (m.name && m.bitfieldSize === 0) {
          lines.push(
            `_Static_assert(__builtin_offsetof(${tag}, ${m.name}) == ${m.bitOffset / 8}, "${t.name}.${m.name}");`,
          );
        }
      }
      checked++;
    }
    assert.ok(checked > 1000, `only ${checked} structs checked`);
    compileBpf(lines.join('\n'), 'layout', ['-I', dir]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
