/**
 * Typed instruction builder. Argument order follows the kernel's BPF_* macros: loads are
 * (dst, src, off), register stores (dst, src, off), immediate stores (dst, off, imm). Jump
 * targets are either a slot offset or a label name, resolved by {@link resolveLabels}.
 */
import { helperId } from './helpers.js';
import { insn, type Instruction } from './instruction.js';
import { resolveLabels } from './labels.js';
import { AluOp, AtomicOp, Class, JmpOp, Mode, Op, Size, Source } from './opcodes.js';
import { PSEUDO_CALL, PSEUDO_FUNC, PSEUDO_MAP_FD, PSEUDO_MAP_VALUE } from './raw.js';

export { resolveLabels } from './labels.js';

/** A jump target: a slot offset relative to the next instruction, or a label name. */
export type Target = number | string;

function r(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 10) throw new Error(`${what}: bad register ${n}`);
  return n;
}

function withTarget(ins: Instruction, t: Target, field: 'off' | 'imm'): Instruction {
  if (typeof t === 'string') {
    ins.reference = t;
    return ins;
  }
  if (field === 'off') ins.off = t;
  else ins.imm = BigInt(t);
  return ins;
}

function alu(cls: number, op: number, off = 0) {
  return {
    imm: (dst: number, imm: number | bigint): Instruction =>
      insn(cls | op | Source.K, r(dst, 'alu'), 0, off, BigInt(imm)),
    reg: (dst: number, src: number): Instruction =>
      insn(cls | op | Source.X, r(dst, 'alu'), r(src, 'alu'), off),
  };
}

const A64 = Class.ALU64;
const A32 = Class.ALU;

/** dst += imm (64-bit). */
export const add64 = alu(A64, AluOp.ADD).imm;
/** dst += src (64-bit). */
export const add64Reg = alu(A64, AluOp.ADD).reg;
/** dst -= imm. */
export const sub64 = alu(A64, AluOp.SUB).imm;
/** dst -= src. */
export const sub64Reg = alu(A64, AluOp.SUB).reg;
/** dst *= imm. */
export const mul64 = alu(A64, AluOp.MUL).imm;
/** dst *= src. */
export const mul64Reg = alu(A64, AluOp.MUL).reg;
/** dst /= imm (unsigned). */
export const div64 = alu(A64, AluOp.DIV).imm;
/** dst /= src (unsigned). */
export const div64Reg = alu(A64, AluOp.DIV).reg;
/** dst s/= imm (signed, ISA v4). */
export const sdiv64 = alu(A64, AluOp.DIV, 1).imm;
/** dst s/= src (signed, ISA v4). */
export const sdiv64Reg = alu(A64, AluOp.DIV, 1).reg;
/** dst %= imm. */
export const mod64 = alu(A64, AluOp.MOD).imm;
/** dst %= src. */
export const mod64Reg = alu(A64, AluOp.MOD).reg;
/** dst s%= imm (ISA v4). */
export const smod64 = alu(A64, AluOp.MOD, 1).imm;
/** dst s%= src (ISA v4). */
export const smod64Reg = alu(A64, AluOp.MOD, 1).reg;
/** dst |= imm. */
export const or64 = alu(A64, AluOp.OR).imm;
/** dst |= src. */
export const or64Reg = alu(A64, AluOp.OR).reg;
/** dst &= imm. */
export const and64 = alu(A64, AluOp.AND).imm;
/** dst &= src. */
export const and64Reg = alu(A64, AluOp.AND).reg;
/** dst <<= imm. */
export const lsh64 = alu(A64, AluOp.LSH).imm;
/** dst <<= src. */
export const lsh64Reg = alu(A64, AluOp.LSH).reg;
/** dst >>= imm (logical). */
export const rsh64 = alu(A64, AluOp.RSH).imm;
/** dst >>= src (logical). */
export const rsh64Reg = alu(A64, AluOp.RSH).reg;
/** dst s>>= imm (arithmetic). */
export const arsh64 = alu(A64, AluOp.ARSH).imm;
/** dst s>>= src (arithmetic). */
export const arsh64Reg = alu(A64, AluOp.ARSH).reg;
/** dst ^= imm. */
export const xor64 = alu(A64, AluOp.XOR).imm;
/** dst ^= src. */
export const xor64Reg = alu(A64, AluOp.XOR).reg;
/** dst = imm (sign-extended 32-bit immediate). */
export const mov64 = alu(A64, AluOp.MOV).imm;
/** dst = src. */
export const mov64Reg = alu(A64, AluOp.MOV).reg;

