import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assemble } from '../../../src/bpf/asm/assemble.js';
import { disassemble } from '../../../src/bpf/asm/disasm.js';
import {
  decodeInstructions,
  encodeInstructions,
  slotOffsets,
  type Instruction,
} from '../../../src/bpf/asm/instruction.js';
import { readElf } from './elf-min.js';

// Small C programs compiled here with clang and disassembled by llvm-objdump; our disassembler
// must print the same listing. clang and llvm-objdump are required: their absence fails the test.

const PRELUDE = `
typedef unsigned long long u64; typedef unsigned int u32; typedef unsigned short u16;
typedef unsigned char u8; typedef long long s64; typedef int s32;
#define SEC(n) __attribute__((section(n), used))
static long (*map_lookup_elem)(void *, const void *) = (void *)1;
static long (*trace_printk)(const char *, u32, ...) = (void *)6;
static long (*tail_call)(void *, void *, u32) = (void *)12;
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");
`;

const PROGRAMS: Record<string, { cpu: string; src: string }> = {
  alu: {
    cpu: 'v3',
    src: `
SEC("xdp") int alu(u64 *p) {
  u64 a = p[0], b = p[1]; u32 c = (u32)p[2], d = (u32)p[3]; s64 sa = (s64)p[4]; s32 sc = (s32)p[5];
  a += b; a -= 3; a *= b; a /= b; a |= 0x10; a &= b; a <<= 3; a >>= b; a ^= 0xffff; a %= b;
  c += d; c -= 3; c *= d; c /= d; c |= 0x10; c &= d; c <<= 3; c >>= d; c ^= 0xffff; c %= d;
  sa >>= 5; sc >>= (int)d; sa >>= b; a = -a; c = -c; a += -2147483648LL; c = c * 0x7fffffff;
  p[6] = __builtin_bswap16((u16)a); p[7] = __builtin_bswap32(c); p[8] = __builtin_bswap64(b);
  *(u8 *)&p[9] = (u8)a; *(u16 *)&p[10] = (u16)c; *(u32 *)&p[11] = c;
  return (int)(a + b + c + d + sa + sc + *(u8 *)&p[12] + *(u16 *)&p[13] + *(u32 *)&p[14]);
}`,
  },
  jumps_v1: {
    cpu: 'v1',
    src: `
SEC("tc") int jumps(u64 *p) {
  u64 a = p[0], b = p[1], o = 0; s64 s = (s64)p[2];
  if (a > 3) o += 1; if (a >= b) o += 2; if (a < 7) o += 3; if (a <= b) o += 4;
  if (s > -5) o += 5; if (s >= (s64)b) o += 6; if (s < -9) o += 7; if (s <= (s64)a) o += 8;
  if (a == 0x12345) o += 9; if (a != b) o += 10; if (a & 8) o += 11;
  for (int i = 0; i < (int)(b & 15); i++) o += p[i + 3];
  switch (a & 7) { case 0: o *= 3; break; case 1: o += 77; break; case 2: o -= 5; break; case 5: o ^= 9; break; default: o = 1; }
  return (int)o;
}`,
  },
  jumps_v3: {
    cpu: 'v3',
    src: `
SEC("tc") int jumps32(u64 *p) {
  u32 a = (u32)p[0], b = (u32)p[1], o = 0; s32 s = (s32)p[2];
  if (a > 3) o += 1; if (a >= b) o += 2; if (a < 7) o += 3; if (a <= b) o += 4;
  if (s > -5) o += 5; if (s >= (s32)b) o += 6; if (s < -9) o += 7; if (s <= (s32)a) o += 8;
  if (a == 0x12345) o += 9; if (a != b) o += 10;
  u64 w = p[3]; if (w > 100) o += 11; if ((s64)w < -1) o += 12;
  for (u32 i = 0; i < (b & 15); i++) o += (u32)p[i + 4];
  return (int)o;
}`,
  },
  atomics: {
    cpu: 'v3',
    src: `
SEC("xdp") int atomics(u64 *p) {
  u64 a = p[0], b = p[1], o = 0; u32 c = (u32)p[2];
  __sync_fetch_and_add(&p[3], a); __sync_fetch_and_add((u32 *)&p[4], c);
  __sync_fetch_and_or(&p[5], a); __sync_fetch_and_and(&p[5], b); __sync_fetch_and_xor(&p[5], a);
  o += __sync_fetch_and_add(&p[6], 3); o += __sync_fetch_and_or(&p[7], a);
  o += __sync_fetch_and_and(&p[7], b); o += __sync_fetch_and_xor(&p[7], a);
  o += __sync_lock_test_and_set(&p[8], b); o += __sync_val_compare_and_swap(&p[9], a, b);
  return (int)o;
}`,
  },
  calls: {
    cpu: 'v2',
    src: `
struct { int type; int max_entries; } counters SEC(".maps");
struct { int type; int max_entries; } jt SEC(".maps");
int gv = 5; const volatile u64 cfg = 0x1122334455667788ULL; u64 zero_init;
static __attribute__((noinline)) u64 helper_fn(u64 a, u64 b) { return a * b + 0xffffffff80000000ULL; }
__attribute__((noinline)) int global_fn(int x) { return x * 3 + gv; }
SEC("socket") int calls(void *skb) {
  int k = 0; u64 *v = (u64 *)map_lookup_elem(&counters, &k); u64 o = 0;
  if (v) o += *v;
  o += helper_fn(o, cfg) + global_fn((int)o) + zero_init;
  o += load_byte(skb, 14) + load_half(skb, 12) + load_word(skb, o & 3);
  trace_printk("o=%llu", 7, o);
  tail_call(skb, &jt, 1);
  return (int)o;
}`,
  },
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `asm-llvm-${process.pid}-`));
after(() => {
  if (process.env['ASM_KEEP_TMP'] === undefined) fs.rmSync(tmp, { recursive: true, force: true });
});

