import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Btf, BtfError } from '../../../src/bpf/btf/btf.js';
import { parseBtfExt } from '../../../src/bpf/btf/ext.js';
import { applyCoreRelocations, CoreReloKind, CORE_POISON_IMM } from '../../../src/bpf/btf/core.js';
import { decodeRaw, type RawInsn } from '../../../src/bpf/asm/raw.js';
import { compileBpf, section } from './helpers.js';
import { enumValue, memberOf, sizeOf, typeBlock } from './vmlinux-text.js';

const SRC = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
  int pid;
  int tgid;
  unsigned int sched_reset_on_fork: 1;
  char comm[16];
} __attribute__((preserve_access_index));

struct task_struct___mine {
  int pid;
  long no_such_field_in_kernel;
} __attribute__((preserve_access_index));

struct task_struct___match { int pid; int tgid; } __attribute__((preserve_access_index));

struct sk_buff { unsigned int len; } __attribute__((preserve_access_index));
struct no_such_type_in_kernel { int x; } __attribute__((preserve_access_index));

long out[16];

SEC("raw_tp/sys_enter")
int prog(void *ctx) {
  struct task_struct *t = (void *)bpf_get_current_task();
  out[0] = BPF_CORE_READ(t, pid);
  out[1] = bpf_core_field_exists(((struct task_struct___mine *)t)->no_such_field_in_kernel);
  out[2] = bpf_core_field_size(t->pid);
  out[3] = bpf_core_type_exists(struct sk_buff);
  out[4] = bpf_core_type_exists(struct no_such_type_in_kernel);
  out[5] = bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF);
  out[6] = bpf_core_type_size(struct sk_buff);
  out[7] = BPF_CORE_READ_BITFIELD_PROBED(t, sched_reset_on_fork);
  out[8] = BPF_CORE_READ(t, comm[3]);
  out[9] = bpf_core_field_exists(t->tgid);
  out[11] = bpf_core_type_id_kernel(struct task_struct);
  out[12] = bpf_core_type_exists(struct task_struct___match);
  if (bpf_core_field_exists(((struct task_struct___mine *)t)->no_such_field_in_kernel))
    out[10] = BPF_CORE_READ((struct task_struct___mine *)t, no_such_field_in_kernel);
  return 0;
}
char _license[] SEC("license") = "GPL";
`;

function build(): {
  insns: RawInsn[];
  relos: { slot: number; relo: import('../../../src/bpf/btf/ext.js').CoreRelo }[];
  btf: Btf;
} {
  const obj = compileBpf(SRC, 'core');
  const btf = Btf.parse(section(obj, '.BTF'));
  const ext = parseBtfExt(section(obj, '.BTF.ext'), btf);
  const insns = decodeRaw(section(obj, 'raw_tp/sys_enter'));
  const relos = (ext.coreRelos.get('raw_tp/sys_enter') ?? []).map((r) => ({
    slot: r.insnOff / 8,
    relo: r,
  }));
  return { insns, relos, btf };
}

test('CO-RE against vmlinux matches offsets bpftool reports', () => {
  const { insns, relos, btf } = build();
  assert.ok(relos.length >= 10, `expected CO-RE records, got ${relos.length}`);
  const fixups = applyCoreRelocations(insns, relos, btf, Btf.kernel());
  const find = (kind: CoreReloKind, local: string): (typeof fixups)[number] => {
    const f = fixups.find((x) => x.kind === kind && x.local === local);
    assert.ok(
      f,
      `no ${CoreReloKind[kind]} fixup for ${local}; have ${fixups.map((x) => `${CoreReloKind[x.kind]} ${x.local}`).join(', ')}`,
    );
    return f;
  };
  const pid = memberOf('task_struct', 'pid');
  const off = find(CoreReloKind.FieldByteOffset, 'struct task_struct.pid');
  assert.equal(off.value, BigInt(pid.bitOffset / 8));
  assert.equal(off.target, 'struct task_struct.pid');
  assert.equal(insns[off.slot].imm, pid.bitOffset / 8);

  const missing = find(
    CoreReloKind.FieldExists,
    'struct task_struct___mine.no_such_field_in_kernel',
  );
  assert.equal(missing.value, 0n);
  assert.equal(missing.poisoned, false);
  assert.equal(find(CoreReloKind.FieldExists, 'struct task_struct.tgid').value, 1n);
  assert.equal(find(CoreReloKind.FieldByteSize, 'struct task_struct.pid').value, 4n);
  assert.equal(find(CoreReloKind.TypeExists, 'struct sk_buff').value, 1n);
  assert.equal(find(CoreReloKind.TypeExists, 'struct no_such_type_in_kernel').value, 0n);
  assert.equal(
    find(CoreReloKind.TypeSize, 'struct sk_buff').value,
    BigInt(sizeOf('STRUCT', 'sk_buff')),
  );
  const ev = find(CoreReloKind.EnumvalValue, 'enum bpf_map_type::BPF_MAP_TYPE_RINGBUF');
  assert.equal(ev.value, enumValue('BPF_MAP_TYPE_RINGBUF'));

  // Bitfield: byte offset/size of the containing word and shifts that isolate the bit.
  const bf = memberOf('task_struct', 'sched_reset_on_fork');
  assert.equal(bf.bitfieldSize, 1);
  const bOff = Number(
    find(CoreReloKind.FieldByteOffset, 'struct task_struct.sched_reset_on_fork').value,
  );
  const bSz = Number(
    find(CoreReloKind.FieldByteSize, 'struct task_struct.sched_reset_on_fork').value,
  );
  const lshift = Number(
    find(CoreReloKind.FieldLShiftU64, 'struct task_struct.sched_reset_on_fork').value,
  );
  const rshift = Number(
    find(CoreReloKind.FieldRShiftU64, 'struct task_struct.sched_reset_on_fork').value,
  );
  assert.ok(bOff * 8 <= bf.bitOffset && bf.bitOffset < (bOff + bSz) * 8);
  assert.equal(rshift, 63);
  // After loading bSz bytes at bOff and shifting left by lshift, the field's bit is bit 63.
  assert.equal(bf.bitOffset - bOff * 8 + lshift, 63);

  // bpf_core_type_id_kernel is a 64-bit immediate load: both slots are written.
  const tid = find(CoreReloKind.TypeIdTarget, 'struct task_struct');
  assert.equal(tid.value, BigInt(typeBlock('STRUCT', 'task_struct').id));
  assert.equal(insns[tid.slot].code, 0x18);
  assert.equal(insns[tid.slot].imm, typeBlock('STRUCT', 'task_struct').id);
  assert.equal(insns[tid.slot + 1].imm, 0);

  const comm = memberOf('task_struct', 'comm');
  assert.equal(
    find(CoreReloKind.FieldByteOffset, 'struct task_struct.comm[3]').value,
    BigInt(comm.bitOffset / 8 + 3),
  );

  // The guarded read of a field the kernel lacks is poisoned, as libbpf does.
  const poisoned = fixups.filter((f) => f.poisoned);
  assert.ok(poisoned.length >= 1);
  for (const p of poisoned) {
    assert.equal(p.local, 'struct task_struct___mine.no_such_field_in_kernel');
    assert.equal(insns[p.slot].code, 0x85);
    assert.equal(insns[p.slot].imm, CORE_POISON_IMM);
  }
});

test('CO-RE: local BTF as its own target gives identity values', () => {
  const { insns, relos, btf } = build();
  const before = insns.map((i) => ({ ...i }));
  // Several local flavors of task_struct make TYPE_ID_TARGET ambiguous against itself (as in libbpf).
  const unambiguous = relos.filter((r) => r.relo.kind !== CoreReloKind.TypeIdTarget);
  const fixups = applyCoreRelocations(insns, unambiguous, btf, btf);
  for (const f of fixups) {
    if (f.kind === CoreReloKind.TypeIdTarget || f.kind === CoreReloKind.TypeIdLocal) continue;
    assert.equal(f.poisoned, false, `${f.local} poisoned against itself`);
  }
  // Offsets match what clang compiled in; validation would have thrown otherwise.
  const changed = insns.filter((ins, i) => JSON.stringify(ins) !== JSON.stringify(before[i]));
  assert.equal(changed.length, 0);
});

test('CO-RE: malformed access strings throw BtfError', () => {
  const { insns, relos, btf } = build();
  const r = relos.find((x) => x.relo.kind === CoreReloKind.FieldByteOffset)!;
  for (const bad of ['', ':1', '0:x', '0::1', '0:99999']) {
    assert.throws(
      () =>
        applyCoreRelocations(
          insns,
          [{ slot: r.slot, relo: { ...r.relo, accessStr: bad } }],
          btf,
          Btf.kernel(),
        ),
      BtfError,
      `access string "${bad}"`,
    );
  }
  assert.throws(
    () =>
      applyCoreRelocations(insns, [{ slot: insns.length + 5, relo: r.relo }], btf, Btf.kernel()),
    BtfError,
  );
});

test('CO-RE: flavor suffixes are stripped when picking candidates', () => {
  const { insns, relos, btf } = build();
  const mine = relos.filter(
    (r) =>
      r.relo.kind === CoreReloKind.FieldByteOffset &&
      btf.typeName(r.relo.typeId) === 'struct task_struct___mine',
  );
  assert.ok(mine.length > 0);
  const fixups = applyCoreRelocations(insns, mine, btf, Btf.kernel());
  const pidFix = fixups.find((f) => f.local === 'struct task_struct___mine.pid');
  if (pidFix) assert.equal(pidFix.target, 'struct task_struct.pid');
});

test('CO-RE: TYPE_MATCHES compares member names and shapes', () => {
  const { btf } = build();
  const kernel = Btf.kernel();
  const check = (name: string): number => {
    const insns: RawInsn[] = [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 1 }];
    const typeId = btf.findByName(name)[0];
    const fx = applyCoreRelocations(
      insns,
      [{ slot: 0, relo: { insnOff: 0, typeId, accessStr: '0', kind: CoreReloKind.TypeMatches } }],
      btf,
      kernel,
    );
    assert.equal(fx[0].poisoned, false);
    return insns[0].imm;
  };
  assert.equal(check('task_struct___match'), 1);
  assert.equal(check('sk_buff'), 1);
  assert.equal(check('task_struct___mine'), 0);
  assert.equal(check('no_such_type_in_kernel'), 0);
});
