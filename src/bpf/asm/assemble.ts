/**
 * Assembler for the llvm-objdump syntax that {@link ../disasm.ts} prints (`r1 += 2`,
 * `if w1 > 3 goto +2`, `r1 = *(u32 *)(r2 + 4)`, ...). It also reads whole listings produced by
 * `disassemble()`: byte offsets, raw bytes, `; source` lines and `<target>` annotations are
 * skipped, so disassemble → assemble gives back the same bytes.
 */
import { helperId } from './helpers.js';
import { insn, type Instruction } from './instruction.js';
import { resolveLabels } from './labels.js';
import { AluOp, AtomicOp, Class, JmpOp, Mode, Op, Size, Source } from './opcodes.js';
import { PSEUDO_CALL, PSEUDO_KFUNC_CALL } from './raw.js';

/** One parsed instruction line; `target` names a label still to be resolved. */
export interface ParsedInstruction {
  ins: Instruction;
  target?: string;
}

const IDENT = /^[A-Za-z_.$][\w.$]*$/;

/** Parses a signed or hex integer literal. */
export function parseInteger(s: string): bigint | undefined {
  const m = /^([+-]?)(0x[0-9a-fA-F]+|\d+)$/.exec(s);
  if (!m) return undefined;
  const v = BigInt(m[2]!);
  return m[1] === '-' ? -v : v;
}

/** Collapses whitespace so that a space survives only between two word characters. */
function compact(s: string): string {
  return s
    .trim()
    .replace(/\s+/g, ' ')
    .replace(/ (?![\w.$])|(?<![\w.$]) /g, '');
}

const SIZES: Record<string, number> = { u8: Size.B, u16: Size.H, u32: Size.W, u64: Size.DW };
const SSIZES: Record<string, number> = { s8: Size.B, s16: Size.H, s32: Size.W };

const ALU_OPS: Record<string, [number, number]> = {
  '+': [AluOp.ADD, 0],
  '-': [AluOp.SUB, 0],
  '*': [AluOp.MUL, 0],
  '/': [AluOp.DIV, 0],
  '|': [AluOp.OR, 0],
  '&': [AluOp.AND, 0],
  '<<': [AluOp.LSH, 0],
  '>>': [AluOp.RSH, 0],
  '%': [AluOp.MOD, 0],
  '^': [AluOp.XOR, 0],
  's>>': [AluOp.ARSH, 0],
  's/': [AluOp.DIV, 1],
  's%': [AluOp.MOD, 1],
  '': [AluOp.MOV, 0],
};

const JMP_OPS: Record<string, number> = {
  '==': JmpOp.JEQ,
  '>': JmpOp.JGT,
  '>=': JmpOp.JGE,
  '&': JmpOp.JSET,
  '!=': JmpOp.JNE,
  's>': JmpOp.JSGT,
  's>=': JmpOp.JSGE,
  '<': JmpOp.JLT,
  '<=': JmpOp.JLE,
  's<': JmpOp.JSLT,
  's<=': JmpOp.JSLE,
};

const LOCK_OPS: Record<string, number> = {
  '+': AtomicOp.ADD,
  '|': AtomicOp.OR,
  '&': AtomicOp.AND,
  '^': AtomicOp.XOR,
};
const FETCH_OPS: Record<string, number> = {
  add: AtomicOp.ADD | AtomicOp.FETCH,
  or: AtomicOp.OR | AtomicOp.FETCH,
  and: AtomicOp.AND | AtomicOp.FETCH,
  xor: AtomicOp.XOR | AtomicOp.FETCH,
};

function reg(s: string, what: string): number {
  const m = /^[rw](\d+)$/.exec(s);
  if (!m || Number(m[1]) > 15) throw new Error(`bad register "${s}" for ${what}`);
  return Number(m[1]);
}

function num(s: string, what: string): bigint {
  const v = parseInteger(s);
  if (v === undefined) throw new Error(`bad ${what} "${s}"`);
  return v;
}

function imm32(s: string, what = 'immediate'): bigint {
  const v = num(s, what);
  if (v < -(1n << 31n) || v >= 1n << 32n) throw new Error(`${what} ${s} does not fit in 32 bits`);
  return BigInt.asIntN(32, v);
}

