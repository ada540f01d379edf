/** `iovisor prog dump`: the kernel's translated instructions with function names and C source lines. */
import { readFileSync } from 'node:fs';
import { disassemble } from '../../bpf/asm/disasm.js';
import { decodeInstructions, slotOffsets, type Instruction } from '../../bpf/asm/instruction.js';
import { btfFromId, BtfKind, type Program } from '../../bpf/index.js';
import { kernelFuncAndLineInfo } from '../../bpf/program-info.js';
import { xlatedInsnsByFd } from '../../bpf/index.js';
import { printJSON } from '../output.js';

let kallsyms: { base: bigint; byAddr: Map<bigint, string> } | undefined;

/** Helper calls in translated code hold an offset from __bpf_call_base; name them from kallsyms. */
function helperSymbol(imm: bigint): string | undefined {
  if (!kallsyms) {
    const byAddr = new Map<bigint, string>();
    let base = 0n;
    try {
      for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
        const [addr, , name] = line.split(' ');
        if (!addr || !name) continue;
        const a = BigInt('0x' + addr);
        if (name === '__bpf_call_base') base = a;
        if (name.startsWith('bpf_') && !byAddr.has(a)) byAddr.set(a, name);
      }
    } catch {
      // Without kallsyms, calls print as numbers.
    }
    kallsyms = { base, byAddr };
  }
  if (kallsyms.base === 0n) return undefined;
  return kallsyms.byAddr.get(kallsyms.base + imm);
}

/** Prints a program's translated instructions. */
export function dumpProgram(prog: Program, opts: { json: boolean; source: boolean }): void {
  const bytes = xlatedInsnsByFd(prog.fd.raw);
  if (bytes.byteLength === 0)
    throw new Error(`prog dump: the kernel returned no instructions for ${prog.name} (need root)`);
  const insns: Instruction[] = decodeInstructions(bytes);
  const info = prog.info();
  const starts = slotOffsets(insns);
  const bySlot = new Map<number, number>();
  starts.forEach((s, i) => bySlot.set(s, i));
  if (info.btfId) {
    try {
      const btf = btfFromId(info.btfId);
      const { funcs, lines } = kernelFuncAndLineInfo(prog.fd.raw);
      for (const f of funcs) {
        const t = btf.type(f.typeId);
        const i = bySlot.get(f.insnOff);
        if (i !== undefined && t.kind === BtfKind.Func) insns[i]!.symbol = t.name;
      }
      if (opts.source) {
        for (const l of lines) {
          const i = bySlot.get(l.insnOff);
          if (i === undefined) continue;
          insns[i]!.source = {
            file: btf.string(l.fileNameOff),
            line: btf.string(l.lineOff),
            lineNum: l.lineCol >>> 10,
            col: l.lineCol & 0x3ff,
          };
        }
      }
    } catch {
      // BTF is optional for a dump.
    }
  }
  if (insns[0] && insns[0].symbol === undefined) insns[0].symbol = prog.name;
  const named = insns.map((ins) => {
    if (ins.code === 0x85 && ins.src === 0) {
      const sym = helperSymbol(ins.imm);
      if (sym) return { ...ins, reference: sym };
    }
    return ins;
  });
  if (opts.json) {
    printJSON(
      named.map((ins, i) => ({
        slot: starts[i],
        code: ins.code,
        dst: ins.dst,
        src: ins.src,
        off: ins.off,
        imm: ins.imm,
        text: disassemble([{ ...ins, symbol: undefined, source: undefined }], {
          style: 'bpftool',
          annotate: false,
        })
          .trim()
          .replace(/^\s*\d+:\s*/, ''),
        ...(ins.reference ? { call: ins.reference } : {}),
        ...(ins.source ? { source: ins.source } : {}),
      })),
    );
    return;
  }
  process.stdout.write(disassemble(named, { style: 'bpftool', source: opts.source }) + '\n');
}
