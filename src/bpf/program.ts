/**
 * Live programs: load (with verifier-log handling in the manner of cilium/ebpf), test-run, pin,
 * inspect.
 */
import { BPF_ATTR_SIZE, BpfCmd, isErrno, sys, SysError } from '../sys/index.js';
import {
  decodeWords,
  encodeRawInto,
  OP_LD_IMM64,
  PSEUDO_BTF_ID,
  PSEUDO_MAP_FD,
  PSEUDO_MAP_VALUE,
  type RawInsn,
  writeInsnImm,
  writeInsnSrc,
} from './asm/raw.js';
import { Attr, StructReader } from './attr.js';
import { align8, arena, writeObjectName } from './scratch.js';
import { Btf } from './btf/btf.js';
import { applyCoreRelocations } from './btf/core.js';
import { BtfKind } from './btf/types.js';
import { FD, fdById, nextIds, objInfo, openPinnedFd, pinFd } from './fd.js';
import type { BpfMap } from './map.js';
import { kernelObjectName } from './map.js';
import { EncodedProgramSpec, type ProgramSpec } from './spec.js';
import { AttachType, ProgramType, programTypeName } from './types.js';
import { VerifierError } from './verifier.js';

/** Options for loading one program. */
export interface ProgramLoadOptions {
  /** Maps referenced by the program, by name. */
  maps?: Map<string, BpfMap>;
  /** fd of the object's BTF in the kernel (enables func_info/line_info). */
  btfFd?: number;
  /** Kernel BTF for CO-RE and attach targets (default: /sys/kernel/btf/vmlinux). */
  kernelBtf?: Btf;
  /** Verifier log level to use on the first attempt (0: only retry with a log on failure). */
  logLevel?: number;
  /** Initial verifier log size in bytes. */
  logSize?: number;
}

/** What the kernel reports about a program. */
export interface ProgramInfo {
  id: number;
  type: ProgramType;
  typeName: string;
  name: string;
  tag: string;
  loadTime: bigint;
  mapIds: number[];
  btfId: number;
  xlatedLen: number;
  jitedLen: number;
  runTimeNs: bigint;
  runCount: bigint;
  verifiedInsns: number;
}

/** The outcome of BPF_PROG_TEST_RUN. */
export interface TestRunResult {
  retval: number;
  /** Average duration of one run in nanoseconds. */
  duration: number;
  dataOut: Uint8Array;
  ctxOut?: Uint8Array;
}

/** Input for BPF_PROG_TEST_RUN. */
export interface TestRunOptions {
  data?: Uint8Array;
  ctx?: Uint8Array;
  repeat?: number;
  flags?: number;
  cpu?: number;
  /** Room for output data (default: input size plus 512). */
  dataOutSize?: number;
  ctxOutSize?: number;
}

const LOG_MAX = 0xffffffff >>> 2;

/** Reads program info from an fd. */
export function programInfoByFd(fd: number): ProgramInfo {
  const first = new StructReader(objInfo(fd, 232));
  const nrMaps = first.u32(52);
  const ids = new Uint8Array(nrMaps * 4);
  const r = new StructReader(
    objInfo(fd, 232, (info) => {
      const dv = new DataView(info.buffer);
      dv.setUint32(52, nrMaps, true);
      dv.setBigUint64(56, nrMaps ? sys().address(ids) : 0n, true);
    }),
  );
  const type = r.u32(0) as ProgramType;
  const idv = new DataView(ids.buffer);
  return {
    type,
    typeName: programTypeName(type),
    id: r.u32(4),
    tag: Buffer.from(r.bytes.subarray(8, 16)).toString('hex'),
    jitedLen: r.u32(16),
    xlatedLen: r.u32(20),
    loadTime: r.u64(40),
    mapIds: Array.from({ length: nrMaps }, (_, i) => idv.getUint32(i * 4, true)),
    name: r.str(64, 16),
    btfId: r.u32(128),
    runTimeNs: r.u64(192),
    runCount: r.u64(200),
    verifiedInsns: r.u32(216),
  };
}