function off16(s: string, what = 'offset'): number {
  const v = num(s, what);
  if (v < -0x8000n || v > 0x7fffn) throw new Error(`${what} ${s} does not fit in 16 bits`);
  return Number(v);
}

/** `(r1+4)` / `(r1-4)` → [reg, off]. */
function memRef(base: string, sign: string, o: string): [number, number] {
  return [reg(base, 'memory operand'), off16(sign + o, 'memory offset')];
}

function target(s: string): { off?: number; label?: string } {
  if (/^[+-]/.test(s)) return { off: off16(s, 'jump offset') };
  if (IDENT.test(s)) return { label: s };
  throw new Error(`bad jump target "${s}"`);
}

const PTR = String.raw`\((u8|u16|u32|u64|s8|s16|s32)\*\)\(([rw]\d+)([+-])(\w+)\)`;
const MEM = String.raw`\*` + PTR;

/**
 * Parses one instruction in llvm-objdump syntax (no label, no listing prefix). A jump or local
 * call to a named label comes back with `target` set and the offset left at zero.
 */
export function parseInstruction(text: string): ParsedInstruction {
  const s = compact(text);
  let m: RegExpExecArray | null;
  if (s === 'exit') return { ins: insn(Op.EXIT) };
  if ((m = /^goto(l?) ?(\S+)$/.exec(s))) {
    const long = m[1] === 'l';
    const t = m[2]!;
    if (/^[+-]/.test(t)) {
      return long
        ? { ins: insn(Op.JA32, 0, 0, 0, imm32(t, 'jump offset')) }
        : { ins: insn(Op.JA, 0, 0, off16(t, 'jump offset')) };
    }
    if (!IDENT.test(t)) throw new Error(`bad jump target "${t}"`);
    return { ins: insn(long ? Op.JA32 : Op.JA), target: t };
  }
  if ((m = /^callx ([rw]\d+)$/.exec(s))) return { ins: insn(Op.CALLX, reg(m[1]!, 'callx')) };
  if ((m = /^call ?pc([+-]\w+)$/.exec(s))) {
    return { ins: insn(Op.CALL, 0, PSEUDO_CALL, 0, imm32(m[1]!)) };
  }
  if ((m = /^call kfunc ?(\S+)$/.exec(s))) {
    return { ins: insn(Op.CALL, 0, PSEUDO_KFUNC_CALL, 0, imm32(m[1]!)) };
  }
  if ((m = /^call ?(\S+)$/.exec(s))) {
    const v = parseInteger(m[1]!);
    if (v !== undefined) return { ins: insn(Op.CALL, 0, 0, 0, imm32(m[1]!)) };
    if (!IDENT.test(m[1]!)) throw new Error(`bad call target "${m[1]}"`);
    return { ins: insn(Op.CALL, 0, PSEUDO_CALL), target: m[1]! };
  }
  if ((m = /^if ([rw])(\d+) ?(==|!=|s>=|s>|s<=|s<|>=|>|<=|<|&)(\S+) goto ?(\S+)$/.exec(s))) {
    const cls = m[1] === 'w' ? Class.JMP32 : Class.JMP;
    const op = JMP_OPS[m[3]!]!;
    const dst = reg(m[1]! + m[2]!, 'jump');
    const t = target(m[5]!);
    let ins: Instruction;
    if (/^[rw]\d+$/.test(m[4]!)) {
      ins = insn(cls | op | Source.X, dst, reg(m[4]!, 'jump'), t.off ?? 0);
    } else {
      ins = insn(cls | op | Source.K, dst, 0, t.off ?? 0, imm32(m[4]!));
    }
    return t.label !== undefined ? { ins, target: t.label } : { ins };
  }
  if ((m = /^ld_pseudo ([rw]\d+),(\w+),([+-]?\w+)(?:,([+-]?\w+))?$/.exec(s))) {
    const src = Number(num(m[2]!, 'pseudo kind'));
    if (src < 0 || src > 15) throw new Error(`bad pseudo kind ${m[2]}`);
    const lo = BigInt.asUintN(32, imm32(m[3]!));
    const hi = m[4] === undefined ? 0n : BigInt.asUintN(32, imm32(m[4]));
    return {
      ins: insn(Op.LD_IMM64, reg(m[1]!, 'ld_pseudo'), src, 0, BigInt.asIntN(64, (hi << 32n) | lo)),
    };
  }
  if ((m = /^\.insn (\w+),(\w+),(\w+),([+-]?\w+),([+-]?\w+)$/.exec(s))) {
    const code = Number(num(m[1]!, 'code'));
    const dst = Number(num(m[2]!, 'dst'));
    const src = Number(num(m[3]!, 'src'));
    if (code > 0xff || dst > 15 || src > 15) throw new Error(`bad .insn fields in "${text}"`);
    const imm = code === Op.LD_IMM64 ? BigInt.asIntN(64, num(m[5]!, 'imm')) : imm32(m[5]!);
    return { ins: insn(code, dst, src, off16(m[4]!), imm) };
  }
  if ((m = /^([rw]\d+)=([+-]?\w+) ll$/.exec(s))) {
    const v = num(m[2]!, '64-bit immediate');
    if (v < -(1n << 63n) || v >= 1n << 64n)
      throw new Error(`immediate ${m[2]} does not fit in 64 bits`);
    return { ins: insn(Op.LD_IMM64, reg(m[1]!, 'ld_imm64'), 0, 0, BigInt.asIntN(64, v)) };
  }
  if ((m = /^([rw]\d+)=\*\((u8|u16|u32|u64)\*\)skb\[(.+)\]$/.exec(s))) {
    const size = SIZES[m[2]!]!;
    const dst = reg(m[1]!, 'packet load');
    const im = /^([rw]\d+)(?:([+-])(\w+))?$/.exec(m[3]!);
    if (im) {
      const imm = im[2] === undefined ? 0n : imm32(im[2] + im[3]!);
      return { ins: insn(Class.LD | Mode.IND | size, dst, reg(im[1]!, 'packet load'), 0, imm) };
    }
    return { ins: insn(Class.LD | Mode.ABS | size, dst, 0, 0, imm32(m[3]!)) };
  }
  if ((m = new RegExp(`^([rw]\\d+)=${MEM}$`).exec(s))) {
    const [src, off] = memRef(m[3]!, m[4]!, m[5]!);
    const sx = SSIZES[m[2]!];
    const code =
      sx !== undefined ? Class.LDX | Mode.MEMSX | sx : Class.LDX | Mode.MEM | SIZES[m[2]!]!;
    return { ins: insn(code, reg(m[1]!, 'load'), src, off) };
  }
  if ((m = new RegExp(`^${MEM}=(\\S+)$`).exec(s))) {
    const size = SIZES[m[1]!];
    if (size === undefined) throw new Error(`stores take an unsigned size, got ${m[1]}`);
    const [dst, off] = memRef(m[2]!, m[3]!, m[4]!);
    if (/^[rw]\d+$/.test(m[5]!)) {
      return { ins: insn(Class.STX | Mode.MEM | size, dst, reg(m[5]!, 'store'), off) };
    }
    return { ins: insn(Class.ST | Mode.MEM | size, dst, 0, off, imm32(m[5]!)) };
  }
  if ((m = new RegExp(`^lock ?${MEM}(\\+|\\||&|\\^)=([rw]\\d+)$`).exec(s))) {
    const size = SIZES[m[1]!];
    if (size === undefined) throw new Error(`atomics take an unsigned size, got ${m[1]}`);
    const [dst, off] = memRef(m[2]!, m[3]!, m[4]!);
    return {
      ins: insn(
        Class.STX | Mode.ATOMIC | size,
        dst,
        reg(m[6]!, 'lock'),
        off,
        BigInt(LOCK_OPS[m[5]!]!),
      ),
    };
  }
  if (
    (m = new RegExp(`^([rw]\\d+)=atomic_fetch_(add|or|and|xor)\\(${PTR},([rw]\\d+)\\)$`).exec(s))
  ) {
    const size = SIZES[m[3]!];
    if (size === undefined) throw new Error(`atomics take an unsigned size, got ${m[3]}`);
    const [dst, off] = memRef(m[4]!, m[5]!, m[6]!);
    const src = reg(m[7]!, 'atomic_fetch');
    if (reg(m[1]!, 'atomic_fetch') !== src) {
      throw new Error(`atomic_fetch_${m[2]} returns into its source register: ${m[1]} vs ${m[7]}`);
    }
    return {
      ins: insn(Class.STX | Mode.ATOMIC | size, dst, src, off, BigInt(FETCH_OPS[m[2]!]!)),
    };
  }
  if ((m = /^([rw]\d+)=(xchg_64|xchg32_32)\(([rw]\d+)([+-])(\w+),([rw]\d+)\)$/.exec(s))) {
    const size = m[2] === 'xchg_64' ? Size.DW : Size.W;
    const [dst, off] = memRef(m[3]!, m[4]!, m[5]!);
    const src = reg(m[6]!, 'xchg');
    if (reg(m[1]!, 'xchg') !== src) throw new Error(`xchg returns into its source register`);
    return { ins: insn(Class.STX | Mode.ATOMIC | size, dst, src, off, BigInt(AtomicOp.XCHG)) };
  }
  if (
    (m = /^([rw]\d+)=(cmpxchg_64|cmpxchg32_32)\(([rw]\d+)([+-])(\w+),([rw]\d+),([rw]\d+)\)$/.exec(
      s,
    ))
  ) {
    const size = m[2] === 'cmpxchg_64' ? Size.DW : Size.W;
    const [dst, off] = memRef(m[3]!, m[4]!, m[5]!);
    if (reg(m[1]!, 'cmpxchg') !== 0 || reg(m[6]!, 'cmpxchg') !== 0) {
      throw new Error(`cmpxchg compares and returns in r0`);
    }
    return {
      ins: insn(
        Class.STX | Mode.ATOMIC | size,
        dst,
        reg(m[7]!, 'cmpxchg'),
        off,
        BigInt(AtomicOp.CMPXCHG),
      ),
    };
  }
  if ((m = new RegExp(`^([rw]\\d+)=load_acquire\\(${PTR}\\)$`).exec(s))) {
    const size = SIZES[m[2]!];
    if (size === undefined) throw new Error(`load_acquire takes an unsigned size, got ${m[2]}`);
    const [src, off] = memRef(m[3]!, m[4]!, m[5]!);
    return {
      ins: insn(
        Class.STX | Mode.ATOMIC | size,
        reg(m[1]!, 'load_acquire'),
        src,
        off,
        BigInt(AtomicOp.LOAD_ACQ),
      ),
    };
  }
  if ((m = new RegExp(`^store_release\\(${PTR},([rw]\\d+)\\)$`).exec(s))) {
    const size = SIZES[m[1]!];
    if (size === undefined) throw new Error(`store_release takes an unsigned size, got ${m[1]}`);
    const [dst, off] = memRef(m[2]!, m[3]!, m[4]!);
    return {
      ins: insn(
        Class.STX | Mode.ATOMIC | size,
        dst,
        reg(m[5]!, 'store_release'),
        off,
        BigInt(AtomicOp.STORE_REL),
      ),
    };
  }
  if ((m = /^([rw])(\d+)=-([rw])(\d+)$/.exec(s))) {
    if (m[2] !== m[4]) throw new Error(`negation works in place: "${text}"`);
    const cls = m[1] === 'w' ? Class.ALU : Class.ALU64;
    return { ins: insn(cls | AluOp.NEG, Number(m[2])) };
  }
  if ((m = /^([rw])(\d+)=(le|be|bswap)(16|32|64) ([rw])(\d+)$/.exec(s))) {
    if (m[2] !== m[6]) throw new Error(`byte swaps work in place: "${text}"`);
    const code =
      m[3] === 'bswap' ? Op.BSWAP : Class.ALU | AluOp.END | (m[3] === 'be' ? Source.X : Source.K);
    return { ins: insn(code, Number(m[2]), 0, 0, BigInt(m[4]!)) };
  }
  if ((m = /^([rw])(\d+)=\((s8|s16|s32)\)([rw]\d+)$/.exec(s))) {
    const cls = m[1] === 'w' ? Class.ALU : Class.ALU64;
    const bits = Number(m[3]!.slice(1));
    return { ins: insn(cls | AluOp.MOV | Source.X, Number(m[2]), reg(m[4]!, 'movsx'), bits) };
  }
  if ((m = /^([rw])(\d+) ?(\+|-|\*|\/|\||&|<<|>>|%|\^|s>>|s\/|s%)?=(\S+)$/.exec(s))) {
    const cls = m[1] === 'w' ? Class.ALU : Class.ALU64;
    const [op, off] = ALU_OPS[m[3] ?? '']!;
    const dst = Number(m[2]);
    if (dst > 15) throw new Error(`bad register in "${text}"`);
    if (/^[rw]\d+$/.test(m[4]!)) {
      return { ins: insn(cls | op | Source.X, dst, reg(m[4]!, 'alu'), off) };
    }
    return { ins: insn(cls | op | Source.K, dst, 0, off, imm32(m[4]!)) };
  }
  throw new Error(`unknown instruction "${text.trim()}"`);
}

