/**
 * The instruction model: one {@link Instruction} per logical instruction, so a 64-bit immediate
 * load is a single value even though it occupies two 8-byte slots. Offsets in jumps and calls stay
 * counted in slots, as the kernel counts them.
 */
import { INSN_SIZE, OP_LD_IMM64, type RawInsn } from './raw.js';

/** Where an instruction came from in the C source (from BTF line_info or DWARF). */
export interface SourceLine {
  file: string;
  /** The text of the source line. */
  line: string;
  lineNum: number;
  col: number;
}

/** One eBPF instruction. */
export interface Instruction {
  /** Opcode byte. */
  code: number;
  /** Destination register, 0..15 (only 0..10 are valid for the kernel). */
  dst: number;
  /** Source register, 0..15; for ld_imm64 and calls it carries a BPF_PSEUDO_* kind instead. */
  src: number;
  /** Signed 16-bit offset. */
  off: number;
  /**
   * Immediate. Sign-extended 32-bit value for ordinary instructions; for ld_imm64 the full
   * 64-bit value (low half from the first slot, high half from the second), as a signed int64.
   */
  imm: bigint;
  /** Label or function name that starts at this instruction. */
  symbol?: string;
  /** Symbol this instruction refers to: a map name for map loads, a function or label for calls and jumps. */
  reference?: string;
  /** Source line this instruction was compiled from. */
  source?: SourceLine;
}

/** Number of 8-byte slots an instruction takes: 2 for ld_imm64, otherwise 1. */
export function slotCount(ins: Pick<Instruction, 'code'>): 1 | 2 {
  return ins.code === OP_LD_IMM64 ? 2 : 1;
}

/** Slot index at which each instruction starts, plus the total as the last element. */
export function slotOffsets(insns: readonly Pick<Instruction, 'code'>[]): number[] {
  const out = new Array<number>(insns.length + 1);
  let s = 0;
  for (let i = 0; i < insns.length; i++) {
    out[i] = s;
    s += slotCount(insns[i]!);
  }
  out[insns.length] = s;
  return out;
}

/** Builds an instruction; `imm` may be a number for convenience. */
export function insn(
  code: number,
  dst = 0,
  src = 0,
  off = 0,
  imm: bigint | number = 0n,
): Instruction {
  return { code, dst, src, off, imm: BigInt(imm) };
}

/** Splits instructions into raw slots. Throws on fields that do not fit their encoding. */
export function toRawSlots(insns: readonly Instruction[]): RawInsn[] {
  const out: RawInsn[] = [];
  insns.forEach((ins, i) => {
    const where = `encode instruction ${i} (slot ${out.length})`;
    checkField(where, 'code', ins.code, 0, 0xff);
    checkField(where, 'dst', ins.dst, 0, 15);
    checkField(where, 'src', ins.src, 0, 15);
    checkField(where, 'off', ins.off, -0x8000, 0x7fff);
    if (typeof ins.imm !== 'bigint') {
      throw new Error(`${where}: imm must be a bigint, got ${typeof ins.imm}`);
    }
    if (ins.code === OP_LD_IMM64) {
      if (ins.imm < -(1n << 63n) || ins.imm >= 1n << 64n) {
        throw new Error(`${where}: imm ${ins.imm} does not fit in 64 bits`);
      }
      const v = BigInt.asUintN(64, ins.imm);
      out.push({
        code: ins.code,
        dst: ins.dst,
        src: ins.src,
        off: ins.off,
        imm: Number(BigInt.asIntN(32, v)),
      });
      out.push({ code: 0, dst: 0, src: 0, off: 0, imm: Number(BigInt.asIntN(32, v >> 32n)) });
    } else {
      if (ins.imm < -(1n << 31n) || ins.imm >= 1n << 32n) {
        throw new Error(`${where}: imm ${ins.imm} does not fit in 32 bits`);
      }
      out.push({
        code: ins.code,
        dst: ins.dst,
        src: ins.src,
        off: ins.off,
        imm: Number(BigInt.asIntN(32, ins.imm)),
      });
    }
  });
  return out;
}

