import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeInstructions,
  encodeInstructions,
  fromRawSlots,
  fromWords,
  insn,
  slotCount,
  slotOffsets,
  toRawSlots,
  toWords,
} from '../../../src/bpf/asm/instruction.js';
import { decodeRaw, decodeWords, encodeRaw } from '../../../src/bpf/asm/raw.js';
import { Op } from '../../../src/bpf/asm/opcodes.js';
import { allForms } from './forms.js';

test('every instruction form survives encode → decode', () => {
  const forms = allForms();
  const bytes = encodeInstructions(forms);
  assert.equal(bytes.byteLength, slotOffsets(forms).at(-1)! * 8);
  assert.deepEqual(decodeInstructions(bytes), forms);
});

test('each form alone survives encode → decode', () => {
  for (const f of allForms()) {
    assert.deepEqual(
      decodeInstructions(encodeInstructions([f])),
      [f],
      JSON.stringify(f, (_, v) => (typeof v === 'bigint' ? String(v) : v)),
    );
  }
});

test('raw slots agree with raw.ts encodeRaw/decodeRaw', () => {
  const forms = allForms();
  const slots = toRawSlots(forms);
  assert.deepEqual(encodeRaw(slots), encodeInstructions(forms));
  assert.deepEqual(fromRawSlots(decodeRaw(encodeInstructions(forms))), forms);
});

test('decodeWords gives the slots decodeRaw gives for the same bytes, signed words or not', () => {
  const bytes = encodeInstructions(allForms());
  const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  assert.deepEqual(decodeWords(Array.from(u32)), decodeRaw(bytes));
  assert.deepEqual(
    decodeWords(Array.from(new Int32Array(u32.buffer, u32.byteOffset))),
    decodeRaw(bytes),
  );
});

test('ld_imm64 is one instruction over two slots: low half first', () => {
  const ins = insn(Op.LD_IMM64, 1, 0, 0, 0x1122334455667788n);
  assert.equal(slotCount(ins), 2);
  const slots = toRawSlots([ins]);
  assert.equal(slots.length, 2);
  assert.equal(slots[0]!.imm, 0x55667788);
  assert.equal(slots[1]!.imm, 0x11223344);
  assert.deepEqual(toWords([ins, insn(Op.EXIT)]), [
    0x5566778800000118n,
    0x1122334400000000n,
    0x0000000000000095n,
  ]);
  assert.deepEqual(fromWords(toWords([ins])), [ins]);
  // Values above 2^63 are accepted and come back as the same bit pattern, signed.
  const big = insn(Op.LD_IMM64, 1, 0, 0, 0xffffffffffffffffn);
  assert.equal(decodeInstructions(encodeInstructions([big]))[0]!.imm, -1n);
});

test('slotOffsets counts ld_imm64 twice', () => {
  assert.deepEqual(slotOffsets([insn(0xb7), insn(Op.LD_IMM64), insn(Op.EXIT)]), [0, 1, 3, 4]);
});

test('malformed input errors carry the byte offset', () => {
  assert.throws(() => decodeInstructions(new Uint8Array(13)), /byte offset 8: trailing 5 bytes/);
  const trunc = encodeInstructions([insn(0xb7), insn(Op.LD_IMM64, 1, 0, 0, 5n)]).subarray(0, 16);
  assert.throws(() => decodeInstructions(trunc), /byte offset 8: ld_imm64 truncated/);
  const bad = encodeInstructions([insn(Op.LD_IMM64, 1, 0, 0, 5n)]);
  bad[8] = 0x07;
  assert.throws(() => decodeInstructions(bad), /byte offset 8: second slot of ld_imm64/);
});

test('encoding rejects fields that do not fit', () => {
  assert.throws(() => encodeInstructions([insn(0xb7, 16)]), /instruction 0.*dst 16/);
  assert.throws(() => encodeInstructions([insn(0x05, 0, 0, 40000)]), /off 40000/);
  assert.throws(
    () => encodeInstructions([insn(0xb7, 0, 0, 0, 1n << 32n)]),
    /does not fit in 32 bits/,
  );
  assert.throws(() => encodeInstructions([insn(Op.LD_IMM64, 0, 0, 0, 1n << 64n)]), /64 bits/);
  // Unsigned 32-bit patterns are accepted and stored as the same bits.
  assert.equal(
    decodeInstructions(encodeInstructions([insn(0xb4, 1, 0, 0, 0xffffffffn)]))[0]!.imm,
    -1n,
  );
});
