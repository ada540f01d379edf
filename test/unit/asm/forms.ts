// Every instruction form the ISA defines, as a shared fixture for the round-trip tests.
import { insn, type Instruction } from '../../../src/bpf/asm/instruction.js';
import {
  AluOp,
  AtomicOp,
  Class,
  JmpOp,
  Mode,
  Op,
  Size,
  Source,
} from '../../../src/bpf/asm/opcodes.js';

/** One instance of each instruction form, with non-trivial operands. */
export function allForms(): Instruction[] {
  const out: Instruction[] = [];
  for (const cls of [Class.ALU, Class.ALU64]) {
    for (const op of [
      AluOp.ADD,
      AluOp.SUB,
      AluOp.MUL,
      AluOp.DIV,
      AluOp.OR,
      AluOp.AND,
      AluOp.LSH,
      AluOp.RSH,
      AluOp.MOD,
      AluOp.XOR,
      AluOp.MOV,
      AluOp.ARSH,
    ]) {
      out.push(insn(cls | op | Source.K, 1, 0, 0, -7));
      out.push(insn(cls | op | Source.X, 3, 9, 0, 0));
    }
    out.push(insn(cls | AluOp.NEG, 4));
    for (const op of [AluOp.DIV, AluOp.MOD]) {
      out.push(insn(cls | op | Source.K, 2, 0, 1, 3));
      out.push(insn(cls | op | Source.X, 2, 5, 1, 0));
    }
    for (const bits of cls === Class.ALU ? [8, 16] : [8, 16, 32]) {
      out.push(insn(cls | AluOp.MOV | Source.X, 6, 7, bits, 0));
    }
  }
  for (const bits of [16, 32, 64]) {
    out.push(insn(Class.ALU | AluOp.END | Source.K, 1, 0, 0, bits));
    out.push(insn(Class.ALU | AluOp.END | Source.X, 2, 0, 0, bits));
    out.push(insn(Op.BSWAP, 3, 0, 0, bits));
  }
  for (const cls of [Class.JMP, Class.JMP32]) {
    for (const op of [
      JmpOp.JEQ,
      JmpOp.JGT,
      JmpOp.JGE,
      JmpOp.JSET,
      JmpOp.JNE,
      JmpOp.JSGT,
      JmpOp.JSGE,
      JmpOp.JLT,
      JmpOp.JLE,
      JmpOp.JSLT,
      JmpOp.JSLE,
    ]) {
      out.push(insn(cls | op | Source.K, 1, 0, 5, -3));
      out.push(insn(cls | op | Source.X, 1, 2, -4, 0));
    }
  }
  out.push(insn(Op.JA, 0, 0, -32768), insn(Op.JA, 0, 0, 32767), insn(Op.JA32, 0, 0, 0, 100000));
  out.push(insn(Op.CALL, 0, 0, 0, 1), insn(Op.CALL, 0, 1, 0, -5), insn(Op.CALL, 0, 2, 0, 4242));
  out.push(insn(Op.CALLX, 3), insn(Op.EXIT));
  for (const size of [Size.B, Size.H, Size.W, Size.DW]) {
    out.push(insn(Class.LD | Mode.ABS | size, 0, 0, 0, 12));
    out.push(insn(Class.LD | Mode.IND | size, 0, 7, 0, 0));
    out.push(insn(Class.LD | Mode.IND | size, 0, 7, 0, -2));
    out.push(insn(Class.LDX | Mode.MEM | size, 1, 10, -8, 0));
    out.push(insn(Class.ST | Mode.MEM | size, 10, 0, -16, -1));
    out.push(insn(Class.STX | Mode.MEM | size, 10, 1, 32767, 0));
    if (size !== Size.DW) out.push(insn(Class.LDX | Mode.MEMSX | size, 2, 1, 6, 0));
    out.push(insn(Class.STX | Mode.ATOMIC | size, 0, 1, 0, AtomicOp.LOAD_ACQ));
    out.push(insn(Class.STX | Mode.ATOMIC | size, 1, 2, 8, AtomicOp.STORE_REL));
  }
  for (const size of [Size.W, Size.DW]) {
    for (const op of [AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR]) {
      out.push(insn(Class.STX | Mode.ATOMIC | size, 1, 2, -8, op));
      out.push(insn(Class.STX | Mode.ATOMIC | size, 1, 2, -8, op | AtomicOp.FETCH));
    }
    out.push(insn(Class.STX | Mode.ATOMIC | size, 1, 2, 4, AtomicOp.XCHG));
    out.push(insn(Class.STX | Mode.ATOMIC | size, 1, 2, 4, AtomicOp.CMPXCHG));
  }
  for (const v of [
    0n,
    -1n,
    0x1122334455667788n,
    0x80000000n,
    -0x80000000n,
    -(1n << 63n),
    (1n << 63n) - 1n,
  ]) {
    out.push(insn(Op.LD_IMM64, 1, 0, 0, v));
  }
  for (let src = 1; src <= 6; src++) out.push(insn(Op.LD_IMM64, 2, src, 0, 5));
  out.push(insn(Op.LD_IMM64, 2, 2, 0, (8n << 32n) | 3n));
  return out;
}
