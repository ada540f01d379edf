/**
 * Disassembler. The default syntax is llvm-objdump's for `-target bpf` (LLVM 14 on the build
 * machine), character for character where LLVM 14 prints the instruction. Where LLVM 14 prints
 * `<unknown>` (ISA v4 and newer: sdiv/smod, movsx, ldxs*, bswap, gotol, jset, 32-bit atomic
 * fetch ops, st imm, load_acquire/store_release) this prints the syntax newer LLVM releases use.
 * Two places where LLVM's text is ambiguous get an unambiguous spelling so that text assembles
 * back to the same bytes: bpf-to-bpf calls print `call pc+N` and kfunc calls `call kfunc N`
 * (LLVM prints `call N` for all three kinds; `llvmCompat: true` restores that). Anything else
 * that would not survive a round trip (non-zero reserved fields, unknown opcodes) prints as
 * `.insn code, dst, src, off, imm`.
 */
import { parseInstruction } from './assemble.js';
import { helperName } from './helpers.js';
import { encodeInstructions, slotCount, slotOffsets, type Instruction } from './instruction.js';
import { labelField } from './labels.js';
import { AluOp, AtomicOp, Class, JmpOp, Mode, Op, Size } from './opcodes.js';
import {
  PSEUDO_BTF_ID,
  PSEUDO_CALL,
  PSEUDO_FUNC,
  PSEUDO_KFUNC_CALL,
  PSEUDO_MAP_FD,
  PSEUDO_MAP_IDX,
  PSEUDO_MAP_IDX_VALUE,
  PSEUDO_MAP_VALUE,
} from './raw.js';

export { helperName, helperId, HELPER_NAMES } from './helpers.js';

/** Options for {@link formatInstruction}. */
export interface FormatOptions {
  /** `llvm` (default): llvm-objdump syntax. `bpftool`: the kernel verifier/bpftool syntax. */
  style?: 'llvm' | 'bpftool';
  /** Print calls exactly as llvm-objdump 14 does (`call N` for helpers, local and kfunc calls alike). */
  llvmCompat?: boolean;
  /** Name of the jump or call target, printed as ` <name>` after the offset as llvm-objdump does. */
  target?: string;
}

const ALU_SYM: Record<number, string> = {
  [AluOp.ADD]: '+=',
  [AluOp.SUB]: '-=',
  [AluOp.MUL]: '*=',
  [AluOp.DIV]: '/=',
  [AluOp.OR]: '|=',
  [AluOp.AND]: '&=',
  [AluOp.LSH]: '<<=',
  [AluOp.RSH]: '>>=',
  [AluOp.MOD]: '%=',
  [AluOp.XOR]: '^=',
  [AluOp.MOV]: '=',
  [AluOp.ARSH]: 's>>=',
};

const JMP_SYM: Record<number, string> = {
  [JmpOp.JEQ]: '==',
  [JmpOp.JGT]: '>',
  [JmpOp.JGE]: '>=',
  [JmpOp.JSET]: '&',
  [JmpOp.JNE]: '!=',
  [JmpOp.JSGT]: 's>',
  [JmpOp.JSGE]: 's>=',
  [JmpOp.JLT]: '<',
  [JmpOp.JLE]: '<=',
  [JmpOp.JSLT]: 's<',
  [JmpOp.JSLE]: 's<=',
};

const USIZE: Record<number, string> = {
  [Size.B]: 'u8',
  [Size.H]: 'u16',
  [Size.W]: 'u32',
  [Size.DW]: 'u64',
};
const SSIZE: Record<number, string> = { [Size.B]: 's8', [Size.H]: 's16', [Size.W]: 's32' };

const FETCH_NAME: Record<number, string> = {
  [AtomicOp.ADD]: 'add',
  [AtomicOp.OR]: 'or',
  [AtomicOp.AND]: 'and',
  [AtomicOp.XOR]: 'xor',
};
const LOCK_SYM: Record<number, string> = {
  [AtomicOp.ADD]: '+=',
  [AtomicOp.OR]: '|=',
  [AtomicOp.AND]: '&=',
  [AtomicOp.XOR]: '^=',
};

/** `(r1 + 8)` for llvm, `(r1 +8)` for bpftool. */
function addr(base: number, off: number, bpftool: boolean): string {
  if (bpftool) return `(r${base} ${off >= 0 ? '+' : '-'}${Math.abs(off)})`;
  return `(r${base} ${off >= 0 ? '+' : '-'} ${Math.abs(off)})`;
}

function rel(n: number | bigint, bpftool: boolean): string {
  const s = n >= 0 ? `+${n}` : `${n}`;
  return bpftool ? `pc${s}` : s;
}

