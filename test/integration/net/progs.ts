/**
 * Minimal eBPF programs for the TC/XDP attach tests, loaded straight through the sys seam:
 * the project's loader is written in parallel, and these tests only need a valid program fd.
 */
import { BpfCmd, BPF_ATTR_SIZE, sys } from '../../../src/sys/index.js';

/** BPF_PROG_TYPE_SCHED_CLS. */
export const PROG_TYPE_SCHED_CLS = 3;
/** BPF_PROG_TYPE_XDP. */
export const PROG_TYPE_XDP = 6;

/** XDP verdicts. */
export const XDP_DROP = 1;
export const XDP_PASS = 2;
/** TC verdicts (direct action). */
export const TC_ACT_OK = 0;
export const TC_ACT_SHOT = 2;

/** Loads `r0 = ret; exit` as a program of `type`; returns its fd (close it when done). */
export function loadReturnProgram(type: number, ret: number, name: string): number {
  const insns = new Uint8Array(16);
  insns[0] = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K, dst r0
  new DataView(insns.buffer).setInt32(4, ret, true);
  insns[8] = 0x95; // BPF_JMP | BPF_EXIT
  const license = new TextEncoder().encode('GPL\0');
  const attr = new Uint8Array(BPF_ATTR_SIZE);
  const dv = new DataView(attr.buffer);
  const s = sys();
  dv.setUint32(0, type, true);
  dv.setUint32(4, 2, true);
  dv.setBigUint64(8, s.address(insns), true);
  dv.setBigUint64(16, s.address(license), true);
  attr.set(new TextEncoder().encode(name.slice(0, 15)), 48);
  return s.bpf(BpfCmd.PROG_LOAD, attr);
}

/** The kernel's id for a program fd (bpf_prog_info.id via OBJ_GET_INFO_BY_FD). */
export function progId(fd: number): number {
  const info = new Uint8Array(256);
  const attr = new Uint8Array(BPF_ATTR_SIZE);
  const dv = new DataView(attr.buffer);
  const s = sys();
  dv.setUint32(0, fd, true);
  dv.setUint32(4, info.byteLength, true);
  dv.setBigUint64(8, s.address(info), true);
  s.bpf(BpfCmd.OBJ_GET_INFO_BY_FD, attr);
  return new DataView(info.buffer).getUint32(4, true);
}
