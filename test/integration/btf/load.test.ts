import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Btf, BtfError } from '../../../src/bpf/btf/btf.js';
import { fixupForKernel } from '../../../src/bpf/btf/fixup.js';
import { BtfKind } from '../../../src/bpf/btf/types.js';
import { sys } from '../../../src/sys/index.js';
import { compileBpf, section, type CompiledObject } from '../../unit/btf/helpers.js';

const SRC = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct val { long packets; char name[8]; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, int); __type(value, struct val); } counts SEC(".maps");
int data_var = 5;
long data_arr[3] = { 1, 2, 3 };
const volatile int ro_var = 7;
const volatile char ro_name[5] = "abc";
int bss_var;
static long static_bss;
extern int LINUX_KERNEL_VERSION __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern const void bpf_prog_active __ksym;
extern int bpf_obj_drop_impl(void *, void *) __ksym __weak;
char _license[] SEC("license") = "GPL";
SEC("xdp") int prog(struct xdp_md *ctx) {
  bpf_printk("hi %d", ro_var);
  int k = 1;
  struct val *v = bpf_map_lookup_elem(&counts, &k);
  static_bss++;
  if (v) v->packets += data_var + bss_var + data_arr[2] + ro_name[1] + LINUX_KERNEL_VERSION + CONFIG_BPF_SYSCALL
        + (long)&bpf_prog_active + (bpf_obj_drop_impl ? 1 : 0);
  return XDP_PASS;
}`;

function fixInputs(obj: CompiledObject): Parameters<typeof fixupForKernel>[1 | 2][] {
  return [
    [...obj.sections.values()].map((s) => ({ name: s.name, size: s.size })),
    obj.symbols.map((s) => ({ name: s.name, section: s.section, offset: s.value })),
  ] as never;
}

test('object BTF with .data/.rodata/.bss/.maps/.kconfig/.ksyms loads after fixup', () => {
  const obj = compileBpf(SRC, 'load');
  const btf = Btf.parse(section(obj, '.BTF'));
  const [secs, syms] = fixInputs(obj) as [never, never];
  fixupForKernel(btf, secs, syms);
  for (const name of ['.data', '.rodata', '.bss', '.maps', 'license']) {
    const id = btf.findByName(name, BtfKind.Datasec)[0];
    const t = btf.type(id);
    assert.ok(t.kind === BtfKind.Datasec);
    assert.equal(t.size, obj.sections.get(name)!.size, `${name} size`);
    for (let i = 1; i < t.vars.length; i++)
      assert.ok(t.vars[i].offset >= t.vars[i - 1].offset + t.vars[i - 1].size);
    for (const v of t.vars) {
      const vt = btf.type(v.type);
      const sym = obj.symbols.find(
        (s) => s.section === name && (s.name === vt.name || s.name.endsWith(`.${vt.name}`)),
      );
      assert.ok(sym, `symbol for ${vt.name}`);
      assert.equal(v.offset, sym.value, `${name}: ${vt.name} offset`);
    }
  }
  const kc = btf.type(btf.findByName('.kconfig', BtfKind.Datasec)[0]);
  assert.ok(kc.kind === BtfKind.Datasec);
  assert.deepEqual(
    kc.vars.map((v) => [btf.type(v.type).name, v.offset, v.size]),
    [
      ['LINUX_KERNEL_VERSION', 0, 4],
      ['CONFIG_BPF_SYSCALL', 4, 1],
    ],
  );
  const fd = Btf.parse(btf.encode()).load();
  try {
    assert.ok(fd > 0);
  } finally {
    sys().close(fd);
  }
  // The same BTF loads directly too (encode happens inside load).
  const fd2 = btf.load();
  sys().close(fd2);
});

test('unfixed object BTF is refused with the kernel log in the error', () => {
  const obj = compileBpf(SRC, 'nofix');
  const btf = Btf.parse(section(obj, '.BTF'));
  assert.throws(
    () => btf.load(),
    (e: unknown) =>
      e instanceof BtfError && /load BTF: .*EINVAL/.test(e.message) && /\[\d+\] /.test(e.message),
  );
});
