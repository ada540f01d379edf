import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, parseInstruction } from '../../../src/bpf/asm/assemble.js';
import {
  disassemble,
  formatInstruction,
  helperName,
  HELPER_NAMES,
  helperId,
} from '../../../src/bpf/asm/disasm.js';
import {
  decodeInstructions,
  encodeInstructions,
  insn,
  type Instruction,
} from '../../../src/bpf/asm/instruction.js';
import { Op } from '../../../src/bpf/asm/opcodes.js';
import * as b from '../../../src/bpf/asm/builder.js';
import { R0, R1, R2, R3, R10 } from '../../../src/bpf/asm/opcodes.js';
import { allForms } from './forms.js';

const f = (i: Instruction) => formatInstruction(i);

test('llvm-objdump spelling of common instructions', () => {
  assert.equal(f(b.mov64(R0, 0)), 'r0 = 0');
  assert.equal(f(b.add32Reg(R1, R2)), 'w1 += w2');
  assert.equal(f(b.ldImm64(R1, 0x1122334455667788n)), 'r1 = 1234605616436508552 ll');
  assert.equal(f(b.ldxw(R1, R1, 4)), 'r1 = *(u32 *)(r1 + 4)');
  assert.equal(f(b.stxdw(R10, R1, -8)), '*(u64 *)(r10 - 8) = r1');
  assert.equal(f(b.atomicAdd64(R1, R2)), 'lock *(u64 *)(r1 + 0) += r2');
  assert.equal(
    formatInstruction(b.jgt(R1, 3, 2), { target: 'LBB0_2' }),
    'if r1 > 3 goto +2 <LBB0_2>',
  );
  assert.equal(f(b.call(1)), 'call 1');
  assert.equal(f(b.exit()), 'exit');
  assert.equal(f(b.be(R1, 16)), 'r1 = be16 r1');
  assert.equal(f(b.neg64(R0)), 'r0 = -r0');
  assert.equal(f(b.atomicFetchAdd64(R1, R2, 8)), 'r2 = atomic_fetch_add((u64 *)(r1 + 8), r2)');
  assert.equal(f(b.atomicCmpXchg64(R1, R2, 8)), 'r0 = cmpxchg_64(r1 + 8, r0, r2)');
  assert.equal(f(b.atomicXchg64(R1, R2, 8)), 'r2 = xchg_64(r1 + 8, r2)');
  assert.equal(f(b.ldMapValue(R1, 'm', 0)), 'ld_pseudo\tr1, 2, 0');
});

test('ISA v4 forms LLVM 14 cannot print use newer LLVM spelling', () => {
  assert.equal(f(b.sdiv64Reg(R1, R2)), 'r1 s/= r2');
  assert.equal(f(b.smod32(R1, 3)), 'w1 s%= 3');
  assert.equal(f(b.movsx64(R1, R2, 8)), 'r1 = (s8)r2');
  assert.equal(f(b.movsx32(R1, R2, 16)), 'w1 = (s16)w2');
  assert.equal(f(b.ldxsw(R1, R2, 4)), 'r1 = *(s32 *)(r2 + 4)');
  assert.equal(f(b.bswap(R1, 32)), 'r1 = bswap32 r1');
  assert.equal(f(b.ja32(5)), 'gotol +5');
  assert.equal(f(b.stw(R10, -4, 7)), '*(u32 *)(r10 - 4) = 7');
  assert.equal(f(b.jset(R1, 8, 1)), 'if r1 & 8 goto +1');
  assert.equal(f(b.callx(R2)), 'callx r2');
});

test('calls are unambiguous by default and LLVM-exact with llvmCompat', () => {
  const local = b.callLocal(-3);
  assert.equal(f(local), 'call pc-3');
  assert.equal(formatInstruction(local, { llvmCompat: true }), 'call -3');
  const kfunc = insn(Op.CALL, 0, 2, 0, 77);
  assert.equal(f(kfunc), 'call kfunc 77');
  assert.equal(formatInstruction(kfunc, { llvmCompat: true }), 'call 77');
});

test('non-canonical encodings fall back to .insn and still round trip', () => {
  const odd = [
    insn(0x87, 1, 0, 0, 7),
    insn(0xb7, 1, 3, 0, 1),
    insn(0x8c, 1, 2),
    insn(0xff, 15, 15, -1, -1),
    insn(0x95, 1),
  ];
  for (const i of odd) {
    const text = f(i);
    assert.match(text, /^\.insn /);
    assert.deepEqual(parseInstruction(text).ins, i);
  }
});

test('every form: disassemble → assemble gives identical bytes', () => {
  const forms = allForms();
  for (const i of forms) {
    const text = f(i);
    assert.doesNotMatch(text, /^\.insn/, `form ${i.code.toString(16)} should have a real spelling`);
    assert.deepEqual(parseInstruction(text).ins, i, text);
  }
  const bytes = encodeInstructions(forms);
  for (const rawBytes of [false, true]) {
    const listing = disassemble(decodeInstructions(bytes), { rawBytes });
    assert.deepEqual(encodeInstructions(assemble(listing)), bytes);
  }
});