/** The raw, always-round-trippable spelling. */
function rawInsn(ins: Instruction): string {
  const code = ins.code.toString(16).padStart(2, '0');
  return `.insn 0x${code}, ${ins.dst}, ${ins.src}, ${ins.off}, ${ins.imm}`;
}

/** llvm-objdump text, or undefined for an opcode it has no syntax for. */
function llvmText(ins: Instruction): string | undefined {
  const { code, dst, src, off, imm } = ins;
  const cls = code & 0x07;
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      const r = cls === Class.ALU ? 'w' : 'r';
      const op = code & 0xf0;
      const x = (code & 0x08) !== 0;
      if (op === AluOp.END) {
        if (cls === Class.ALU64) return x ? undefined : `r${dst} = bswap${imm} r${dst}`;
        return `r${dst} = ${x ? 'be' : 'le'}${imm} r${dst}`;
      }
      if (op === AluOp.NEG) return `${r}${dst} = -${r}${dst}`;
      if (op === AluOp.MOV && x && off !== 0) return `${r}${dst} = (s${off})${r}${src}`;
      let sym = ALU_SYM[op];
      if (sym === undefined) return undefined;
      if ((op === AluOp.DIV || op === AluOp.MOD) && off === 1) sym = `s${sym}`;
      return `${r}${dst} ${sym} ${x ? `${r}${src}` : imm}`;
    }
    case Class.JMP:
    case Class.JMP32: {
      const r = cls === Class.JMP32 ? 'w' : 'r';
      const op = code & 0xf0;
      const x = (code & 0x08) !== 0;
      if (op === JmpOp.JA)
        return cls === Class.JMP ? `goto ${rel(off, false)}` : `gotol ${rel(imm, false)}`;
      if (op === JmpOp.EXIT) return 'exit';
      if (op === JmpOp.CALL) {
        if (x) return `callx r${dst}`;
        if (src === PSEUDO_CALL) return `call pc${rel(imm, false)}`;
        if (src === PSEUDO_KFUNC_CALL) return `call kfunc ${imm}`;
        return `call ${imm}`;
      }
      const sym = JMP_SYM[op];
      if (sym === undefined) return undefined;
      return `if ${r}${dst} ${sym} ${x ? `${r}${src}` : imm} goto ${rel(off, false)}`;
    }
    case Class.LD: {
      if (code === Op.LD_IMM64) {
        if (src === 0) return `r${dst} = ${imm} ll`;
        const lo = BigInt.asIntN(32, imm);
        const hi = BigInt.asIntN(32, imm >> 32n);
        return `ld_pseudo\tr${dst}, ${src}, ${lo}${hi !== 0n ? `, ${hi}` : ''}`;
      }
      const mode = code & 0xe0;
      const sz = USIZE[code & 0x18]!;
      if (mode === Mode.ABS) return `r${dst} = *(${sz} *)skb[${imm}]`;
      if (mode === Mode.IND) {
        return `r${dst} = *(${sz} *)skb[r${src}${imm === 0n ? '' : imm > 0n ? ` + ${imm}` : ` - ${-imm}`}]`;
      }
      return undefined;
    }
    case Class.LDX: {
      const mode = code & 0xe0;
      if (mode === Mode.MEM) return `r${dst} = *(${USIZE[code & 0x18]} *)${addr(src, off, false)}`;
      if (mode === Mode.MEMSX) {
        const sz = SSIZE[code & 0x18];
        return sz === undefined ? undefined : `r${dst} = *(${sz} *)${addr(src, off, false)}`;
      }
      return undefined;
    }
    case Class.ST: {
      if ((code & 0xe0) !== Mode.MEM) return undefined;
      return `*(${USIZE[code & 0x18]} *)${addr(dst, off, false)} = ${imm}`;
    }
    case Class.STX: {
      const mode = code & 0xe0;
      const size = code & 0x18;
      const sz = USIZE[size]!;
      if (mode === Mode.MEM) return `*(${sz} *)${addr(dst, off, false)} = r${src}`;
      if (mode !== Mode.ATOMIC) return undefined;
      const a = addr(dst, off, false);
      const w = size === Size.DW ? 'r' : 'w';
      const n = Number(imm);
      if (n === AtomicOp.LOAD_ACQ) {
        return `${w}${dst} = load_acquire((${sz} *)${addr(src, off, false)})`;
      }
      if (n === AtomicOp.STORE_REL) return `store_release((${sz} *)${a}, ${w}${src})`;
      if (size !== Size.DW && size !== Size.W) return undefined;
      // LLVM 14 prints the 32-bit atomic add with an r register; newer forms use w.
      if (n === AtomicOp.ADD) return `lock *(${sz} *)${a} += r${src}`;
      if (LOCK_SYM[n] !== undefined) return `lock *(${sz} *)${a} ${LOCK_SYM[n]} ${w}${src}`;
      if (n & AtomicOp.FETCH && FETCH_NAME[n & ~AtomicOp.FETCH] !== undefined) {
        return `${w}${src} = atomic_fetch_${FETCH_NAME[n & ~AtomicOp.FETCH]}((${sz} *)${a}, ${w}${src})`;
      }
      const p = a.slice(1, -1);
      if (n === AtomicOp.XCHG) {
        return size === Size.DW
          ? `r${src} = xchg_64(${p}, r${src})`
          : `w${src} = xchg32_32(${p}, w${src})`;
      }
      if (n === AtomicOp.CMPXCHG) {
        return size === Size.DW
          ? `r0 = cmpxchg_64(${p}, r0, r${src})`
          : `w0 = cmpxchg32_32(${p}, w0, w${src})`;
      }
      return undefined;
    }
  }
  return undefined;
}

