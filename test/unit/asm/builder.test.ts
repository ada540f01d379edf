import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as b from '../../../src/bpf/asm/builder.js';
import { Program, label, resolveLabels } from '../../../src/bpf/asm/builder.js';
import { assemble } from '../../../src/bpf/asm/assemble.js';
import { disassemble } from '../../../src/bpf/asm/disasm.js';
import { encodeInstructions } from '../../../src/bpf/asm/instruction.js';
import { Op, R0, R1, R2, R6, R10 } from '../../../src/bpf/asm/opcodes.js';
import {
  PSEUDO_CALL,
  PSEUDO_FUNC,
  PSEUDO_MAP_FD,
  PSEUDO_MAP_VALUE,
} from '../../../src/bpf/asm/raw.js';

test('labels resolve to slot offsets, counting ld_imm64 as two', () => {
  const insns = resolveLabels([
    b.mov64(R0, 0),
    b.jeq(R1, 0, 'out'),
    b.ldImm64(R2, 0x1122334455667788n),
    b.ldMapFd(R1, 'counters'),
    b.ja('out'),
    b.mov64(R0, 1),
    label('out', b.exit()),
  ]);
  assert.equal(insns[1]!.off, 6); // 2 + 2 + 1 + 1 slots skipped
  assert.equal(insns[4]!.off, 1);
  // A map load keeps its reference for the loader and is not treated as a label.
  assert.equal(insns[3]!.src, PSEUDO_MAP_FD);
  assert.equal(insns[3]!.reference, 'counters');
  assert.equal(insns[3]!.imm, 0n);
});

test('backward jumps, gotol, local calls and function pointers', () => {
  const p = new Program()
    .label('top')
    .emit(b.add64(R1, 1), b.jlt(R1, 10, 'top'), b.ja32('end'))
    .emit(b.callLocal('fn'), b.ldFunc(R2, 'fn'))
    .label('end')
    .emit(b.exit())
    .label('fn')
    .emit(b.mov64(R0, 7), b.exit());
  const insns = p.build();
  assert.equal(insns[0]!.symbol, 'top');
  assert.equal(insns[1]!.off, -2);
  assert.equal(insns[2]!.code, Op.JA32);
  assert.equal(insns[2]!.imm, 3n);
  assert.equal(insns[3]!.src, PSEUDO_CALL);
  assert.equal(insns[3]!.imm, 3n); // call at slot 3, fn at slot 7
  assert.equal(insns[4]!.src, PSEUDO_FUNC);
  // As the kernel reads it: the target is imm + 1 slots past the ld_imm64's first slot.
  assert.equal(insns[4]!.imm, 2n);
  assert.equal(insns[6]!.symbol, 'fn');
  // What the builder produces disassembles and assembles back to the same bytes.
  assert.deepEqual(encodeInstructions(assemble(disassemble(insns))), encodeInstructions(insns));
});

test('bad labels are errors that name the label and instruction', () => {
  assert.throws(
    () => resolveLabels([b.ja('nowhere'), b.exit()]),
    /instruction 0: unknown label "nowhere"/,
  );
  assert.throws(
    () => resolveLabels([label('x', b.mov64(R0, 0)), label('x', b.exit())]),
    /duplicate label "x" at instruction 1 \(first defined at instruction 0\)/,
  );
  assert.throws(() => new Program().label('a').emit(b.exit()).label('a'), /duplicate label "a"/);
  assert.throws(
    () => new Program().emit(label('a', b.exit())).label('a').emit(b.exit()).build(),
    /duplicate label "a"/,
  );
  const far = [
    b.ja('end'),
    ...Array.from({ length: 40000 }, () => b.mov64(R0, 0)),
    label('end', b.exit()),
  ];
  assert.throws(
    () => resolveLabels(far),
    /jump to "end" is 40000 slots, outside the 16-bit offset range/,
  );
  // gotol reaches where goto cannot.
  far[0] = b.ja32('end');
  assert.equal(resolveLabels(far)[0]!.imm, 40000n);
});

test('numeric targets pass through; labels may point just past the end', () => {
  assert.equal(resolveLabels([b.jne(R1, 0, 3)])[0]!.off, 3);
  const p = new Program().emit(b.ja('end'), b.exit()).label('end');
  assert.equal(p.build()[0]!.off, 1);
});

test('builders encode the expected fields', () => {
  assert.deepEqual(b.mov64(R0, 2), { code: 0xb7, dst: 0, src: 0, off: 0, imm: 2n });
  assert.deepEqual(b.mov64Reg(R1, R2), { code: 0xbf, dst: 1, src: 2, off: 0, imm: 0n });
  assert.deepEqual(b.ldxw(R0, R1, 4), { code: 0x61, dst: 0, src: 1, off: 4, imm: 0n });
  assert.deepEqual(b.stxdw(R10, R6, -8), { code: 0x7b, dst: 10, src: 6, off: -8, imm: 0n });
  assert.deepEqual(b.stw(R10, -4, 9), { code: 0x62, dst: 10, src: 0, off: -4, imm: 9n });
  assert.deepEqual(b.sdiv32(R1, -3), { code: 0x34, dst: 1, src: 0, off: 1, imm: -3n });
  assert.deepEqual(b.call('bpf_map_lookup_elem'), { code: 0x85, dst: 0, src: 0, off: 0, imm: 1n });
  assert.deepEqual(b.call('ringbuf_output'), b.call(130));
  assert.throws(() => b.call('no_such_helper'), /unknown helper "no_such_helper"/);
  assert.throws(() => b.mov64(11, 0), /bad register 11/);
  const mv = b.ldMapValue(R1, 'cfg', 16);
  assert.equal(mv.src, PSEUDO_MAP_VALUE);
  assert.equal(mv.imm, 16n << 32n);
  assert.deepEqual(encodeInstructions([b.exit()]), Uint8Array.from([0x95, 0, 0, 0, 0, 0, 0, 0]));
});
