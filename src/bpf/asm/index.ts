/**
 * eBPF instruction set: opcodes, the {@link Instruction} model with encode/decode, an
 * llvm-objdump compatible disassembler, assemblers for llvm-objdump and bpf_conformance syntax,
 * and a typed builder.
 */
export * from './raw.js';
export * from './opcodes.js';
export * from './instruction.js';
export { resolveLabels, labelField } from './labels.js';
export { helperName, helperId, HELPER_NAMES } from './helpers.js';
export {
  formatInstruction,
  disassemble,
  type FormatOptions,
  type DisassembleOptions,
} from './disasm.js';
export {
  assemble,
  parseInstruction,
  parseConformanceAsm,
  parseInteger,
  type ParsedInstruction,
} from './assemble.js';
export { parseConformanceFile, type ConformanceFile } from './conformance-file.js';
export * as build from './builder.js';
export { Program, label } from './builder.js';
