import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseConformanceAsm, assemble } from '../../../src/bpf/asm/assemble.js';
import { parseConformanceFile } from '../../../src/bpf/asm/conformance-file.js';
import { disassemble } from '../../../src/bpf/asm/disasm.js';
import {
  decodeInstructions,
  encodeInstructions,
  toWords,
} from '../../../src/bpf/asm/instruction.js';
import { Op } from '../../../src/bpf/asm/opcodes.js';
import { CONFORMANCE_DIR } from '../../helpers/corpus.js';

// The bpf_conformance suite (313 .data files). A missing suite fails the test; it never skips.
const DIR = CONFORMANCE_DIR;

const files = fs.existsSync(DIR)
  ? fs
      .readdirSync(DIR)
      .filter((f) => f.endsWith('.data'))
      .sort()
  : [];

test('the conformance suite is present', () => {
  assert.ok(
    fs.existsSync(DIR),
    `bpf_conformance tests not found at ${DIR} (set BPF_CONFORMANCE_TESTS)`,
  );
  assert.equal(files.length, 313);
});

for (const file of files) {
  test(`conformance ${file}`, () => {
    const c = parseConformanceFile(fs.readFileSync(path.join(DIR, file), 'utf8'));
    assert.ok(c.asm.trim() !== '', `${file}: no -- asm section`);
    assert.ok(c.result !== undefined || c.error !== undefined, `${file}: no result or error`);
    const insns = parseConformanceAsm(c.asm);
    assert.ok(insns.length > 0);
    if (c.raw !== undefined) {
      assert.deepEqual(
        toWords(insns).map((w) => '0x' + w.toString(16).padStart(16, '0')),
        c.raw.map((w) => '0x' + w.toString(16).padStart(16, '0')),
        `${file}: -- asm does not encode to -- raw`,
      );
    }
    // Every program the suite writes must also survive our own disassemble → assemble.
    const bytes = encodeInstructions(insns);
    const listing = disassemble(decodeInstructions(bytes));
    assert.doesNotMatch(listing, /\.insn/, `${file}: some instruction has no proper spelling`);
    assert.deepEqual(encodeInstructions(assemble(listing)), bytes, `${file}: round trip`);
  });
}

test('conformance file sections', () => {
  const c = parseConformanceFile(
    '# header\n-- c\nint x; // -- not a directive\n-- asm\nmov %r0, 1 # one\n\nexit\n-- raw\n0x00000001000000b7\n0x0000000000000095\n-- mem\n00 01\nff\n-- result\n0x1\n-- no register offset\ncall instruction\n',
  );
  assert.equal(c.asm, 'mov %r0, 1\nexit\n');
  assert.deepEqual(c.raw, [0x1000000b7n, 0x95n]);
  assert.deepEqual(c.mem, Uint8Array.from([0, 1, 0xff]));
  assert.equal(c.result, 1n);
  assert.deepEqual(toWords(parseConformanceAsm(c.asm)), c.raw);
  const e = parseConformanceFile('-- asm\nexit\n-- error\nbad instruction\n');
  assert.equal(e.error, 'bad instruction');
  assert.throws(() => parseConformanceFile('-- frob\n'), /line 1: unknown directive/);
});

test('conformance syntax details', () => {
  const words = (s: string) => toWords(parseConformanceAsm(s));
  assert.deepEqual(words('ldxb %r0, [%r1+0x2]'), [0x0000000000021071n]);
  assert.deepEqual(words('stxdw [%r10-8], %r1'), [0x00000000fff81a7bn]);
  assert.deepEqual(words('lock fetch add [%r10-8], %r1'), [0x00000001fff81adbn]);
  assert.deepEqual(words('lock xchg32 [%r1], %r2'), [0x000000e1000021c3n]);
  assert.deepEqual(words('call %r2'), [0x000000000000028dn]);
  assert.deepEqual(words('sdiv32 %r0, -2'), [0xfffffffe00010034n]);
  assert.deepEqual(words('movsx1664 %r1, %r2'), [0x00000000001021bfn]);
  assert.deepEqual(words('bswap64 %r3'), [0x00000040000003d7n]);
  assert.deepEqual(words('ldxsw %r0, [%r10-4]'), [0x00000000fffca081n]);
  assert.deepEqual(words('neg32 %r0'), [0x0000000000000084n]);
  assert.deepEqual(words('mov32 %r0, 0xffffffff'), [0xffffffff000000b4n]);
  // ja32 and local calls put the label distance in imm; other jumps in off.
  const prog = parseConformanceAsm('ja32 t\ncall local f\nt:\njeq %r1, 0, exit\nexit\nf:\nexit');
  assert.equal(prog[0]!.code, Op.JA32);
  assert.equal(prog[0]!.imm, 1n);
  assert.equal(prog[1]!.imm, 2n);
  assert.equal(prog[2]!.off, 0);
  assert.throws(() => parseConformanceAsm('ja nowhere'), /unknown label "nowhere"/);
  assert.throws(() => parseConformanceAsm('mov32 %r0, 0x100000000'), /line 1: .*32 bits/);
  assert.throws(() => parseConformanceAsm('frob %r0'), /line 1: unknown mnemonic "frob"/);
  assert.throws(() => parseConformanceAsm('add %r0'), /add takes 2 operand/);
});