function sameFields(a: Instruction, b: Instruction): boolean {
  return (
    a.code === b.code && a.dst === b.dst && a.src === b.src && a.off === b.off && a.imm === b.imm
  );
}

/** kernel/bpf/disasm.c flavour, as `bpftool prog dump xlated` prints it. */
function bpftoolText(ins: Instruction): string {
  const { code, dst, src, off, imm } = ins;
  const cls = code & 0x07;
  const hex = `(${code.toString(16).padStart(2, '0')}) `;
  if (cls === Class.JMP || cls === Class.JMP32) {
    const op = code & 0xf0;
    const x = (code & 0x08) !== 0;
    const r = cls === Class.JMP32 ? 'w' : 'r';
    if (op === JmpOp.JA)
      return hex + (cls === Class.JMP ? `goto ${rel(off, true)}` : `gotol ${rel(imm, true)}`);
    if (op === JmpOp.EXIT && cls === Class.JMP) return hex + 'exit';
    if (op === JmpOp.CALL && cls === Class.JMP) {
      if (x) return hex + `callx r${dst}`;
      if (src === PSEUDO_CALL)
        return hex + `call ${rel(imm, true)}${ins.reference ? `#${ins.reference}` : ''}`;
      if (src === PSEUDO_KFUNC_CALL)
        return hex + `call ${ins.reference ?? 'kernel-function'}#${imm}`;
      return hex + `call ${ins.reference ?? helperName(Number(imm)) ?? 'unknown'}#${imm}`;
    }
    const sym = JMP_SYM[op];
    if (sym !== undefined) {
      const rhs = x ? `${r}${src}` : `0x${BigInt.asUintN(32, imm).toString(16)}`;
      return hex + `if ${r}${dst} ${sym} ${rhs} goto ${rel(off, true)}`;
    }
  }
  if (code === Op.LD_IMM64) {
    const lo = BigInt.asIntN(32, imm);
    const hi = BigInt.asIntN(32, imm >> 32n);
    const name = ins.reference;
    switch (src) {
      case 0:
        return hex + `r${dst} = 0x${BigInt.asUintN(64, imm).toString(16)}`;
      case PSEUDO_MAP_FD:
        return hex + `r${dst} = map[${name ?? `id:${lo}`}]`;
      case PSEUDO_MAP_IDX:
        return hex + `r${dst} = map[${name ?? `idx:${lo}`}]`;
      case PSEUDO_MAP_VALUE:
        return hex + `r${dst} = map[${name ?? `id:${lo}`}][0]+${hi}`;
      case PSEUDO_MAP_IDX_VALUE:
        return hex + `r${dst} = map[${name ?? `idx:${lo}`}][0]+${hi}`;
      case PSEUDO_BTF_ID:
        return hex + `r${dst} = ${name ?? `btf_id:${lo}`}`;
      case PSEUDO_FUNC:
        return hex + `r${dst} = func ${rel(lo, true)}${name ? `#${name}` : ''}`;
    }
  }
  const t = llvmText(ins);
  if (t === undefined) return hex + rawInsn(ins);
  if (cls === Class.STX && (code & 0xe0) === Mode.ATOMIC) {
    // The kernel names the 64-bit forms atomic64_* and prints r registers throughout.
    return (
      hex +
      t
        .replace(/\(r(\d+) ([+-]) (\d+)\)/g, '(r$1 $2$3)')
        .replace(/\bw(\d+)/g, 'r$1')
        .replace(/atomic_fetch_/, (code & 0x18) === Size.DW ? 'atomic64_fetch_' : 'atomic_fetch_')
        .replace(/xchg_64\(([^,]+),/, 'atomic64_xchg((u64 *)($1),')
        .replace(/xchg32_32\(([^,]+),/, 'atomic_xchg((u32 *)($1),')
        .replace(/cmpxchg_64\(([^,]+),/, 'atomic64_cmpxchg((u64 *)($1),')
        .replace(/cmpxchg32_32\(([^,]+),/, 'atomic_cmpxchg((u32 *)($1),')
    );
  }
  return hex + t.replace(/\(r(\d+) ([+-]) (\d+)\)/g, '(r$1 $2$3)');
}

/**
 * Formats one instruction. In llvm style the result assembles back to the same instruction
 * (apart from `llvmCompat`, which trades that for LLVM 14's exact spelling of calls).
 */
export function formatInstruction(ins: Instruction, opts: FormatOptions = {}): string {
  if (opts.style === 'bpftool') return bpftoolText(ins);
  let text = llvmText(ins);
  if (text !== undefined) {
    let ok: boolean;
    try {
      ok = sameFields(parseInstruction(text).ins, ins);
    } catch {
      ok = false;
    }
    if (!ok) text = undefined;
  }
  if (text === undefined) return rawInsn(ins);
  if (opts.llvmCompat && ins.code === Op.CALL) text = `call ${ins.imm}`;
  else if (opts.llvmCompat && ins.code === Op.CALLX) text = `callx r${ins.imm}`;
  if (opts.target !== undefined) text += ` <${opts.target}>`;
  return text;
}

/** Options for {@link disassemble}. */
export interface DisassembleOptions extends Omit<FormatOptions, 'target'> {
  /** Print each instruction's bytes between the offset and the text (llvm-objdump's default). */
  rawBytes?: boolean;
  /** Print `; <source line>` before the first instruction of each new line. Default true. */
  source?: boolean;
  /** Annotate jumps (and local calls) with `<symbol>` / `<symbol+0xN>`. Default true. */
  annotate?: boolean;
}

function hexBytes(ins: Instruction): string {
  return Array.from(encodeInstructions([ins]), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * A listing in the shape of `llvm-objdump -d -S`: `<symbol>:` headers from `symbol`, `; line`
 * source annotations from `source` where the line changes, slot offsets, optional raw bytes.
 * With `style: 'bpftool'` it follows `bpftool prog dump xlated` instead (`call
 * bpf_map_lookup_elem#1`, `r1 = map[name]`).
 */
export function disassemble(insns: readonly Instruction[], opts: DisassembleOptions = {}): string {
  const bpftool = opts.style === 'bpftool';
  const slots = slotOffsets(insns);
  const symAt: { slot: number; name: string }[] = [];
  insns.forEach((ins, i) => {
    if (ins.symbol !== undefined) symAt.push({ slot: slots[i]!, name: ins.symbol });
  });
  const nameFor = (t: number): string | undefined => {
    if (symAt.length === 0) return undefined;
    let best = symAt[0]!;
    for (const s of symAt) if (s.slot <= t) best = s;
    if (best.slot === t) return best.name;
    const delta = BigInt.asUintN(64, BigInt(t - best.slot) * 8n);
    return `${best.name}+0x${delta.toString(16)}`;
  };
  const out: string[] = [];
  let lastSource: string | undefined;
  insns.forEach((ins, i) => {
    const s = slots[i]!;
    if (ins.symbol !== undefined) {
      if (out.length > 0) out.push('');
      out.push(
        bpftool ? `${ins.symbol}:` : `${(s * 8).toString(16).padStart(16, '0')} <${ins.symbol}>:`,
      );
    }
    if (opts.source !== false && ins.source !== undefined) {
      const key = `${ins.source.file}:${ins.source.lineNum}`;
      if (key !== lastSource && ins.source.lineNum !== 0) out.push(`; ${ins.source.line}`);
      lastSource = key;
    }
    let target: string | undefined;
    if (!bpftool && opts.annotate !== false) {
      const field = labelField(ins);
      const isCall = ins.code === Op.CALL;
      if (field !== undefined && ins.code !== Op.LD_IMM64 && !(isCall && opts.llvmCompat)) {
        const delta = field === 'off' ? ins.off : Number(ins.imm);
        target = nameFor(s + slotCount(ins) + delta);
      }
    }
    const text = formatInstruction(ins, { ...opts, target });
    if (bpftool) {
      out.push(`${String(s).padStart(4)}: ${text}`);
    } else {
      const raw = opts.rawBytes ? `${hexBytes(ins)}\t` : '';
      out.push(`${String(s).padStart(8)}:\t${raw}${text}`);
    }
  });
  return out.join('\n') + (out.length > 0 ? '\n' : '');
}