/** w-register (32-bit) forms; the upper half of dst is zeroed. */
export const add32 = alu(A32, AluOp.ADD).imm;
/** wdst += wsrc. */
export const add32Reg = alu(A32, AluOp.ADD).reg;
/** wdst -= imm. */
export const sub32 = alu(A32, AluOp.SUB).imm;
/** wdst -= wsrc. */
export const sub32Reg = alu(A32, AluOp.SUB).reg;
/** wdst *= imm. */
export const mul32 = alu(A32, AluOp.MUL).imm;
/** wdst *= wsrc. */
export const mul32Reg = alu(A32, AluOp.MUL).reg;
/** wdst /= imm. */
export const div32 = alu(A32, AluOp.DIV).imm;
/** wdst /= wsrc. */
export const div32Reg = alu(A32, AluOp.DIV).reg;
/** wdst s/= imm. */
export const sdiv32 = alu(A32, AluOp.DIV, 1).imm;
/** wdst s/= wsrc. */
export const sdiv32Reg = alu(A32, AluOp.DIV, 1).reg;
/** wdst %= imm. */
export const mod32 = alu(A32, AluOp.MOD).imm;
/** wdst %= wsrc. */
export const mod32Reg = alu(A32, AluOp.MOD).reg;
/** wdst s%= imm. */
export const smod32 = alu(A32, AluOp.MOD, 1).imm;
/** wdst s%= wsrc. */
export const smod32Reg = alu(A32, AluOp.MOD, 1).reg;
/** wdst |= imm. */
export const or32 = alu(A32, AluOp.OR).imm;
/** wdst |= wsrc. */
export const or32Reg = alu(A32, AluOp.OR).reg;
/** wdst &= imm. */
export const and32 = alu(A32, AluOp.AND).imm;
/** wdst &= wsrc. */
export const and32Reg = alu(A32, AluOp.AND).reg;
/** wdst <<= imm. */
export const lsh32 = alu(A32, AluOp.LSH).imm;
/** wdst <<= wsrc. */
export const lsh32Reg = alu(A32, AluOp.LSH).reg;
/** wdst >>= imm. */
export const rsh32 = alu(A32, AluOp.RSH).imm;
/** wdst >>= wsrc. */
export const rsh32Reg = alu(A32, AluOp.RSH).reg;
/** wdst s>>= imm. */
export const arsh32 = alu(A32, AluOp.ARSH).imm;
/** wdst s>>= wsrc. */
export const arsh32Reg = alu(A32, AluOp.ARSH).reg;
/** wdst ^= imm. */
export const xor32 = alu(A32, AluOp.XOR).imm;
/** wdst ^= wsrc. */
export const xor32Reg = alu(A32, AluOp.XOR).reg;
/** wdst = imm. */
export const mov32 = alu(A32, AluOp.MOV).imm;
/** wdst = wsrc. */
export const mov32Reg = alu(A32, AluOp.MOV).reg;

/** dst = -dst (64-bit). */
export function neg64(dst: number): Instruction {
  return insn(A64 | AluOp.NEG, r(dst, 'neg64'));
}
/** wdst = -wdst. */
export function neg32(dst: number): Instruction {
  return insn(A32 | AluOp.NEG, r(dst, 'neg32'));
}
/** dst = (s8|s16|s32) src, sign-extending into 64 bits (ISA v4). */
export function movsx64(dst: number, src: number, bits: 8 | 16 | 32): Instruction {
  return insn(A64 | AluOp.MOV | Source.X, r(dst, 'movsx64'), r(src, 'movsx64'), bits);
}
/** wdst = (s8|s16) wsrc (ISA v4). */
export function movsx32(dst: number, src: number, bits: 8 | 16): Instruction {
  return insn(A32 | AluOp.MOV | Source.X, r(dst, 'movsx32'), r(src, 'movsx32'), bits);
}
/** Convert dst to big endian (a swap on little-endian hosts). */
export function be(dst: number, bits: 16 | 32 | 64): Instruction {
  return insn(A32 | AluOp.END | Source.X, r(dst, 'be'), 0, 0, bits);
}
/** Convert dst to little endian (truncation only on little-endian hosts). */
export function le(dst: number, bits: 16 | 32 | 64): Instruction {
  return insn(A32 | AluOp.END | Source.K, r(dst, 'le'), 0, 0, bits);
}
/** Unconditional byte swap (ALU64 | END, ISA v4). */
export function bswap(dst: number, bits: 16 | 32 | 64): Instruction {
  return insn(Op.BSWAP, r(dst, 'bswap'), 0, 0, bits);
}

