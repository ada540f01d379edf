/**
 * .BTF.ext: per-section func_info, line_info and CO-RE relocation records that clang emits next
 * to .BTF. Offsets stay in bytes within the ELF section, as in the object file; the loader turns
 * them into instruction indices once it has laid the program out.
 */
import { Btf, BtfError, BTF_MAGIC } from './btf.js';
import type { CoreReloKind } from './core-kind.js';

/** A function's BTF type at an instruction. */
export interface FuncInfo {
  /** Byte offset within the ELF section. */
  insnOff: number;
  /** Id of a BTF FUNC. */
  typeId: number;
}

/** A source position for an instruction. */
export interface LineInfo {
  /** Byte offset within the ELF section. */
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  /** The source file name, resolved from the BTF string table. */
  fileName: string;
  /** The source line's text, resolved from the BTF string table. */
  line: string;
  lineNum: number;
  col: number;
}

/** A CO-RE relocation record (struct bpf_core_relo). */
export interface CoreRelo {
  /** Byte offset within the ELF section. */
  insnOff: number;
  /** Local BTF type id of the root type. */
  typeId: number;
  /** Access string such as "0:1:2", resolved from the BTF string table. */
  accessStr: string;
  kind: CoreReloKind;
}

/** Parsed .BTF.ext, keyed by ELF section name. */
export interface BtfExt {
  funcInfo: Map<string, FuncInfo[]>;
  lineInfo: Map<string, LineInfo[]>;
  coreRelos: Map<string, CoreRelo[]>;
}

const EXT_HEADER_MIN = 24;
const EXT_HEADER_CORE = 32;

/** Parses .BTF.ext bytes; strings resolve through `btf` (the object's .BTF). */
export function parseBtfExt(bytes: Uint8Array, btf: Btf): BtfExt {
  try {
    return parseExt(bytes, btf);
  } catch (e) {
    if (e instanceof BtfError) throw e;
    throw new BtfError(`parse BTF.ext: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

function parseExt(bytes: Uint8Array, btf: Btf): BtfExt {
  if (bytes.byteLength < EXT_HEADER_MIN) {
    throw new BtfError(
      `parse BTF.ext: offset 0: ${bytes.byteLength} bytes is too short for a header`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint16(0, true);
  if (magic !== BTF_MAGIC)
    throw new BtfError(`parse BTF.ext: offset 0: bad magic 0x${magic.toString(16)}`);
  const version = dv.getUint8(2);
  if (version !== 1) throw new BtfError(`parse BTF.ext: offset 2: unsupported version ${version}`);
  const hdrLen = dv.getUint32(4, true);
  if (hdrLen < EXT_HEADER_MIN || hdrLen > bytes.byteLength) {
    throw new BtfError(`parse BTF.ext: offset 4: bad header length ${hdrLen}`);
  }
  const str = (off: number, where: number): string => {
    try {
      return btf.string(off);
    } catch {
      throw new BtfError(`parse BTF.ext: offset ${where}: string offset ${off} out of range`);
    }
  };
  const section = <T>(
    hdrField: number,
    what: string,
    minRec: number,
    rec: (off: number, secName: string) => T,
  ): Map<string, T[]> => {
    const out = new Map<string, T[]>();
    const off = dv.getUint32(hdrField, true);
    const len = dv.getUint32(hdrField + 4, true);
    if (len === 0) return out;
    let p = hdrLen + off;
    const end = p + len;
    if (off % 4 !== 0 || end > bytes.byteLength || p < hdrLen) {
      throw new BtfError(
        `parse BTF.ext: offset ${hdrField}: ${what} section [${off}, +${len}) out of bounds`,
      );
    }
    if (len < 4) throw new BtfError(`parse BTF.ext: offset ${p}: ${what} section too short`);
    const recSize = dv.getUint32(p, true);
    if (recSize < minRec || recSize % 4 !== 0 || recSize > 1024) {
      throw new BtfError(`parse BTF.ext: offset ${p}: ${what} record size ${recSize} is invalid`);
    }
    p += 4;
    while (p < end) {
      if (p + 8 > end)
        throw new BtfError(`parse BTF.ext: offset ${p}: ${what} block header truncated`);
      const secName = str(dv.getUint32(p, true), p);
      const num = dv.getUint32(p + 4, true);
      if (secName === '')
        throw new BtfError(`parse BTF.ext: offset ${p}: ${what} block has no section name`);
      if (num === 0)
        throw new BtfError(`parse BTF.ext: offset ${p}: ${what} block for ${secName} is empty`);
      p += 8;
      if (num > (end - p) / recSize) {
        throw new BtfError(
          `parse BTF.ext: offset ${p}: ${what} block for ${secName}: ${num} records of ${recSize} bytes run past the section`,
        );
      }
      const list = out.get(secName) ?? [];
      for (let i = 0; i < num; i++, p += recSize) list.push(rec(p, secName));
      out.set(secName, list);
    }
    return out;
  };
  const typeCount = btf.types.length;
  const checkType = (id: number, where: number, what: string): void => {
    if (id >= typeCount)
      throw new BtfError(`parse BTF.ext: offset ${where}: ${what} type id ${id} out of range`);
  };
  const funcInfo = section(8, 'func_info', 8, (p) => {
    const typeId = dv.getUint32(p + 4, true);
    checkType(typeId, p, 'func_info');
    return { insnOff: dv.getUint32(p, true), typeId };
  });
  const lineInfo = section(16, 'line_info', 16, (p) => {
    const fileNameOff = dv.getUint32(p + 4, true);
    const lineOff = dv.getUint32(p + 8, true);
    const lc = dv.getUint32(p + 12, true);
    return {
      insnOff: dv.getUint32(p, true),
      fileNameOff,
      lineOff,
      fileName: str(fileNameOff, p + 4),
      line: str(lineOff, p + 8),
      lineNum: lc >>> 10,
      col: lc & 0x3ff,
    };
  });
  let coreRelos = new Map<string, CoreRelo[]>();
  if (hdrLen >= EXT_HEADER_CORE) {
    coreRelos = section(24, 'core_relo', 16, (p) => {
      const typeId = dv.getUint32(p + 4, true);
      checkType(typeId, p, 'CO-RE relocation');
      const kind = dv.getUint32(p + 12, true);
      if (kind > 12)
        throw new BtfError(
          `parse BTF.ext: offset ${p + 12}: unknown CO-RE relocation kind ${kind}`,
        );
      return {
        insnOff: dv.getUint32(p, true),
        typeId,
        accessStr: str(dv.getUint32(p + 8, true), p + 8),
        kind: kind as CoreReloKind,
      };
    });
  }
  for (const [what, m] of [
    ['func_info', funcInfo],
    ['line_info', lineInfo],
    ['core_relo', coreRelos],
  ] as const) {
    for (const [sec, list] of m) {
      for (const r of list) {
        if (r.insnOff % 8 !== 0) {
          throw new BtfError(
            `parse BTF.ext: ${what} for ${sec}: insn offset ${r.insnOff} not a multiple of 8`,
          );
        }
      }
    }
  }
  return { funcInfo, lineInfo, coreRelos };
}
