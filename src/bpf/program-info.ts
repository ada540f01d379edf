/** Reading a loaded program's func_info and line_info back from the kernel. */
import { sys } from '../sys/index.js';
import { StructReader } from './attr.js';
import { objInfo } from './fd.js';

/** A kernel func_info record: the slot a function starts at and its BTF FUNC id. */
export interface KernelFuncInfo {
  insnOff: number;
  typeId: number;
}

/** A kernel line_info record (offsets into the program's BTF string table). */
export interface KernelLineInfo {
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  lineCol: number;
}

/** func_info and line_info of a loaded program, with offsets in translated instructions. */
export function kernelFuncAndLineInfo(fd: number): {
  funcs: KernelFuncInfo[];
  lines: KernelLineInfo[];
} {
  const first = new StructReader(objInfo(fd, 232));
  const nFunc = first.u32(144);
  const funcRec = first.u32(132) || 8;
  const nLine = first.u32(148);
  const lineRec = first.u32(172) || 16;
  const funcBuf = new Uint8Array(nFunc * funcRec);
  const lineBuf = new Uint8Array(nLine * lineRec);
  objInfo(fd, 232, (info) => {
    const dv = new DataView(info.buffer);
    dv.setUint32(132, funcRec, true);
    dv.setUint32(144, nFunc, true);
    dv.setBigUint64(136, nFunc ? sys().address(funcBuf) : 0n, true);
    dv.setUint32(172, lineRec, true);
    dv.setUint32(148, nLine, true);
    dv.setBigUint64(152, nLine ? sys().address(lineBuf) : 0n, true);
  });
  const f = new DataView(funcBuf.buffer);
  const l = new DataView(lineBuf.buffer);
  return {
    funcs: Array.from({ length: nFunc }, (_, i) => ({
      insnOff: f.getUint32(i * funcRec, true),
      typeId: f.getUint32(i * funcRec + 4, true),
    })),
    lines: Array.from({ length: nLine }, (_, i) => ({
      insnOff: l.getUint32(i * lineRec, true),
      fileNameOff: l.getUint32(i * lineRec + 4, true),
      lineOff: l.getUint32(i * lineRec + 8, true),
      lineCol: l.getUint32(i * lineRec + 12, true),
    })),
  };
}