/** Strips listing decoration: `   12:\t<raw bytes>\t`, trailing `<target>` and comments. */
function stripListing(line: string): string {
  let s = line;
  const lm = /^\s*\d+:[ \t]*/.exec(s);
  if (lm) {
    s = s.slice(lm[0].length);
    s = s.replace(/^(?:[0-9a-f]{2} )*[0-9a-f]{2}\t/, '');
  }
  s = s.replace(/\s*<[^<>]*>\s*$/, '');
  s = s.replace(/\s*(?:\/\/|#).*$/, '');
  return s.trim();
}

/**
 * Assembles llvm-objdump syntax, one instruction per line, into instructions. Accepts
 * `label:` lines, llvm-objdump function headers (`0000000000000000 <name>:`), `goto +N` and
 * `goto label`, `call label` (bpf-to-bpf), `call bpf_helper_name`, and whole
 * `disassemble()` listings. Lines starting with `;` are source annotations and are skipped.
 */
export function assemble(text: string): Instruction[] {
  const insns: Instruction[] = [];
  const targets: (string | undefined)[] = [];
  const labels = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  const define = (name: string, lineNo: number): void => {
    if (labels.has(name)) {
      throw new Error(`assemble: line ${lineNo}: duplicate label "${name}"`);
    }
    labels.set(name, insns.length);
  };
  lines.forEach((raw, idx) => {
    const lineNo = idx + 1;
    const trimmed = raw.trim();
    if (
      trimmed === '' ||
      trimmed.startsWith(';') ||
      trimmed.startsWith('//') ||
      trimmed.startsWith('#')
    )
      return;
    if (/^Disassembly of section|file format /.test(trimmed)) return;
    const fn = /^[0-9a-fA-F]+ <([^<>]+)>:$/.exec(trimmed);
    if (fn) {
      define(fn[1]!, lineNo);
      return;
    }
    let body = stripListing(raw);
    let lm: RegExpExecArray | null;
    while ((lm = /^([A-Za-z_.$][\w.$]*):\s*/.exec(body))) {
      define(lm[1]!, lineNo);
      body = body.slice(lm[0].length);
    }
    if (body === '') return;
    let p: ParsedInstruction;
    try {
      p = parseInstruction(body);
    } catch (e) {
      throw new Error(`assemble: line ${lineNo}: ${(e as Error).message}`);
    }
    insns.push(p.ins);
    targets.push(p.target);
  });
  // A named call is local when the name is a label in this text, otherwise a helper by name.
  insns.forEach((ins, i) => {
    const t = targets[i];
    if (t === undefined) return;
    if (ins.code === Op.CALL && !labels.has(t)) {
      const id = helperId(t);
      if (id === undefined) {
        throw new Error(
          `assemble: instruction ${i}: call to "${t}", which is neither a label nor a known helper`,
        );
      }
      ins.src = 0;
      ins.imm = BigInt(id);
      return;
    }
    ins.reference = t;
  });
  const first = new Map<number, string>();
  for (const [name, i] of labels) if (i < insns.length && !first.has(i)) first.set(i, name);
  for (const [i, name] of first) insns[i]!.symbol = name;
  try {
    return resolveLabels(insns, labels);
  } catch (e) {
    throw new Error(`assemble: ${(e as Error).message}`);
  }
}

const CONF_ALU: Record<string, number> = {
  add: AluOp.ADD,
  sub: AluOp.SUB,
  mul: AluOp.MUL,
  div: AluOp.DIV,
  sdiv: AluOp.DIV,
  or: AluOp.OR,
  and: AluOp.AND,
  lsh: AluOp.LSH,
  rsh: AluOp.RSH,
  neg: AluOp.NEG,
  mod: AluOp.MOD,
  smod: AluOp.MOD,
  xor: AluOp.XOR,
  mov: AluOp.MOV,
  arsh: AluOp.ARSH,
};

const CONF_JMP: Record<string, number> = {
  jeq: JmpOp.JEQ,
  jgt: JmpOp.JGT,
  jge: JmpOp.JGE,
  jset: JmpOp.JSET,
  jne: JmpOp.JNE,
  jsgt: JmpOp.JSGT,
  jsge: JmpOp.JSGE,
  jlt: JmpOp.JLT,
  jle: JmpOp.JLE,
  jslt: JmpOp.JSLT,
  jsle: JmpOp.JSLE,
};

const CONF_SIZE: Record<string, number> = { b: Size.B, h: Size.H, w: Size.W, dw: Size.DW };

const CONF_ATOMIC: Record<string, number> = {
  add: AtomicOp.ADD,
  or: AtomicOp.OR,
  and: AtomicOp.AND,
  xor: AtomicOp.XOR,
  xchg: AtomicOp.XCHG,
  cmpxchg: AtomicOp.CMPXCHG,
};

function confReg(s: string | undefined): number {
  const m = /^%r(\d+)$/.exec(s ?? '');
  if (!m || Number(m[1]) > 15) throw new Error(`bad register "${s ?? ''}"`);
  return Number(m[1]);
}

/** `[%r1+0x2]`, `[%r10-8]`, `[%r1]` → [reg, off]. */
function confMem(s: string | undefined): [number, number] {
  const m = /^\[(%r\d+)(?:([+-])(\w+))?\]$/.exec(s ?? '');
  if (!m) throw new Error(`bad memory operand "${s ?? ''}"`);
  const off = m[2] === undefined ? 0 : confOff(m[2] + m[3]!);
  return [confReg(m[1]), off];
}

/** Offsets: hex is taken as the 16-bit pattern (so 0xffff is -1), decimal must fit int16. */
function confOff(s: string): number {
  const v = num(s, 'offset');
  if (/0x/i.test(s)) {
    if (v < -0xffffn || v > 0xffffn) throw new Error(`offset ${s} does not fit in 16 bits`);
    return Number(BigInt.asIntN(16, v));
  }
  if (v < -0x8000n || v > 0x7fffn) throw new Error(`offset ${s} does not fit in 16 bits`);
  return Number(v);
}

/** Immediates: hex is the 32-bit pattern, decimal must fit int32. */
function confImm(s: string | undefined): bigint {
  const v = num(s ?? '', 'immediate');
  if (/0x/i.test(s!)) {
    if (v < -0xffffffffn || v > 0xffffffffn)
      throw new Error(`immediate ${s} does not fit in 32 bits`);
    return BigInt.asIntN(32, v);
  }
  if (v < -(1n << 31n) || v >= 1n << 31n) throw new Error(`immediate ${s} does not fit in 32 bits`);
  return v;
}

function arity(mn: string, ops: string[], n: number): void {
  if (ops.length !== n) throw new Error(`${mn} takes ${n} operand(s), got ${ops.length}`);
}

/**
 * Encodes one line of bpf_conformance assembly. Jump and local-call targets that are labels come
 * back in `target`.
 */
function parseConformanceLine(mn: string, ops: string[]): ParsedInstruction {
  let m: RegExpExecArray | null;
  const jumpTarget = (
    s: string | undefined,
    where: 'off' | 'imm',
    ins: Instruction,
  ): ParsedInstruction => {
    if (s === undefined) throw new Error(`${mn}: missing jump target`);
    if (/^[+-]/.test(s)) {
      if (where === 'off') ins.off = confOff(s);
      else ins.imm = confImm(s);
      return { ins };
    }
    if (!IDENT.test(s)) throw new Error(`bad jump target "${s}"`);
    return { ins, target: s };
  };
  if (mn === 'exit') {
    arity(mn, ops, 0);
    return { ins: insn(Op.EXIT) };
  }
  if (mn === 'ja' || mn === 'ja32') {
    arity(mn, ops, 1);
    return mn === 'ja'
      ? jumpTarget(ops[0], 'off', insn(Op.JA))
      : jumpTarget(ops[0], 'imm', insn(Op.JA32));
  }
  if (mn === 'call' || mn === 'callx') {
    if (mn === 'callx' || (ops.length === 1 && ops[0]!.startsWith('%'))) {
      arity(mn, ops, 1);
      return { ins: insn(Op.CALLX, confReg(ops[0])) };
    }
    const [mode, t] = ops.length === 1 ? ['helper', ops[0]] : ops;
    if (ops.length > 2) throw new Error(`call takes at most 2 operands`);
    if (mode === 'helper') {
      if (t?.startsWith('%')) return { ins: insn(Op.CALLX, confReg(t)) };
      return { ins: insn(Op.CALL, 0, 0, 0, confImm(t)) };
    }
    if (mode === 'local') return jumpTarget(t, 'imm', insn(Op.CALL, 0, PSEUDO_CALL));
    if (mode === 'runtime') return { ins: insn(Op.CALL, 0, PSEUDO_KFUNC_CALL, 0, confImm(t)) };
    throw new Error(`bad call mode "${mode}"`);
  }
  if (mn === 'lddw') {
    arity(mn, ops, 2);
    const v = num(ops[1]!, '64-bit immediate');
    if (v < -(1n << 63n) || v >= 1n << 64n)
      throw new Error(`immediate ${ops[1]} does not fit in 64 bits`);
    return { ins: insn(Op.LD_IMM64, confReg(ops[0]), 0, 0, BigInt.asIntN(64, v)) };
  }
  if ((m = /^ldx(s?)(b|h|w|dw)$/.exec(mn))) {
    arity(mn, ops, 2);
    const [src, off] = confMem(ops[1]);
    if (m[1] === 's' && m[2] === 'dw') throw new Error(`ldxsdw does not exist`);
    const mode = m[1] === 's' ? Mode.MEMSX : Mode.MEM;
    return { ins: insn(Class.LDX | mode | CONF_SIZE[m[2]!]!, confReg(ops[0]), src, off) };
  }
  if ((m = /^ld(abs|ind)(b|h|w|dw)$/.exec(mn))) {
    if (m[1] === 'abs') {
      arity(mn, ops, 1);
      return { ins: insn(Class.LD | Mode.ABS | CONF_SIZE[m[2]!]!, 0, 0, 0, confImm(ops[0])) };
    }
    arity(mn, ops, 2);
    return {
      ins: insn(Class.LD | Mode.IND | CONF_SIZE[m[2]!]!, 0, confReg(ops[0]), 0, confImm(ops[1])),
    };
  }
  if ((m = /^st(x?)(b|h|w|dw)$/.exec(mn))) {
    arity(mn, ops, 2);
    const [dst, off] = confMem(ops[0]);
    const size = CONF_SIZE[m[2]!]!;
    if (m[1] === 'x') return { ins: insn(Class.STX | Mode.MEM | size, dst, confReg(ops[1]), off) };
    return { ins: insn(Class.ST | Mode.MEM | size, dst, 0, off, confImm(ops[1])) };
  }
  if (mn === 'lock') {
    const fetch = ops[0] === 'fetch';
    const rest = fetch ? ops.slice(1) : ops;
    arity('lock', rest, 3);
    const am = /^(add|or|and|xor|xchg|cmpxchg)(32)?$/.exec(rest[0]!);
    if (!am) throw new Error(`bad atomic operation "${rest[0]}"`);
    const [dst, off] = confMem(rest[1]);
    const size = am[2] ? Size.W : Size.DW;
    const op = CONF_ATOMIC[am[1]!]! | (fetch ? AtomicOp.FETCH : 0);
    return { ins: insn(Class.STX | Mode.ATOMIC | size, dst, confReg(rest[2]), off, BigInt(op)) };
  }
  if ((m = /^(be|le|swap|bswap)(16|32|64)$/.exec(mn))) {
    arity(mn, ops, 1);
    const code =
      m[1] === 'swap' || m[1] === 'bswap'
        ? Op.BSWAP
        : Class.ALU | AluOp.END | (m[1] === 'be' ? Source.X : Source.K);
    return { ins: insn(code, confReg(ops[0]), 0, 0, BigInt(m[2]!)) };
  }
  if ((m = /^movsx(8|16|32)(32|64)$/.exec(mn))) {
    arity(mn, ops, 2);
    const cls = m[2] === '32' ? Class.ALU : Class.ALU64;
    if (cls === Class.ALU && m[1] === '32') throw new Error(`movsx3232 does not exist`);
    return {
      ins: insn(cls | AluOp.MOV | Source.X, confReg(ops[0]), confReg(ops[1]), Number(m[1])),
    };
  }
  if ((m = /^([a-z]+?)(32|64)?$/.exec(mn)) && CONF_ALU[m[1]!] !== undefined) {
    const cls = m[2] === '32' ? Class.ALU : Class.ALU64;
    const op = CONF_ALU[m[1]!]!;
    const off = m[1] === 'sdiv' || m[1] === 'smod' ? 1 : 0;
    if (op === AluOp.NEG) {
      arity(mn, ops, 1);
      return { ins: insn(cls | op, confReg(ops[0])) };
    }
    arity(mn, ops, 2);
    if (ops[1]!.startsWith('%')) {
      return { ins: insn(cls | op | Source.X, confReg(ops[0]), confReg(ops[1]), off) };
    }
    return { ins: insn(cls | op | Source.K, confReg(ops[0]), 0, off, confImm(ops[1])) };
  }
  if ((m = /^([a-z]+?)(32)?$/.exec(mn)) && CONF_JMP[m[1]!] !== undefined) {
    arity(mn, ops, 3);
    const cls = m[2] ? Class.JMP32 : Class.JMP;
    const op = CONF_JMP[m[1]!]!;
    const dst = confReg(ops[0]);
    const ins = ops[1]!.startsWith('%')
      ? insn(cls | op | Source.X, dst, confReg(ops[1]))
      : insn(cls | op | Source.K, dst, 0, 0, confImm(ops[1]));
    return jumpTarget(ops[2], 'off', ins);
  }
  throw new Error(`unknown mnemonic "${mn}"`);
}

/**
 * Assembles the bpf_conformance suite's syntax (`mov32 %r0, 0`, `ldxb %r0, [%r1+0x2]`,
 * `lock fetch add [%r10-8], %r1`, `jeq %r1, 0, +2`, `call local fn`, labels `name:`).
 * As in the suite's own assembler, `#` starts a comment, labels count slots, and the first
 * `exit` is also reachable as the label `exit` unless a label of that name exists.
 */
export function parseConformanceAsm(text: string): Instruction[] {
  const insns: Instruction[] = [];
  const targets: (string | undefined)[] = [];
  const labels = new Map<string, number>();
  let implicitExit: number | undefined;
  text.split(/\r?\n/).forEach((raw, idx) => {
    const lineNo = idx + 1;
    let line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    let lm: RegExpExecArray | null;
    while ((lm = /^([A-Za-z_.$][\w.$]*):\s*/.exec(line))) {
      if (labels.has(lm[1]!))
        throw new Error(`conformance asm: line ${lineNo}: duplicate label "${lm[1]}"`);
      labels.set(lm[1]!, insns.length);
      line = line.slice(lm[0].length);
    }
    if (line === '') return;
    const parts = line.split(/\s+/);
    const mn = parts[0]!;
    const ops = parts
      .slice(1)
      .join(' ')
      .split(/\s*,\s*|\s+/)
      .filter((o) => o !== '');
    let p: ParsedInstruction;
    try {
      p = parseConformanceLine(mn, ops);
    } catch (e) {
      throw new Error(`conformance asm: line ${lineNo}: ${(e as Error).message}: "${line}"`);
    }
    if (mn === 'exit' && implicitExit === undefined) implicitExit = insns.length;
    insns.push(p.ins);
    targets.push(p.target);
  });
  if (implicitExit !== undefined && !labels.has('exit')) labels.set('exit', implicitExit);
  insns.forEach((ins, i) => {
    if (targets[i] !== undefined) ins.reference = targets[i];
  });
  try {
    return resolveLabels(insns, labels);
  } catch (e) {
    throw new Error(`conformance asm: ${(e as Error).message}`);
  }
}