function ldx(size: number, mode: number) {
  return (dst: number, src: number, off = 0): Instruction =>
    insn(Class.LDX | mode | size, r(dst, 'ldx'), r(src, 'ldx'), off);
}
function stx(size: number) {
  return (dst: number, src: number, off = 0): Instruction =>
    insn(Class.STX | Mode.MEM | size, r(dst, 'stx'), r(src, 'stx'), off);
}
function st(size: number) {
  return (dst: number, off: number, imm: number | bigint): Instruction =>
    insn(Class.ST | Mode.MEM | size, r(dst, 'st'), 0, off, BigInt(imm));
}

/** dst = *(u8 *)(src + off). */
export const ldxb = ldx(Size.B, Mode.MEM);
/** dst = *(u16 *)(src + off). */
export const ldxh = ldx(Size.H, Mode.MEM);
/** dst = *(u32 *)(src + off). */
export const ldxw = ldx(Size.W, Mode.MEM);
/** dst = *(u64 *)(src + off). */
export const ldxdw = ldx(Size.DW, Mode.MEM);
/** dst = *(s8 *)(src + off), sign-extended (ISA v4). */
export const ldxsb = ldx(Size.B, Mode.MEMSX);
/** dst = *(s16 *)(src + off). */
export const ldxsh = ldx(Size.H, Mode.MEMSX);
/** dst = *(s32 *)(src + off). */
export const ldxsw = ldx(Size.W, Mode.MEMSX);
/** *(u8 *)(dst + off) = src. */
export const stxb = stx(Size.B);
/** *(u16 *)(dst + off) = src. */
export const stxh = stx(Size.H);
/** *(u32 *)(dst + off) = src. */
export const stxw = stx(Size.W);
/** *(u64 *)(dst + off) = src. */
export const stxdw = stx(Size.DW);
/** *(u8 *)(dst + off) = imm. */
export const stb = st(Size.B);
/** *(u16 *)(dst + off) = imm. */
export const sth = st(Size.H);
/** *(u32 *)(dst + off) = imm. */
export const stw = st(Size.W);
/** *(u64 *)(dst + off) = imm (sign-extended). */
export const stdw = st(Size.DW);

/** Atomic read-modify-write of the 32- or 64-bit word at dst + off with src (see {@link AtomicOp}). */
export function atomic(
  size: typeof Size.W | typeof Size.DW,
  op: number,
  dst: number,
  src: number,
  off = 0,
): Instruction {
  return insn(Class.STX | Mode.ATOMIC | size, r(dst, 'atomic'), r(src, 'atomic'), off, op);
}
/** lock *(u64 *)(dst + off) += src. */
export function atomicAdd64(dst: number, src: number, off = 0): Instruction {
  return atomic(Size.DW, AtomicOp.ADD, dst, src, off);
}
/** lock *(u32 *)(dst + off) += src. */
export function atomicAdd32(dst: number, src: number, off = 0): Instruction {
  return atomic(Size.W, AtomicOp.ADD, dst, src, off);
}
/** src = atomic_fetch_add((u64 *)(dst + off), src). */
export function atomicFetchAdd64(dst: number, src: number, off = 0): Instruction {
  return atomic(Size.DW, AtomicOp.ADD | AtomicOp.FETCH, dst, src, off);
}
/** src = xchg_64(dst + off, src). */
export function atomicXchg64(dst: number, src: number, off = 0): Instruction {
  return atomic(Size.DW, AtomicOp.XCHG, dst, src, off);
}
/** r0 = cmpxchg_64(dst + off, r0, src). */
export function atomicCmpXchg64(dst: number, src: number, off = 0): Instruction {
  return atomic(Size.DW, AtomicOp.CMPXCHG, dst, src, off);
}

