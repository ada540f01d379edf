/**
 * Raw instruction slots: the 8-byte `struct bpf_insn` as the kernel sees it. A 64-bit
 * immediate load (ld_imm64) takes two slots; the loader works on slots because ELF relocations
 * and call offsets are counted in them.
 */

/** One 8-byte instruction slot. `imm` is a signed 32-bit value. */
export interface RawInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** Size of one slot in bytes. */
export const INSN_SIZE = 8;

/** Opcode of the first slot of a 64-bit immediate load (BPF_LD | BPF_IMM | BPF_DW). */
export const OP_LD_IMM64 = 0x18;
/** Opcode of a call (BPF_JMP | BPF_CALL). */
export const OP_CALL = 0x85;
/** Opcode of exit (BPF_JMP | BPF_EXIT). */
export const OP_EXIT = 0x95;

/** ld_imm64 src_reg: imm is a map fd (BPF_PSEUDO_MAP_FD). */
export const PSEUDO_MAP_FD = 1;
/** ld_imm64 src_reg: a pointer into a map's value, fd in slot 1 and offset in slot 2. */
export const PSEUDO_MAP_VALUE = 2;
/** ld_imm64 src_reg: imm is a kernel BTF id of a variable (typed ksym). */
export const PSEUDO_BTF_ID = 3;
/** ld_imm64 src_reg: imm is the relative offset of a function (callbacks). */
export const PSEUDO_FUNC = 4;
/** ld_imm64 src_reg: imm indexes fd_array for a map. */
export const PSEUDO_MAP_IDX = 5;
/** ld_imm64 src_reg: a map value pointer, map from fd_array. */
export const PSEUDO_MAP_IDX_VALUE = 6;
/** call src_reg: a bpf-to-bpf call, imm is the relative offset of the callee. */
export const PSEUDO_CALL = 1;
/** call src_reg: a kfunc call, imm is the kernel BTF id of the function. */
export const PSEUDO_KFUNC_CALL = 2;

/** Decodes little-endian instruction bytes into slots. Throws when the length is not a multiple of 8. */
export function decodeRaw(bytes: Uint8Array): RawInsn[] {
  if (bytes.byteLength % INSN_SIZE !== 0) {
    throw new Error(
      `instruction bytes: length ${bytes.byteLength} is not a multiple of ${INSN_SIZE}`,
    );
  }
  // Byte arithmetic rather than a DataView: the loader decodes every program on every load.
  const out: RawInsn[] = new Array<RawInsn>(bytes.byteLength / INSN_SIZE);
  for (let i = 0; i < out.length; i++) {
    const o = i * INSN_SIZE;
    const regs = bytes[o + 1]!;
    out[i] = {
      code: bytes[o]!,
      dst: regs & 0x0f,
      src: regs >> 4,
      off: ((bytes[o + 2]! | (bytes[o + 3]! << 8)) << 16) >> 16,
      imm: readInsnImm(bytes, o),
    };
  }
  return out;
}

/**
 * Decodes instruction slots held as 32-bit words (two per slot, as a Uint32Array view of the
 * bytes would read them on a little-endian host; signed or not): the same slots as
 * {@link decodeRaw} of those bytes.
 */
export function decodeWords(w: readonly number[]): RawInsn[] {
  const out = new Array<RawInsn>(w.length >> 1);
  for (let i = 0; i < out.length; i++) {
    const lo = w[2 * i]!;
    out[i] = {
      code: lo & 0xff,
      dst: (lo >> 8) & 0x0f,
      src: (lo >> 12) & 0x0f,
      off: lo >> 16,
      imm: w[2 * i + 1]! | 0,
    };
  }
  return out;
}

/** Encodes slots as little-endian bytes. */
export function encodeRaw(insns: readonly RawInsn[]): Uint8Array {
  const out = new Uint8Array(insns.length * INSN_SIZE);
  encodeRawInto(out, 0, insns);
  return out;
}

/** Encodes slots as little-endian bytes into `out` at byte offset `off` (no allocation). */
export function encodeRawInto(out: Uint8Array, off: number, insns: readonly RawInsn[]): void {
  for (let i = 0; i < insns.length; i++) {
    const ins = insns[i]!;
    const o = off + i * INSN_SIZE;
    out[o] = ins.code;
    out[o + 1] = ((ins.src & 0x0f) << 4) | (ins.dst & 0x0f);
    out[o + 2] = ins.off & 0xff;
    out[o + 3] = (ins.off >> 8) & 0xff;
    writeInsnImm(out, o, ins.imm);
  }
}

/** The signed 32-bit immediate of the encoded instruction at byte offset `o` of `b`. */
export function readInsnImm(b: Uint8Array, o: number): number {
  return b[o + 4]! | (b[o + 5]! << 8) | (b[o + 6]! << 16) | (b[o + 7]! << 24);
}

/** Sets the immediate of the encoded instruction at byte offset `o` of `b`. */
export function writeInsnImm(b: Uint8Array, o: number, imm: number): void {
  b[o + 4] = imm & 0xff;
  b[o + 5] = (imm >> 8) & 0xff;
  b[o + 6] = (imm >> 16) & 0xff;
  b[o + 7] = (imm >>> 24) & 0xff;
}

/** Sets the source register of the encoded instruction at byte offset `o` of `b`. */
export function writeInsnSrc(b: Uint8Array, o: number, src: number): void {
  b[o + 1] = ((src & 0x0f) << 4) | (b[o + 1]! & 0x0f);
}

/** True when the slot starts a 64-bit immediate load (and so the next slot belongs to it). */
export function isLdImm64(ins: RawInsn): boolean {
  return ins.code === OP_LD_IMM64;
}

/** True for a bpf-to-bpf call (call with src_reg = BPF_PSEUDO_CALL). */
export function isPseudoCall(ins: RawInsn): boolean {
  return ins.code === OP_CALL && ins.src === PSEUDO_CALL;
}
