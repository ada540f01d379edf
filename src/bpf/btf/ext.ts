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

/** A run of `num` records of `recSize` bytes starting at byte `p` of the .BTF.ext section. */
export interface ExtBlock {
  p: number;
  num: number;
  recSize: number;
  /** Records in insn_off order (what clang writes): a reader may search instead of scanning. */
  sorted: boolean;
}

/**
 * .BTF.ext indexed, not decoded: per ELF section name, where its func_info and line_info
 * records lie in the section (read through `dv`), so a loader copies the records it needs
 * without an object per record. Every record was checked when indexed (offsets, type ids,
 * string offsets). CO-RE records, few and needed as objects, are decoded.
 */
export interface BtfExtIndex {
  dv: DataView;
  funcInfo: Map<string, ExtBlock[]>;
  lineInfo: Map<string, ExtBlock[]>;
  coreRelos: Map<string, CoreRelo[]>;
}

const EXT_HEADER_MIN = 24;
const EXT_HEADER_CORE = 32;

/** Parses .BTF.ext bytes; strings resolve through `btf` (the object's .BTF). */
export function parseBtfExt(bytes: Uint8Array, btf: Btf): BtfExt {
  const ix = indexBtfExt(bytes, btf);
  const { dv } = ix;
  const funcInfo = new Map<string, FuncInfo[]>();
  for (const [sec, blocks] of ix.funcInfo) {
    const list: FuncInfo[] = [];
    for (const { p, num, recSize } of blocks)
      for (let i = 0, q = p; i < num; i++, q += recSize)
        list.push({ insnOff: dv.getUint32(q, true), typeId: dv.getUint32(q + 4, true) });
    funcInfo.set(sec, list);
  }
  const lineInfo = new Map<string, LineInfo[]>();
  for (const [sec, blocks] of ix.lineInfo) {
    const list: LineInfo[] = [];
    for (const { p, num, recSize } of blocks) {
      for (let i = 0, q = p; i < num; i++, q += recSize) {
        list.push(
          lineInfo4(
            dv.getUint32(q, true),
            dv.getUint32(q + 4, true),
            dv.getUint32(q + 8, true),
            dv.getUint32(q + 12, true),
            btf,
          ),
        );
      }
    }
    lineInfo.set(sec, list);
  }
  return { funcInfo, lineInfo, coreRelos: ix.coreRelos };
}

/**
 * A line_info record as an object from its four words (`struct bpf_line_info`). Strings were
 * range-checked when indexed, so they resolve.
 */
export function lineInfo4(
  insnOff: number,
  fileNameOff: number,
  lineOff: number,
  lineCol: number,
  btf: Btf,
): LineInfo {
  // Words may arrive as signed 32-bit numbers.
  fileNameOff >>>= 0;
  lineOff >>>= 0;
  return {
    insnOff,
    fileNameOff,
    lineOff,
    fileName: btf.string(fileNameOff),
    line: btf.string(lineOff),
    lineNum: lineCol >>> 10,
    col: lineCol & 0x3ff,
  };
}

/** Checks and indexes .BTF.ext bytes; see {@link BtfExtIndex}. */
export function indexBtfExt(bytes: Uint8Array, btf: Btf): BtfExtIndex {
  try {
    return parseExt(bytes, btf);
  } catch (e) {
    if (e instanceof BtfError) throw e;
    throw new BtfError(`parse BTF.ext: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

function parseExt(bytes: Uint8Array, btf: Btf): BtfExtIndex {
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
  // Line strings are only range-checked here (decoding every source line costs more than the
  // rest of the parse); they are decoded when a line is shown.
  const strLimit = btf.stringsLength();
  const checkStr = (off: number, where: number): void => {
    if (off >= strLimit)
      throw new BtfError(`parse BTF.ext: offset ${where}: string offset ${off} out of range`);
  };
  const typeCount = btf.count;
  const checkType = (id: number, where: number, what: string): void => {
    if (id >= typeCount)
      throw new BtfError(`parse BTF.ext: offset ${where}: ${what} type id ${id} out of range`);
  };
  const checkOff = (insnOff: number, what: string, sec: string): void => {
    if (insnOff % 8 !== 0) {
      throw new BtfError(
        `parse BTF.ext: ${what} for ${sec}: insn offset ${insnOff} not a multiple of 8`,
      );
    }
  };
  /** Walks one sub-section's blocks: `block(secName, firstRecord, count, recSize)`. */
  const blocks = (
    hdrField: number,
    what: string,
    minRec: number,
    block: (secName: string, p: number, num: number, recSize: number) => void,
  ): void => {
    const off = dv.getUint32(hdrField, true);
    const len = dv.getUint32(hdrField + 4, true);
    if (len === 0) return;
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
      block(secName, p, num, recSize);
      p += num * recSize;
    }
  };
  const add = (m: Map<string, ExtBlock[]>, sec: string, block: ExtBlock): void => {
    const list = m.get(sec);
    if (list === undefined) m.set(sec, [block]);
    else list.push(block);
  };

  const funcInfo = new Map<string, ExtBlock[]>();
  blocks(8, 'func_info', 8, (sec, p, num, recSize) => {
    let sorted = true;
    for (let i = 0, q = p, prev = 0; i < num; i++, q += recSize) {
      const insnOff = dv.getUint32(q, true);
      checkType(dv.getUint32(q + 4, true), q, 'func_info');
      checkOff(insnOff, 'func_info', sec);
      if (insnOff < prev) sorted = false;
      prev = insnOff;
    }
    add(funcInfo, sec, { p, num, recSize, sorted });
  });
  const lineInfo = new Map<string, ExtBlock[]>();
  blocks(16, 'line_info', 16, (sec, p, num, recSize) => {
    let sorted = true;
    for (let i = 0, q = p, prev = 0; i < num; i++, q += recSize) {
      const insnOff = dv.getUint32(q, true);
      checkStr(dv.getUint32(q + 4, true), q + 4);
      checkStr(dv.getUint32(q + 8, true), q + 8);
      checkOff(insnOff, 'line_info', sec);
      if (insnOff < prev) sorted = false;
      prev = insnOff;
    }
    add(lineInfo, sec, { p, num, recSize, sorted });
  });
  const coreRelos = new Map<string, CoreRelo[]>();
  if (hdrLen >= EXT_HEADER_CORE) {
    blocks(24, 'core_relo', 16, (sec, p, num, recSize) => {
      let list = coreRelos.get(sec);
      if (list === undefined) coreRelos.set(sec, (list = []));
      for (let i = 0; i < num; i++, p += recSize) {
        const insnOff = dv.getUint32(p, true);
        const typeId = dv.getUint32(p + 4, true);
        checkType(typeId, p, 'CO-RE relocation');
        const kind = dv.getUint32(p + 12, true);
        if (kind > 12)
          throw new BtfError(
            `parse BTF.ext: offset ${p + 12}: unknown CO-RE relocation kind ${kind}`,
          );
        checkOff(insnOff, 'core_relo', sec);
        list.push({
          insnOff,
          typeId,
          accessStr: str(dv.getUint32(p + 8, true), p + 8),
          kind: kind as CoreReloKind,
        });
      }
    });
  }
  return { dv, funcInfo, lineInfo, coreRelos };
}