function compile(name: string, cpu: string, src: string): string {
  const c = path.join(tmp, `${name}.c`);
  const o = path.join(tmp, `${name}.o`);
  fs.writeFileSync(c, PRELUDE + src);
  execFileSync(
    'clang',
    ['-O2', '-g', '-target', 'bpf', `-mcpu=${cpu}`, '-Wno-int-conversion', '-c', c, '-o', o],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return o;
}

/** llvm-objdump listing split by section: the label and instruction lines. */
function objdump(obj: string, args: string[]): Map<string, string[]> {
  const out = execFileSync('llvm-objdump', [...args, obj], { encoding: 'utf8' });
  const bySection = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of out.split('\n')) {
    const m = /^Disassembly of section (.*):$/.exec(line);
    if (m) {
      cur = [];
      bySection.set(m[1]!, cur);
    } else if (cur && line.trim() !== '') cur.push(line);
  }
  return bySection;
}

/** Instructions of each executable section, with symbols attached as labels. */
function sectionsOf(obj: string): Map<string, Instruction[]> {
  const elf = readElf(fs.readFileSync(obj));
  const out = new Map<string, Instruction[]>();
  for (const sec of elf.sections) {
    if ((sec.flags & 4n) === 0n || sec.data.byteLength === 0) continue;
    const insns = decodeInstructions(sec.data);
    const slots = slotOffsets(insns);
    for (const sym of elf.symbols) {
      if (sym.shndx !== sec.index || sym.name === '' || (sym.type !== 0 && sym.type !== 2))
        continue;
      const i = slots.indexOf(Number(sym.value) / 8);
      assert.ok(i >= 0 && i < insns.length, `symbol ${sym.name} not on an instruction boundary`);
      assert.equal(insns[i]!.symbol, undefined, `two symbols at ${sec.name}+${sym.value}`);
      insns[i]!.symbol = sym.name;
    }
    out.set(sec.name, insns);
  }
  return out;
}

const norm = (l: string) => l.trim().replace(/\s+/g, ' ');

test('clang and llvm-objdump are installed', () => {
  for (const tool of ['clang', 'llvm-objdump']) {
    assert.doesNotThrow(
      () => execFileSync(tool, ['--version'], { stdio: 'ignore' }),
      `${tool} is required`,
    );
  }
});

for (const [name, { cpu, src }] of Object.entries(PROGRAMS)) {
  test(`llvm-objdump agrees on ${name} (-mcpu=${cpu})`, () => {
    const obj = compile(name, cpu, src);
    const sections = sectionsOf(obj);
    assert.ok(sections.size > 0);
    for (const [flags, rawBytes] of [
      [['-d', '--no-show-raw-insn'], false],
      [['-d'], true],
    ] as const) {
      const theirs = objdump(obj, [...flags]);
      assert.deepEqual([...theirs.keys()].sort(), [...sections.keys()].sort());
      for (const [sec, insns] of sections) {
        const expected = theirs.get(sec)!;
        assert.ok(
          !expected.some((l) => l.includes('<unknown>')),
          `${name}: llvm-objdump could not decode ${sec}`,
        );
        const ours = disassemble(insns, { llvmCompat: true, rawBytes })
          .split('\n')
          .filter((l) => l.trim() !== '');
        assert.equal(ours.length, expected.length, `${name} ${sec}: line count`);
        ours.forEach((l, i) =>
          assert.equal(norm(l), norm(expected[i]!), `${name} ${sec} line ${i}`),
        );
      }
    }
    // The default (lossless) listing assembles back to the section bytes.
    for (const [sec, insns] of sections) {
      const bytes = encodeInstructions(insns);
      for (const rawBytes of [false, true]) {
        const back = assemble(disassemble(insns, { rawBytes }));
        assert.deepEqual(encodeInstructions(back), bytes, `${name} ${sec}: round trip`);
      }
    }
  });
}