/** Reads the translated (post-verifier) instructions the kernel holds for a program. */
export function xlatedInsnsByFd(fd: number): Uint8Array {
  const len = new StructReader(objInfo(fd, 232)).u32(20);
  const buf = new Uint8Array(len);
  objInfo(fd, 232, (info) => {
    const dv = new DataView(info.buffer);
    dv.setUint32(20, len, true);
    dv.setBigUint64(32, sys().address(buf), true);
  });
  return buf;
}

/** The BTF id a tracing program attaches to, as libbpf finds it. */
function attachBtfId(spec: ProgramSpec, kbtf: Btf): number | undefined {
  if (spec.type !== ProgramType.Tracing && spec.type !== ProgramType.LSM) return undefined;
  const t = spec.attachTo;
  let candidates: [string, BtfKind][];
  switch (spec.attachType) {
    case AttachType.TraceRawTp:
      candidates = [[`btf_trace_${t}`, BtfKind.Typedef]];
      break;
    case AttachType.LSMMac:
    case AttachType.LSMCgroup:
      candidates = [[`bpf_lsm_${t}`, BtfKind.Func]];
      break;
    case AttachType.TraceIter:
      candidates = [[`bpf_iter_${t}`, BtfKind.Func]];
      break;
    default:
      candidates = [[t, BtfKind.Func]];
  }
  for (const [name, kind] of candidates) {
    const ids = kbtf.findByName(name, kind);
    if (ids.length > 0) return ids[0];
  }
  throw new Error(
    `attach target "${t}" not found in kernel BTF (looked for ${candidates.map((c) => c[0]).join(', ')})`,
  );
}

/**
 * Resolves map, kfunc and ksym references in the `n` encoded instructions at `off` of `bytes`
 * (patched in place, so no instruction object is copied per load).
 */
function patchReferences(
  spec: ProgramSpec,
  maps: ReadonlyMap<string, BpfMap>,
  kbtf: () => Btf,
  bytes: Uint8Array,
  off: number,
  n: number,
): void {
  for (const ref of spec.references) {
    const hasNext = ref.slot + 1 < n;
    const o = off + ref.slot * 8;
    if (ref.slot < 0 || ref.slot >= n)
      throw new Error(`insn ${ref.slot}: reference beyond the program's ${n} instructions`);
    switch (ref.kind) {
      case 'map':
      case 'map_value': {
        const m = maps.get(ref.map);
        if (!m) throw new Error(`insn ${ref.slot}: map ${ref.map} was not created`);
        if (bytes[o] !== OP_LD_IMM64 || !hasNext)
          throw new Error(`insn ${ref.slot}: map reference is not an ld_imm64`);
        writeInsnSrc(bytes, o, ref.kind === 'map' ? PSEUDO_MAP_FD : PSEUDO_MAP_VALUE);
        writeInsnImm(bytes, o, m.fd.raw);
        writeInsnImm(bytes, o + 8, ref.kind === 'map_value' ? ref.offset | 0 : 0);
        break;
      }
      case 'kfunc': {
        const ids = kbtf().findByName(ref.name, BtfKind.Func);
        if (ids.length === 0)
          throw new Error(`insn ${ref.slot}: kfunc ${ref.name} not found in kernel BTF`);
        writeInsnImm(bytes, o, ids[0]!);
        bytes[o + 2] = 0;
        bytes[o + 3] = 0;
        break;
      }
      case 'ksym': {
        const ids = kbtf().findByName(ref.name, BtfKind.Var);
        if (ids.length === 0)
          throw new Error(`insn ${ref.slot}: ksym ${ref.name} not found in kernel BTF`);
        writeInsnSrc(bytes, o, PSEUDO_BTF_ID);
        writeInsnImm(bytes, o, ids[0]!);
        if (hasNext) writeInsnImm(bytes, o + 8, 0);
        break;
      }
    }
  }
}

/**
 * The parts of a spec the loader writes into `bpf_attr`: words when the spec still holds them
 * (an EncodedProgramSpec whose parts nobody asked for as objects), else the objects.
 */
interface LoadParts {
  code?: number[];
  insns?: readonly RawInsn[];
  nInsns: number;
  funcInfo?: number[];
  lineInfo?: number[];
  nFuncInfo: number;
  nLineInfo: number;
}