function jmp(cls: number, op: number) {
  return {
    imm: (dst: number, imm: number | bigint, t: Target): Instruction =>
      withTarget(insn(cls | op | Source.K, r(dst, 'jump'), 0, 0, BigInt(imm)), t, 'off'),
    reg: (dst: number, src: number, t: Target): Instruction =>
      withTarget(insn(cls | op | Source.X, r(dst, 'jump'), r(src, 'jump')), t, 'off'),
  };
}
const J = Class.JMP;
const J32 = Class.JMP32;

/** if dst == imm goto target. */
export const jeq = jmp(J, JmpOp.JEQ).imm;
/** if dst == src goto target. */
export const jeqReg = jmp(J, JmpOp.JEQ).reg;
/** if dst != imm goto target. */
export const jne = jmp(J, JmpOp.JNE).imm;
/** if dst != src goto target. */
export const jneReg = jmp(J, JmpOp.JNE).reg;
/** if dst > imm (unsigned) goto target. */
export const jgt = jmp(J, JmpOp.JGT).imm;
/** if dst > src (unsigned). */
export const jgtReg = jmp(J, JmpOp.JGT).reg;
/** if dst >= imm (unsigned). */
export const jge = jmp(J, JmpOp.JGE).imm;
/** if dst >= src (unsigned). */
export const jgeReg = jmp(J, JmpOp.JGE).reg;
/** if dst < imm (unsigned). */
export const jlt = jmp(J, JmpOp.JLT).imm;
/** if dst < src (unsigned). */
export const jltReg = jmp(J, JmpOp.JLT).reg;
/** if dst <= imm (unsigned). */
export const jle = jmp(J, JmpOp.JLE).imm;
/** if dst <= src (unsigned). */
export const jleReg = jmp(J, JmpOp.JLE).reg;
/** if dst & imm. */
export const jset = jmp(J, JmpOp.JSET).imm;
/** if dst & src. */
export const jsetReg = jmp(J, JmpOp.JSET).reg;
/** if dst s> imm. */
export const jsgt = jmp(J, JmpOp.JSGT).imm;
/** if dst s> src. */
export const jsgtReg = jmp(J, JmpOp.JSGT).reg;
/** if dst s>= imm. */
export const jsge = jmp(J, JmpOp.JSGE).imm;
/** if dst s>= src. */
export const jsgeReg = jmp(J, JmpOp.JSGE).reg;
/** if dst s< imm. */
export const jslt = jmp(J, JmpOp.JSLT).imm;
/** if dst s< src. */
export const jsltReg = jmp(J, JmpOp.JSLT).reg;
/** if dst s<= imm. */
export const jsle = jmp(J, JmpOp.JSLE).imm;
/** if dst s<= src. */
export const jsleReg = jmp(J, JmpOp.JSLE).reg;
/** if wdst == imm (32-bit compare). */
export const jeq32 = jmp(J32, JmpOp.JEQ).imm;
/** if wdst == wsrc. */
export const jeq32Reg = jmp(J32, JmpOp.JEQ).reg;
/** if wdst != imm. */
export const jne32 = jmp(J32, JmpOp.JNE).imm;
/** if wdst != wsrc. */
export const jne32Reg = jmp(J32, JmpOp.JNE).reg;
/** if wdst > imm. */
export const jgt32 = jmp(J32, JmpOp.JGT).imm;
/** if wdst > wsrc. */
export const jgt32Reg = jmp(J32, JmpOp.JGT).reg;
/** if wdst < imm. */
export const jlt32 = jmp(J32, JmpOp.JLT).imm;
/** if wdst < wsrc. */
export const jlt32Reg = jmp(J32, JmpOp.JLT).reg;
/** if wdst s< imm. */
export const jslt32 = jmp(J32, JmpOp.JSLT).imm;
/** if wdst s> imm. */
export const jsgt32 = jmp(J32, JmpOp.JSGT).imm;

