/**
 * The engine library: parse eBPF objects into specs, turn them into live maps and programs,
 * run and inspect them.
 */
export * from './types.js';
export * from './spec.js';
export * from './map.js';
export * from './program.js';
export * from './collection.js';
export * from './verifier.js';
export * from './retcodes.js';
export * from './kernel-btf.js';
export { ClosedError, FD } from './fd.js';
export { ElfError, parseElf } from './elf/elf.js';
export {
  loadCollectionSpec,
  parseCollectionSpec,
  ObjectError,
  objectName,
  internalMapName,
} from './elf/reader.js';
export { sectionDef, sectionPatterns, type SectionDef } from './elf/sections.js';
export { Btf, BtfError } from './btf/btf.js';
export { BtfKind, type BtfType } from './btf/types.js';
export * from './link/index.js';
export * from './ringbuf.js';
export * from './perf.js';
export * as features from './features/index.js';