function loadParts(spec: ProgramSpec, withCore: (insns: RawInsn[]) => void): LoadParts {
  const enc = spec instanceof EncodedProgramSpec ? spec.encoded() : undefined;
  let code = enc?.code;
  let insns: RawInsn[] | undefined;
  if (spec.coreRelos.length > 0) {
    // CO-RE rewrites a private copy of the instructions as objects.
    insns = code !== undefined ? decodeWords(code) : spec.insns.map((i) => ({ ...i }));
    code = undefined;
    withCore(insns);
  } else if (code === undefined) {
    insns = spec.insns;
  }
  const funcInfo = enc?.funcInfo;
  const lineInfo = enc?.lineInfo;
  return {
    code,
    insns,
    nInsns: code !== undefined ? code.length / 2 : insns!.length,
    funcInfo,
    lineInfo,
    nFuncInfo: funcInfo !== undefined ? funcInfo.length / 2 : spec.funcInfo.length,
    nLineInfo: lineInfo !== undefined ? lineInfo.length / 4 : spec.lineInfo.length,
  };
}

/** True when every character is 7-bit ASCII, so char codes are the UTF-8 bytes. */
function asciiOnly(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** A program's load laid out (sizes and offsets within its arena region), nothing written. */
interface Layout {
  spec: ProgramSpec;
  parts: LoadParts;
  kbtf: () => Btf;
  nInsns: number;
  nFuncInfo: number;
  nLineInfo: number;
  /** Whether func_info and line_info go to the kernel (the object's BTF is loaded). */
  useBtf: boolean;
  license: string;
  /** The license as UTF-8 when it is not ASCII (else written char by char). */
  licenseBytes: Uint8Array | undefined;
  licenseLen: number;
  codeOff: number;
  licenseOff: number;
  funcOff: number;
  lineOff: number;
  end: number;
  /** Bytes of the region: attr, code, license, func_info, line_info, each 8-aligned. */
  size: number;
}

/** Prepares the instructions (CO-RE included) and sizes a program's region of the arena. */
function layOut(spec: ProgramSpec, opts: ProgramLoadOptions): Layout {
  let kernelBtf = opts.kernelBtf;
  const kbtf = (): Btf => (kernelBtf ??= Btf.kernel());
  let parts: LoadParts;
  try {
    parts = loadParts(spec, (insns) => {
      if (!spec.btf) throw new Error('CO-RE relocations without BTF');
      applyCoreRelocations(insns, spec.coreRelos, spec.btf, kbtf());
    });
  } catch (err) {
    throw new Error(`load program ${spec.name}: ${(err as Error).message}`, { cause: err });
  }
  const { nInsns, nFuncInfo, nLineInfo } = parts;
  const useBtf = opts.btfFd !== undefined && nFuncInfo > 0;
  const license = spec.license || 'GPL';
  const licenseBytes = asciiOnly(license) ? undefined : new TextEncoder().encode(license);
  const licenseLen = (licenseBytes?.byteLength ?? license.length) + 1;
  const codeOff = align8(BPF_ATTR_SIZE);
  const licenseOff = align8(codeOff + nInsns * 8);
  const funcOff = align8(licenseOff + licenseLen);
  const lineOff = align8(funcOff + (useBtf ? nFuncInfo * 8 : 0));
  const end = lineOff + (useBtf ? nLineInfo * 16 : 0);
  return {
    spec,
    parts,
    kbtf,
    nInsns,
    nFuncInfo,
    nLineInfo,
    useBtf,
    license,
    licenseBytes,
    licenseLen,
    codeOff,
    licenseOff,
    funcOff,
    lineOff,
    end,
    size: align8(end),
  };
}

/**
 * Writes a laid-out program at `base` of the arena (reserved by the caller): code with its map,
 * kfunc and ksym references resolved, license, func_info, line_info and the attr itself, each
 * pointer aimed into the region. Returns the attach target's BTF id for tracing programs.
 */
function writeLoad(l: Layout, base: number, opts: ProgramLoadOptions): number | undefined {
  const { spec, parts, nInsns, nFuncInfo, nLineInfo, useBtf, license, licenseBytes } = l;
  const where = `load program ${spec.name}`;
  const { bytes, dv } = arena;
  const codeOff = base + l.codeOff;
  const licenseOff = base + l.licenseOff;
  const funcOff = base + l.funcOff;
  const lineOff = base + l.lineOff;
  if (parts.code !== undefined) arena.setWords(codeOff, parts.code);
  else encodeRawInto(bytes, codeOff, parts.insns!);
  try {
    patchReferences(spec, opts.maps ?? NO_MAPS, l.kbtf, bytes, codeOff, nInsns);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`, { cause: err });
  }
  // After the references, as before: their errors come first.
  let btfId: number | undefined;
  try {
    btfId =
      spec.type === ProgramType.Tracing || spec.type === ProgramType.LSM
        ? attachBtfId(spec, l.kbtf())
        : undefined;
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`, { cause: err });
  }

  if (licenseBytes) bytes.set(licenseBytes, licenseOff);
  else for (let i = 0; i < license.length; i++) bytes[licenseOff + i] = license.charCodeAt(i);
  bytes[licenseOff + l.licenseLen - 1] = 0;
  if (useBtf) {
    if (parts.funcInfo !== undefined) {
      arena.setWords(funcOff, parts.funcInfo);
    } else {
      const fi = spec.funcInfo;
      for (let i = 0; i < fi.length; i++) {
        dv.setUint32(funcOff + i * 8, fi[i]!.slot, true);
        dv.setUint32(funcOff + i * 8 + 4, fi[i]!.typeId, true);
      }
    }
    if (parts.lineInfo !== undefined) {
      arena.setWords(lineOff, parts.lineInfo);
    } else {
      const li = spec.lineInfo;
      for (let i = 0; i < li.length; i++) {
        const r = li[i]!;
        const o = lineOff + i * 16;
        dv.setUint32(o, r.slot, true);
        dv.setUint32(o + 4, r.fileNameOff, true);
        dv.setUint32(o + 8, r.lineOff, true);
        dv.setUint32(o + 12, (r.lineNum << 10) | (r.col & 0x3ff), true);
      }
    }
  }

  bytes.fill(0, base, base + BPF_ATTR_SIZE);
  dv.setUint32(base, spec.type, true);
  dv.setUint32(base + 4, nInsns, true);
  arena.setAddress(base + 8, codeOff);
  arena.setAddress(base + 16, licenseOff);
  dv.setUint32(base + 40, spec.kernelVersion, true);
  dv.setUint32(base + 44, spec.flags, true);
  writeObjectName(bytes, base + 48, spec.name);
  dv.setUint32(base + 68, spec.attachType ?? 0, true);
  if (useBtf) {
    dv.setUint32(base + 72, opts.btfFd!, true);
    dv.setUint32(base + 76, 8, true);
    arena.setAddress(base + 80, funcOff);
    dv.setUint32(base + 88, nFuncInfo, true);
    if (nLineInfo > 0) {
      dv.setUint32(base + 92, 16, true);
      arena.setAddress(base + 96, lineOff);
      dv.setUint32(base + 104, nLineInfo, true);
    }
  }
  if (btfId !== undefined) dv.setUint32(base + 108, btfId, true);
  return btfId;
}