test('random slots round trip through disassemble → assemble', () => {
  // Deterministic xorshift so a failure reproduces.
  let s = 0x12345678;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  const bytes = new Uint8Array(8 * 4000);
  for (let o = 0; o < bytes.length; o += 8) {
    const w1 = next();
    const w2 = next();
    let code = w1 & 0xff;
    if (code === Op.LD_IMM64) code = 0x07;
    const regs = (w1 >>> 8) & 0xff;
    // Mostly small fields so that canonical encodings come up often.
    const small = (w1 >>> 16) % 4 !== 0;
    bytes.set(
      [code, small ? regs & 0x0a : regs, small ? 0 : (w1 >>> 16) & 0xff, small ? 0 : w1 >>> 24],
      o,
    );
    new DataView(bytes.buffer).setUint32(o + 4, small ? w2 % 70 : w2, true);
  }
  const insns = decodeInstructions(bytes);
  const back = encodeInstructions(assemble(disassemble(insns)));
  assert.deepEqual(back, bytes);
});

test('listing looks like llvm-objdump -d -S', () => {
  const src = (lineNum: number, line: string) => ({ file: 'x.c', line, lineNum, col: 1 });
  const insns: Instruction[] = [
    { ...b.mov64(R0, 0), symbol: 'prog', source: src(3, 'int prog(void) {') },
    { ...b.jeq(R1, 0, 1), source: src(4, '  if (x)') },
    { ...b.mov64(R0, 1), source: src(4, '  if (x)') },
    { ...b.exit(), symbol: 'LBB0_2', source: src(5, '  return 0;') },
  ];
  assert.equal(
    disassemble(insns),
    [
      '0000000000000000 <prog>:',
      '; int prog(void) {',
      '       0:\tr0 = 0',
      ';   if (x)',
      '       1:\tif r1 == 0 goto +1 <LBB0_2>',
      '       2:\tr0 = 1',
      '',
      '0000000000000018 <LBB0_2>:',
      ';   return 0;',
      '       3:\texit',
      '',
    ].join('\n'),
  );
  assert.equal(
    disassemble([b.ldImm64(R1, 5), b.exit()], { rawBytes: true }),
    '       0:\t18 01 00 00 05 00 00 00 00 00 00 00 00 00 00 00\tr1 = 5 ll\n       2:\t95 00 00 00 00 00 00 00\texit\n',
  );
});

test('jump annotations name the nearest symbol like llvm-objdump', () => {
  const insns = [{ ...b.ja(1), symbol: 'g' }, b.exit(), b.exit()];
  assert.match(disassemble(insns), /goto \+1 <g\+0x10>/);
  assert.doesNotMatch(disassemble([b.ja(1), b.exit(), b.exit()]), /</);
});

test('bpftool style names helpers and maps', () => {
  const insns: Instruction[] = [
    { ...b.ldMapFd(R1, 'counters'), symbol: 'prog' },
    b.ldMapValue(R2, 'cfg', 8),
    { ...b.ldMapFd(R3, 'x'), reference: undefined, imm: 5n },
    b.call('map_lookup_elem'),
    b.jgt(R0, 3, 1),
    b.ldxdw(R0, R10, -8),
    b.exit(),
  ];
  const out = disassemble(insns, { style: 'bpftool' });
  assert.equal(
    out,
    [
      'prog:',
      '   0: (18) r1 = map[counters]',
      '   2: (18) r2 = map[cfg][0]+8',
      '   4: (18) r3 = map[id:5]',
      '   6: (85) call bpf_map_lookup_elem#1',
      '   7: (25) if r0 > 0x3 goto pc+1',
      '   8: (79) r0 = *(u64 *)(r10 -8)',
      '   9: (95) exit',
      '',
    ].join('\n'),
  );
});

test('helper table follows the kernel order', () => {
  assert.ok(HELPER_NAMES.length >= 212);
  assert.equal(helperName(1), 'bpf_map_lookup_elem');
  assert.equal(helperName(6), 'bpf_trace_printk');
  assert.equal(helperName(12), 'bpf_tail_call');
  assert.equal(helperName(209), 'bpf_user_ringbuf_drain');
  assert.equal(helperName(211), 'bpf_cgrp_storage_delete');
  assert.equal(helperName(0), undefined);
  assert.equal(helperName(100000), undefined);
  assert.equal(helperId('bpf_ringbuf_output'), 130);
  assert.equal(helperId('ringbuf_output'), 130);
});

test('assembler accepts labels, goto label and helper names', () => {
  const insns = assemble(`
    r0 = 0
    if r1 == 0 goto out
    call bpf_ktime_get_ns
    call sub
  out:
    exit
  sub:
    r0 = 1
    exit
  `);
  assert.equal(insns[1]!.off, 2);
  assert.equal(insns[2]!.imm, 5n);
  assert.equal(insns[2]!.src, 0);
  assert.equal(insns[3]!.src, 1);
  assert.equal(insns[3]!.imm, 1n);
  assert.equal(insns[4]!.symbol, 'out');
  assert.throws(() => assemble('goto nowhere'), /unknown label "nowhere"/);
  assert.throws(() => assemble('a:\nexit\na:\nexit'), /line 3: duplicate label "a"/);
  assert.throws(() => assemble('r0 = frob'), /line 1: bad immediate "frob"/);
  assert.throws(() => assemble('r1 = 5\nfoo bar'), /line 2: unknown instruction "foo bar"/);
  assert.throws(() => assemble('r0 = 4294967296'), /does not fit in 32 bits/);
});