function checkField(where: string, name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new Error(`${where}: ${name} ${v} out of range ${lo}..${hi}`);
  }
}

/**
 * Joins raw slots into instructions. Throws, naming the byte offset, when an ld_imm64 lacks its
 * second slot or that slot has anything but an immediate (the kernel rejects both).
 */
export function fromRawSlots(raw: readonly RawInsn[]): Instruction[] {
  const out: Instruction[] = [];
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i]!;
    if (r.code === OP_LD_IMM64) {
      const next = raw[i + 1];
      if (next === undefined) {
        throw new Error(
          `decode instructions: byte offset ${i * INSN_SIZE}: ld_imm64 truncated (missing second slot)`,
        );
      }
      if (next.code !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0) {
        throw new Error(
          `decode instructions: byte offset ${(i + 1) * INSN_SIZE}: second slot of ld_imm64 must be zero except imm`,
        );
      }
      const v = (BigInt(next.imm >>> 0) << 32n) | BigInt(r.imm >>> 0);
      out.push({ code: r.code, dst: r.dst, src: r.src, off: r.off, imm: BigInt.asIntN(64, v) });
      i++;
    } else {
      out.push({ code: r.code, dst: r.dst, src: r.src, off: r.off, imm: BigInt(r.imm | 0) });
    }
  }
  return out;
}

/** Decodes little-endian instruction bytes. Throws with the byte offset on malformed input. */
export function decodeInstructions(bytes: Uint8Array): Instruction[] {
  if (bytes.byteLength % INSN_SIZE !== 0) {
    const at = bytes.byteLength - (bytes.byteLength % INSN_SIZE);
    throw new Error(
      `decode instructions: byte offset ${at}: trailing ${bytes.byteLength % INSN_SIZE} bytes (length ${bytes.byteLength} is not a multiple of ${INSN_SIZE})`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const raw: RawInsn[] = new Array(bytes.byteLength / INSN_SIZE);
  for (let i = 0; i < raw.length; i++) {
    const o = i * INSN_SIZE;
    const regs = dv.getUint8(o + 1);
    raw[i] = {
      code: dv.getUint8(o),
      dst: regs & 0x0f,
      src: regs >> 4,
      off: dv.getInt16(o + 2, true),
      imm: dv.getInt32(o + 4, true),
    };
  }
  return fromRawSlots(raw);
}

/** Encodes instructions as little-endian bytes. */
export function encodeInstructions(insns: readonly Instruction[]): Uint8Array {
  const slots = toRawSlots(insns);
  const out = new Uint8Array(slots.length * INSN_SIZE);
  const dv = new DataView(out.buffer);
  slots.forEach((s, i) => {
    const o = i * INSN_SIZE;
    dv.setUint8(o, s.code);
    dv.setUint8(o + 1, (s.src << 4) | s.dst);
    dv.setInt16(o + 2, s.off, true);
    dv.setInt32(o + 4, s.imm, true);
  });
  return out;
}

/** Encodes instructions as 64-bit words, the way bpf_conformance's `-- raw` sections write them. */
export function toWords(insns: readonly Instruction[]): bigint[] {
  const bytes = encodeInstructions(insns);
  const dv = new DataView(bytes.buffer);
  const out: bigint[] = [];
  for (let o = 0; o < bytes.byteLength; o += INSN_SIZE) out.push(dv.getBigUint64(o, true));
  return out;
}

/** Decodes 64-bit words (little-endian slot layout) into instructions. */
export function fromWords(words: readonly bigint[]): Instruction[] {
  const bytes = new Uint8Array(words.length * INSN_SIZE);
  const dv = new DataView(bytes.buffer);
  words.forEach((w, i) => dv.setBigUint64(i * INSN_SIZE, BigInt.asUintN(64, w), true));
  return decodeInstructions(bytes);
}