const NO_MAPS: ReadonlyMap<string, BpfMap> = new Map();

/** A program in the kernel. */
export class Program {
  readonly fd: FD;

  private constructor(
    fd: number,
    readonly name: string,
    readonly type: ProgramType,
    /** The spec it was loaded from, when known (for source lines in disassembly). */
    readonly spec?: ProgramSpec,
    /** The verifier log, when one was requested. */
    readonly verifierLog = '',
  ) {
    this.fd = new FD(fd, `program ${name}`);
  }

  /** Loads a program spec into the kernel (BPF_PROG_LOAD). */
  static load(spec: ProgramSpec, opts: ProgramLoadOptions = {}): Program {
    const l = layOut(spec, opts);
    arena.reserve(l.size);
    try {
      const btfId = writeLoad(l, 0, opts);
      return (opts.logLevel ?? 0) !== 0
        ? Program.loadWithLog(l, 0, btfId, opts)
        : Program.loadLaidOut(l, 0, btfId, opts);
    } finally {
      arena.shrink();
    }
  }

  /**
   * Loads several programs (all or none: on an error those already loaded are closed). Every
   * program is laid out in the arena first and the loads then run back to back: the verifier
   * and the JIT evict the caches, and resuming after each load to prepare the next cost more
   * than the preparation itself. Errors come in program order, as from one {@link load} after
   * another: a program that fails to load is reported before a later one that failed to lay out.
   */
  static loadAll(specs: readonly ProgramSpec[], opts: ProgramLoadOptions = {}): Program[] {
    const loaded: Program[] = [];
    try {
      if ((opts.logLevel ?? 0) !== 0) {
        for (const spec of specs) loaded.push(Program.load(spec, opts));
        return loaded;
      }
      const layouts: Layout[] = [];
      let pending: unknown;
      let size = 0;
      for (const spec of specs) {
        try {
          const l = layOut(spec, opts);
          layouts.push(l);
          size += l.size;
        } catch (err) {
          pending = err;
          break;
        }
      }
      arena.reserve(size);
      const bases: number[] = [];
      const btfIds: (number | undefined)[] = [];
      let base = 0;
      for (const l of layouts) {
        try {
          btfIds.push(writeLoad(l, base, opts));
        } catch (err) {
          pending = err;
          break;
        }
        bases.push(base);
        base += l.size;
      }
      for (let i = 0; i < bases.length; i++)
        loaded.push(Program.loadLaidOut(layouts[i]!, bases[i]!, btfIds[i], opts));
      if (pending !== undefined) throw pending;
      return loaded;
    } catch (err) {
      for (const p of loaded) p.close();
      throw err;
    } finally {
      arena.shrink();
    }
  }

