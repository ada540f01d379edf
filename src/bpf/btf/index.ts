/** BTF: the type model, raw BTF and .BTF.ext parsing, kernel fixups, CO-RE, value codec and C output. */
export * from './types.js';
export { Btf, BtfError, BTF_MAGIC, essentialName } from './btf.js';
export type { BtfExt, FuncInfo, LineInfo, CoreRelo } from './ext.js';
export { parseBtfExt } from './ext.js';
export {
  fixupForKernel,
  VAR_STATIC,
  VAR_GLOBAL_ALLOCATED,
  VAR_GLOBAL_EXTERN,
  FUNC_STATIC,
  FUNC_GLOBAL,
  FUNC_EXTERN,
  DUMMY_KSYM,
} from './fixup.js';
export { applyCoreRelocations, CoreReloKind, CORE_POISON_IMM } from './core.js';
export type { CoreFixup } from './core.js';
export { encodeValue, decodeValue, parseValueText } from './codec.js';
export { formatCDecl, writeCHeader } from './format.js';
export type { CHeaderOptions } from './format.js';
