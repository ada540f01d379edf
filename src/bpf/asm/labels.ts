/**
 * Label resolution shared by the builder and the assemblers: jumps, bpf-to-bpf calls and
 * ld_imm64 function pointers that name a label in `reference` get their slot-relative offset.
 */
import { Class, JmpOp, Op } from './opcodes.js';
import { slotOffsets, type Instruction } from './instruction.js';
import { PSEUDO_CALL, PSEUDO_FUNC } from './raw.js';

/** Where a label-resolved value goes: the 16-bit `off` or the 32-bit `imm`. */
export function labelField(ins: Instruction): 'off' | 'imm' | undefined {
  const cls = ins.code & 0x07;
  if (ins.code === Op.LD_IMM64) return ins.src === PSEUDO_FUNC ? 'imm' : undefined;
  if (cls !== Class.JMP && cls !== Class.JMP32) return undefined;
  const op = ins.code & 0xf0;
  if (op === JmpOp.EXIT) return undefined;
  if (op === JmpOp.CALL) {
    return cls === Class.JMP && (ins.code & 0x08) === 0 && ins.src === PSEUDO_CALL
      ? 'imm'
      : undefined;
  }
  if (ins.code === Op.JA32) return 'imm';
  return 'off';
}

/**
 * Returns a copy of `insns` in which every jump, local call (src = BPF_PSEUDO_CALL) and
 * ld_imm64 of a function (src = BPF_PSEUDO_FUNC) whose `reference` names a label has its offset
 * set, counted in slots from the next instruction (ld_imm64 counts as two). Labels are the
 * instructions' `symbol` fields plus `extra` (name → instruction index; an index equal to
 * `insns.length` means "just past the end"). Throws on duplicate or unknown labels and on offsets
 * that do not fit their field.
 */
export function resolveLabels(
  insns: readonly Instruction[],
  extra?: ReadonlyMap<string, number>,
): Instruction[] {
  const labels = new Map<string, number>();
  insns.forEach((ins, i) => {
    if (ins.symbol === undefined) return;
    const prev = labels.get(ins.symbol);
    if (prev !== undefined && prev !== i) {
      throw new Error(
        `resolve labels: duplicate label "${ins.symbol}" at instruction ${i} (first defined at instruction ${prev})`,
      );
    }
    labels.set(ins.symbol, i);
  });
  for (const [name, i] of extra ?? []) {
    const prev = labels.get(name);
    if (prev !== undefined && prev !== i) {
      throw new Error(
        `resolve labels: duplicate label "${name}" at instruction ${i} (first defined at instruction ${prev})`,
      );
    }
    if (i < 0 || i > insns.length) {
      throw new Error(
        `resolve labels: label "${name}" points at instruction ${i}, outside 0..${insns.length}`,
      );
    }
    labels.set(name, i);
  }
  const slots = slotOffsets(insns);
  return insns.map((ins, i) => {
    const field = ins.reference === undefined ? undefined : labelField(ins);
    if (field === undefined) return { ...ins };
    const target = labels.get(ins.reference!);
    if (target === undefined) {
      throw new Error(`resolve labels: instruction ${i}: unknown label "${ins.reference}"`);
    }
    const delta = slots[target]! - (slots[i]! + 1);
    if (field === 'off') {
      if (delta < -0x8000 || delta > 0x7fff) {
        throw new Error(
          `resolve labels: instruction ${i}: jump to "${ins.reference}" is ${delta} slots, outside the 16-bit offset range`,
        );
      }
      return { ...ins, off: delta };
    }
    if (delta < -0x80000000 || delta > 0x7fffffff) {
      throw new Error(
        `resolve labels: instruction ${i}: reference to "${ins.reference}" is ${delta} slots, outside the 32-bit range`,
      );
    }
    return { ...ins, imm: BigInt(delta) };
  });
}