/** goto target (16-bit offset). */
export function ja(t: Target): Instruction {
  return withTarget(insn(Op.JA), t, 'off');
}
/** gotol target (JMP32 | JA, 32-bit offset in imm; ISA v4). */
export function ja32(t: Target): Instruction {
  return withTarget(insn(Op.JA32), t, 'imm');
}
/** Calls a helper by id or by name (`'map_lookup_elem'` or `'bpf_map_lookup_elem'`). */
export function call(helper: number | string): Instruction {
  const id = typeof helper === 'number' ? helper : helperId(helper);
  if (id === undefined) throw new Error(`call: unknown helper "${helper}"`);
  return insn(Op.CALL, 0, 0, 0, id);
}
/** bpf-to-bpf call to a label or function name (or a slot offset). */
export function callLocal(fn: Target): Instruction {
  return withTarget(insn(Op.CALL, 0, PSEUDO_CALL), fn, 'imm');
}
/** Indirect call through a register (BPF_CALLX; register in dst, as the kernel defines it). */
export function callx(reg: number): Instruction {
  return insn(Op.CALLX, r(reg, 'callx'));
}
/** Returns r0. */
export function exit(): Instruction {
  return insn(Op.EXIT);
}
/** dst = 64-bit immediate (ld_imm64, two slots). */
export function ldImm64(dst: number, value: number | bigint): Instruction {
  const v = BigInt(value);
  if (v < -(1n << 63n) || v >= 1n << 64n) throw new Error(`ldImm64: ${v} does not fit in 64 bits`);
  return insn(Op.LD_IMM64, r(dst, 'ldImm64'), 0, 0, BigInt.asIntN(64, v));
}
/** dst = pointer to map `name` (src = BPF_PSEUDO_MAP_FD; the loader fills in the fd). */
export function ldMapFd(dst: number, name: string): Instruction {
  return { ...insn(Op.LD_IMM64, r(dst, 'ldMapFd'), PSEUDO_MAP_FD), reference: name };
}
/** dst = address of byte `off` in map `name`'s value (BPF_PSEUDO_MAP_VALUE; offset in the high word). */
export function ldMapValue(dst: number, name: string, off = 0): Instruction {
  if (!Number.isInteger(off) || off < 0 || off > 0xffffffff)
    throw new Error(`ldMapValue: bad offset ${off}`);
  return {
    ...insn(
      Op.LD_IMM64,
      r(dst, 'ldMapValue'),
      PSEUDO_MAP_VALUE,
      0,
      BigInt.asIntN(64, BigInt(off) << 32n),
    ),
    reference: name,
  };
}
/** dst = pointer to function `fn` (BPF_PSEUDO_FUNC; for bpf_loop and friends). */
export function ldFunc(dst: number, fn: string): Instruction {
  return { ...insn(Op.LD_IMM64, r(dst, 'ldFunc'), PSEUDO_FUNC), reference: fn };
}
/** Legacy packet load r0 = *(size *)skb[imm]. */
export function ldAbs(
  size: typeof Size.B | typeof Size.H | typeof Size.W,
  imm: number,
): Instruction {
  return insn(Class.LD | Mode.ABS | size, 0, 0, 0, imm);
}
/** Legacy packet load r0 = *(size *)skb[src + imm]. */
export function ldInd(
  size: typeof Size.B | typeof Size.H | typeof Size.W,
  src: number,
  imm = 0,
): Instruction {
  return insn(Class.LD | Mode.IND | size, 0, r(src, 'ldInd'), 0, imm);
}

/** Marks `ins` as the start of label or function `name`. */
export function label(name: string, ins: Instruction): Instruction {
  return { ...ins, symbol: name };
}

/**
 * Accumulates instructions with labels. `label()` names the next instruction emitted (several
 * labels may name the same one); `build()` resolves jumps and local calls.
 */
export class Program {
  private readonly insns: Instruction[] = [];
  private readonly labels = new Map<string, number>();

  /** Appends instructions. */
  emit(...insns: Instruction[]): this {
    for (const i of insns) this.insns.push({ ...i });
    return this;
  }

  /** Names the next instruction. Throws when the name is already used. */
  label(name: string): this {
    if (this.labels.has(name)) throw new Error(`program: duplicate label "${name}"`);
    this.labels.set(name, this.insns.length);
    return this;
  }

  /** Instructions so far, labels applied as `symbol` and references resolved. */
  build(): Instruction[] {
    const out = this.insns.map((i) => ({ ...i }));
    for (const [name, i] of this.labels) {
      const ins = out[i];
      if (ins !== undefined && ins.symbol === undefined) ins.symbol = name;
    }
    return resolveLabels(out, this.labels);
  }
}
