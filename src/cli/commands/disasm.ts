/** `iovisor disasm`: llvm-objdump style listings of an object's programs with C source lines. */
import { disassembleObject, type DisasmUnit } from '../../toolchain/index.js';
import { formatInstruction, slotOffsets } from '../../bpf/asm/index.js';
import { parseArgs, positional } from '../args.js';
import { printJSON } from '../output.js';

/** Usage text. */
export const disasmUsage = `iovisor disasm FILE.o [--program P] [--sections | --section S] [--raw-bytes]
                [--llvm] [--no-source] [--json]`;

function toJSON(u: DisasmUnit): unknown {
  const slots = slotOffsets(u.instructions);
  return {
    name: u.name,
    section: u.section,
    type: u.type,
    instructions: u.instructions.map((ins, i) => ({
      slot: slots[i],
      symbol: ins.symbol,
      reference: ins.reference,
      text: formatInstruction(ins),
      code: ins.code,
      dst: ins.dst,
      src: ins.src,
      off: ins.off,
      imm: ins.imm,
      source: ins.source
        ? { file: ins.source.file, line: ins.source.lineNum, text: ins.source.line.trim() }
        : undefined,
    })),
  };
}

/** Runs `disasm`. */
export function disasmCommand(argv: string[]): void {
  const p = parseArgs(
    argv,
    {
      program: 'string',
      section: 'string',
      sections: 'boolean',
      'raw-bytes': 'boolean',
      llvm: 'boolean',
      'no-source': 'boolean',
      json: 'boolean',
    },
    'disasm',
  );
  const file = positional(p, 0, 'FILE.o', 'disasm');
  const sectionMode = p.flags.sections === true || p.flags.section !== undefined;
  const units = disassembleObject(file, {
    mode: sectionMode ? 'sections' : 'programs',
    only: (p.flags.section ?? p.flags.program) as string | undefined,
    rawBytes: p.flags['raw-bytes'] === true,
    llvmCompat: p.flags.llvm === true,
    source: p.flags['no-source'] !== true,
  });
  if (p.flags.json) return printJSON(units.map(toJSON));
  const out: string[] = [];
  for (const u of units) {
    out.push(
      sectionMode
        ? `Disassembly of section ${u.section}:\n`
        : `Program ${u.name} (section ${u.section}, ${u.type}):\n`,
    );
    out.push(u.text);
  }
  process.stdout.write(out.join('\n'));
}
