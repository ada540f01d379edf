/**
 * eBPF opcode fields (RFC 9669 section 3). The opcode byte is split three ways depending on the
 * class: ALU/JMP use op(4) | source(1) | class(3); loads and stores use mode(3) | size(2) | class(3).
 */

/** Instruction classes: the low three bits of the opcode. */
export const Class = {
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
} as const;
/** One of the {@link Class} values. */
export type Class = (typeof Class)[keyof typeof Class];

/** ALU operations: the high four bits of an ALU/ALU64 opcode. */
export const AluOp = {
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  MOV: 0xb0,
  ARSH: 0xc0,
  END: 0xd0,
} as const;
/** One of the {@link AluOp} values. */
export type AluOp = (typeof AluOp)[keyof typeof AluOp];

/** Jump operations: the high four bits of a JMP/JMP32 opcode. */
export const JmpOp = {
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  JNE: 0x50,
  JSGT: 0x60,
  JSGE: 0x70,
  CALL: 0x80,
  EXIT: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
  JSLT: 0xc0,
  JSLE: 0xd0,
} as const;
/** One of the {@link JmpOp} values. */
export type JmpOp = (typeof JmpOp)[keyof typeof JmpOp];

/**
 * Operand source bit of ALU and jump opcodes. For END (byte swap) the same bit selects the target
 * byte order: K means to little endian, X to big endian.
 */
export const Source = { K: 0x00, X: 0x08 } as const;
/** One of the {@link Source} values. */
export type Source = (typeof Source)[keyof typeof Source];

/** Byte-order selectors of the END operation (aliases of {@link Source}). */
export const Endian = { TO_LE: 0x00, TO_BE: 0x08 } as const;

/** Addressing modes of load and store opcodes. */
export const Mode = {
  IMM: 0x00,
  ABS: 0x20,
  IND: 0x40,
  MEM: 0x60,
  MEMSX: 0x80,
  ATOMIC: 0xc0,
} as const;
/** One of the {@link Mode} values. */
export type Mode = (typeof Mode)[keyof typeof Mode];

/** Access sizes of load and store opcodes. */
export const Size = { W: 0x00, H: 0x08, B: 0x10, DW: 0x18 } as const;
/** One of the {@link Size} values. */
export type Size = (typeof Size)[keyof typeof Size];

/** Width in bytes of each access size. */
export function sizeBytes(size: number): 1 | 2 | 4 | 8 {
  switch (size & 0x18) {
    case Size.B:
      return 1;
    case Size.H:
      return 2;
    case Size.W:
      return 4;
    default:
      return 8;
  }
}

/** Atomic operations, carried in the imm field of a BPF_STX | BPF_ATOMIC instruction. */
export const AtomicOp = {
  ADD: 0x00,
  OR: 0x40,
  AND: 0x50,
  XOR: 0xa0,
  /** Flag: return the old value in the source register. */
  FETCH: 0x01,
  XCHG: 0xe0 | 0x01,
  CMPXCHG: 0xf0 | 0x01,
  /** Kernel 6.15+: acquire load, dst = *(src + off). */
  LOAD_ACQ: 0x100,
  /** Kernel 6.15+: release store, *(dst + off) = src. */
  STORE_REL: 0x110,
} as const;

/** The instruction's class. */
export function classOf(code: number): Class {
  return (code & 0x07) as Class;
}

/** True for ALU and ALU64. */
export function isAlu(code: number): boolean {
  const c = code & 0x07;
  return c === Class.ALU || c === Class.ALU64;
}

/** True for JMP and JMP32. */
export function isJmp(code: number): boolean {
  const c = code & 0x07;
  return c === Class.JMP || c === Class.JMP32;
}

/** Frequently used complete opcodes. */
export const Op = {
  LD_IMM64: Class.LD | Mode.IMM | Size.DW,
  CALL: Class.JMP | JmpOp.CALL | Source.K,
  CALLX: Class.JMP | JmpOp.CALL | Source.X,
  EXIT: Class.JMP | JmpOp.EXIT,
  JA: Class.JMP | JmpOp.JA,
  /** JMP32 | JA: unconditional jump with a 32-bit offset in imm ("gotol"). */
  JA32: Class.JMP32 | JmpOp.JA,
  /** ALU64 | END | K: unconditional byte swap (bswap16/32/64). */
  BSWAP: Class.ALU64 | AluOp.END | Source.K,
} as const;

/** Register numbers. R10 is the read-only frame pointer. */
export const R0 = 0;
/** Register 1: first argument. */
export const R1 = 1;
/** Register 2. */
export const R2 = 2;
/** Register 3. */
export const R3 = 3;
/** Register 4. */
export const R4 = 4;
/** Register 5: last argument. */
export const R5 = 5;
/** Register 6: first callee-saved register. */
export const R6 = 6;
/** Register 7. */
export const R7 = 7;
/** Register 8. */
export const R8 = 8;
/** Register 9. */
export const R9 = 9;
/** Register 10: frame pointer. */
export const R10 = 10;
/** Alias of R10. */
export const RFP = 10;
/** A register number 0..10. */
export type Register = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