  /** The load of a program {@link writeLoad} put at `base` of the arena. */
  private static loadLaidOut(
    l: Layout,
    base: number,
    btfId: number | undefined,
    opts: ProgramLoadOptions,
  ): Program {
    const { spec } = l;
    try {
      const fd = sys().bpfAt(BpfCmd.PROG_LOAD, arena.baseNumber + base, BPF_ATTR_SIZE);
      return new Program(fd, spec.name, spec.type, spec);
    } catch (err) {
      if (!(err instanceof SysError)) throw err;
      // Retried with a log so the error says why.
      return Program.loadWithLog(l, base, btfId, opts);
    }
  }

  /**
   * The slow path: a log was asked for, or the load failed. Works on private copies of the
   * program's arrays, which {@link writeLoad} put at `base` of the arena, since the arena is
   * reused by whatever runs next.
   */
  private static loadWithLog(
    l: Layout,
    base: number,
    btfId: number | undefined,
    opts: ProgramLoadOptions,
  ): Program {
    const { spec, nInsns, nFuncInfo, nLineInfo, useBtf } = l;
    const where = `load program ${spec.name}`;
    const { bytes } = arena;
    const code = bytes.slice(base + l.codeOff, base + l.codeOff + nInsns * 8);
    const licenseCopy = bytes.slice(base + l.licenseOff, base + l.licenseOff + l.licenseLen);
    const funcInfo = bytes.slice(base + l.funcOff, base + l.funcOff + (useBtf ? nFuncInfo * 8 : 0));
    const lineInfo = bytes.slice(base + l.lineOff, base + l.end);
    const attempt = (
      logLevel: number,
      log?: Uint8Array,
    ): { fd?: number; err?: SysError; trueSize: number } => {
      const a = new Attr()
        .u32(0, spec.type)
        .u32(4, code.byteLength / 8)
        .ptr(8, code)
        .ptr(16, licenseCopy)
        .u32(24, log ? logLevel : 0)
        .u32(28, log?.byteLength ?? 0)
        .ptr(32, log)
        .u32(40, spec.kernelVersion)
        .u32(44, spec.flags)
        .str(48, kernelObjectName(spec.name), 16)
        .u32(68, spec.attachType ?? 0);
      if (useBtf) {
        a.u32(72, opts.btfFd!).u32(76, 8).ptr(80, funcInfo).u32(88, nFuncInfo);
        if (nLineInfo > 0) a.u32(92, 16).ptr(96, lineInfo).u32(104, nLineInfo);
      }
      if (btfId !== undefined) a.u32(108, btfId);
      try {
        return { fd: sys().bpf(BpfCmd.PROG_LOAD, a.bytes), trueSize: 0 };
      } catch (err) {
        if (!(err instanceof SysError)) throw err;
        return { err, trueSize: a.getU32(140) };
      }
    };

    // Retry with a log, growing the buffer while the kernel says it was too small.
    let size = opts.logSize ?? 64 * 1024;
    let log = new Uint8Array(size);
    const level = opts.logLevel || 1;
    let res: { fd?: number; err?: SysError; trueSize: number };
    for (;;) {
      res = attempt(level, log);
      if (res.err && res.err.code === 'ENOSPC' && size < LOG_MAX) {
        size = Math.min(LOG_MAX, res.trueSize > size ? res.trueSize : size * 4);
        log = new Uint8Array(size);
        continue;
      }
      break;
    }
    const text = new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0)))).trimEnd();
    if (res.fd !== undefined) return new Program(res.fd, spec.name, spec.type, spec, text);
    const err = res.err!;
    if (err.code === 'EPERM' && text === '') {
      throw new Error(`${where}: ${err.message} (are you root? is the memlock limit too low?)`, {
        cause: err,
      });
    }
    if (text === '') throw new Error(`${where}: ${err.message}`, { cause: err });
    throw new VerifierError(spec.name, err.code, text, spec.lineInfo);
  }

  /** Wraps an fd the caller owns. */
  static fromFd(fd: number): Program {
    const info = programInfoByFd(fd);
    return new Program(fd, info.name, info.type);
  }

  /** Opens a program by kernel id. */
  static fromId(id: number): Program {
    try {
      return Program.fromFd(fdById(BpfCmd.PROG_GET_FD_BY_ID, id));
    } catch (err) {
      throw new Error(`open program id ${id}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Opens a program pinned in bpffs. */
  static openPinned(path: string): Program {
    let fd: number;
    try {
      fd = openPinnedFd(path);
    } catch (err) {
      throw new Error(`open pinned program ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      return Program.fromFd(fd);
    } catch (err) {
      sys().close(fd);
      throw new Error(`open pinned program ${path}: not a program: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Ids of every program in the kernel. */
  static ids(): number[] {
    return [...nextIds(BpfCmd.PROG_GET_NEXT_ID)];
  }

  /** The kernel's view of this program. */
  info(): ProgramInfo {
    return programInfoByFd(this.fd.raw);
  }

  /** Runs the program once or `repeat` times on the given input (BPF_PROG_TEST_RUN). */
  run(opts: TestRunOptions = {}): TestRunResult {
    const data = opts.data ?? new Uint8Array(0);
    let outSize = opts.dataOutSize ?? (data.byteLength > 0 ? data.byteLength + 512 : 0);
    for (;;) {
      const dataOut = new Uint8Array(outSize);
      const ctxOut = opts.ctx ? new Uint8Array(opts.ctxOutSize ?? opts.ctx.byteLength) : undefined;
      const a = new Attr()
        .u32(0, this.fd.raw)
        .u32(8, data.byteLength)
        .u32(12, outSize)
        .ptr(16, data)
        .ptr(24, outSize > 0 ? dataOut : undefined)
        .u32(32, opts.repeat ?? 1)
        .u32(40, opts.ctx?.byteLength ?? 0)
        .u32(44, ctxOut?.byteLength ?? 0)
        .ptr(48, opts.ctx)
        .ptr(56, ctxOut)
        .u32(64, opts.flags ?? 0)
        .u32(68, opts.cpu ?? 0);
      try {
        sys().bpf(BpfCmd.PROG_TEST_RUN, a.bytes);
      } catch (err) {
        if (isErrno(err, 'ENOSPC') && outSize < 1 << 20) {
          outSize = Math.max(outSize * 2, 4096);
          continue;
        }
        if (isErrno(err, 'EINTR') && (opts.repeat ?? 1) > 1) continue;
        throw new Error(`run program ${this.name}: ${(err as Error).message}`, { cause: err });
      }
      const outLen = a.getU32(12);
      return {
        retval: a.getU32(4),
        duration: a.getU32(36),
        dataOut: dataOut.slice(0, Math.min(outLen, outSize)),
        ctxOut: ctxOut?.slice(0, a.getU32(44)),
      };
    }
  }

  /** Pins the program at a bpffs path. */
  pin(path: string): void {
    try {
      pinFd(this.fd.raw, path);
    } catch (err) {
      throw new Error(`program ${this.name}: pin at ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Closes the fd; the program stays loaded while a link, pin or prog array holds it. */
  close(): void {
    this.fd.close();
  }
}
