/**
 * Object disassembly for `iovisor disasm`: every program of an object as the loader links it
 * (entry point plus called subprograms, map references named), or every executable ELF section
 * as it is in the file, which is what `llvm-objdump -d` shows. Both carry C source lines from
 * the object's BTF line_info.
 */
import { readFileSync } from 'node:fs';
import {
  Btf,
  parseCollectionSpec,
  parseElf,
  objectName,
  programTypeName,
  type ProgramSpec,
} from '../bpf/index.js';
import {
  decodeInstructions,
  disassemble,
  fromRawSlots,
  slotOffsets,
  type DisassembleOptions,
  type Instruction,
} from '../bpf/asm/index.js';
import { parseBtfExt, type LineInfo } from '../bpf/btf/index.js';

const SHF_EXECINSTR = 4n;
const STT_NOTYPE = 0;
const STT_FUNC = 2;

/** One disassembled unit: a linked program or an ELF section. */
export interface DisasmUnit {
  /** Program name (linked mode) or section name (section mode). */
  name: string;
  section: string;
  /** Program type, linked mode only. */
  type?: string;
  instructions: Instruction[];
  /** The listing text. */
  text: string;
}

/** Options for {@link disassembleObject}. */
export interface ObjectDisasmOptions extends DisassembleOptions {
  /** `programs` (default): as linked by the loader. `sections`: raw executable sections. */
  mode?: 'programs' | 'sections';
  /** Only this section (either mode) or program (programs mode). */
  only?: string;
}

/** Instructions of a linked program with symbols and source lines attached. */
export function programInstructions(p: ProgramSpec): Instruction[] {
  const insns = fromRawSlots(p.insns);
  const slots = slotOffsets(insns);
  const bySlot = new Map<number, Instruction>();
  insns.forEach((ins, i) => bySlot.set(slots[i]!, ins));
  for (const [slot, name] of p.symbols) {
    const ins = bySlot.get(slot);
    if (ins) ins.symbol = name;
  }
  for (const li of p.lineInfo) {
    const ins = bySlot.get(li.slot);
    if (ins) ins.source = { file: li.fileName, line: li.line, lineNum: li.lineNum, col: li.col };
  }
  // Name map references the way bpftool does, for readability of the listing.
  for (const ref of p.references) {
    const ins = bySlot.get(ref.slot);
    if (ins && (ref.kind === 'map' || ref.kind === 'map_value')) ins.reference = ref.map;
  }
  return insns;
}

/**
 * Executable sections of an object file as they are stored (what llvm-objdump shows), with
 * function and label symbols and line_info source lines.
 */
export function sectionInstructions(bytes: Uint8Array): Map<string, Instruction[]> {
  const elf = parseElf(bytes);
  let lineInfo = new Map<string, LineInfo[]>();
  const btfSec = elf.sectionByName('.BTF');
  const extSec = elf.sectionByName('.BTF.ext');
  if (btfSec && extSec) {
    try {
      const btf = Btf.parse(btfSec.data);
      lineInfo = parseBtfExt(extSec.data, btf).lineInfo;
    } catch {
      // Without readable BTF the listing simply has no source lines.
    }
  }
  const out = new Map<string, Instruction[]>();
  for (const sec of elf.sections) {
    if ((sec.flags & SHF_EXECINSTR) === 0n || sec.data.byteLength === 0) continue;
    const insns = decodeInstructions(sec.data);
    const slots = slotOffsets(insns);
    const at = new Map<number, Instruction>();
    insns.forEach((ins, i) => at.set(slots[i]! * 8, ins));
    const syms = elf.symbols
      .filter(
        (s) =>
          s.sectionIndex === sec.index &&
          s.name !== '' &&
          (s.type === STT_FUNC || s.type === STT_NOTYPE),
      )
      .sort((a, b) => a.value - b.value || b.type - a.type);
    for (const s of syms) {
      const ins = at.get(s.value);
      if (ins && ins.symbol === undefined) ins.symbol = s.name;
    }
    for (const li of lineInfo.get(sec.name) ?? []) {
      const ins = at.get(li.insnOff);
      if (ins) ins.source = { file: li.fileName, line: li.line, lineNum: li.lineNum, col: li.col };
    }
    out.set(sec.name, insns);
  }
  return out;
}

/** Disassembles an object file; see {@link ObjectDisasmOptions}. */
export function disassembleObject(file: string, opts: ObjectDisasmOptions = {}): DisasmUnit[] {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new Error(`disasm ${file}: ${(err as Error).message}`, { cause: err });
  }
  const units: DisasmUnit[] = [];
  if (opts.mode === 'sections') {
    for (const [name, insns] of sectionInstructions(bytes)) {
      if (opts.only !== undefined && name !== opts.only) continue;
      units.push({ name, section: name, instructions: insns, text: disassemble(insns, opts) });
    }
  } else {
    const spec = parseCollectionSpec(bytes, objectName(file), file);
    for (const p of spec.programs.values()) {
      if (opts.only !== undefined && p.name !== opts.only && p.sectionName !== opts.only) continue;
      const insns = programInstructions(p);
      units.push({
        name: p.name,
        section: p.sectionName,
        type: programTypeName(p.type),
        instructions: insns,
        text: disassemble(insns, opts),
      });
    }
  }
  if (opts.only !== undefined && units.length === 0)
    throw new Error(
      `disasm ${file}: no ${opts.mode === 'sections' ? 'section' : 'program or section'} ${opts.only}`,
    );
  return units;
}
