import { fileURLToPath } from 'node:url';
/**
 * The bpf_conformance ISA suite run against the running kernel, through our own assembler and
 * loader. Each test is wrapped as the suite's Linux runner does it: an XDP program whose prolog
 * bounds-checks the packet (the test's input memory) and sets r1 = data, r2 = length, calls the
 * test body as a bpf-to-bpf function and stores the full 64-bit r0 into a one-element array map
 * (test-run itself returns only 32 bits).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  BpfMap,
  MapType,
  Program,
  ProgramType,
  VerifierError,
  type MapSpec,
  type ProgramSpec,
} from '../bpf/index.js';
import {
  build as b,
  parseConformanceAsm,
  parseConformanceFile,
  slotOffsets,
  toRawSlots,
  toWords,
  type ConformanceFile,
  type Instruction,
} from '../bpf/asm/index.js';

/** The default location of the suite's tests on this project's machines. */
export const DEFAULT_CONFORMANCE_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  // dist/src/toolchain → the repository root, then the shared folder beside it.
  '..',
  '..',
  '..',
  '..',
  'shared',
  'conformance',
  'bpf_conformance',
  'tests',
);

/** pass: as expected (a result matched, or an `-- error` test was refused). */
export type ConformanceStatus = 'pass' | 'fail' | 'rejected';

/** The outcome of one test. */
export interface ConformanceResult {
  test: string;
  status: ConformanceStatus;
  /** Why (for fail and rejected), or how an error test was refused. */
  detail?: string;
  expected?: bigint;
  actual?: bigint;
}

/** All results and totals. */
export interface ConformanceReport {
  dir: string;
  results: ConformanceResult[];
  totals: Record<ConformanceStatus, number>;
}

const RESULT_MAP: MapSpec = {
  name: 'conf_result',
  type: MapType.Array,
  keySize: 4,
  valueSize: 8,
  maxEntries: 1,
  flags: 0,
  mapExtra: 0n,
  pinning: 'none',
  contents: [],
  freeze: false,
};

const SENTINEL = 0x5a5a5a5a5a5a5a5an;
const ETH_HLEN = 14;

/**
 * The wrapper around a test body: prolog, bpf-to-bpf call, store of r0. Returns the wrapped
 * instructions and the slot of the map reference.
 */
export function wrapConformanceBody(
  body: readonly Instruction[],
  memLen: number | undefined,
): { insns: Instruction[]; mapSlot: number } {
  const w: Instruction[] = [];
  w.push(b.mov64Reg(6, 1));
  if (memLen !== undefined) {
    w.push(
      b.ldxw(2, 6, 0), // data
      b.ldxw(3, 6, 4), // data_end
      b.mov64Reg(4, 2),
      b.add64(4, memLen),
      b.jgtReg(4, 3, 0), // patched below: to the exit
      b.mov64Reg(1, 2),
      b.mov64(2, memLen),
    );
  } else {
    w.push(b.mov64(1, 0), b.mov64(2, 0));
  }
  const callIdx = w.length;
  w.push(b.callLocal(0));
  w.push(b.stxdw(10, 0, -16), b.stw(10, -4, 0));
  const mapIdx = w.length;
  w.push(b.ldMapFd(1, RESULT_MAP.name));
  w.push(b.mov64Reg(2, 10), b.add64(2, -4), b.mov64Reg(3, 10), b.add64(3, -16), b.mov64(4, 0));
  w.push(b.call(2)); // bpf_map_update_elem
  const exitIdx = w.length;
  w.push(b.mov64(0, 2), b.exit()); // XDP_PASS
  const slots = slotOffsets(w);
  const wrapperSlots = slots[w.length]!;
  w[callIdx] = { ...w[callIdx]!, imm: BigInt(wrapperSlots - (slots[callIdx]! + 1)) };
  if (memLen !== undefined) {
    const j = 5; // the bounds check
    w[j] = { ...w[j]!, off: slots[exitIdx]! - (slots[j]! + 1), reference: undefined };
  }
  for (const ins of w) delete ins.reference;
  const bodyCopy = body.map((i) => {
    const c = { ...i };
    delete c.reference;
    delete c.symbol;
    return c;
  });
  return { insns: [...w, ...bodyCopy], mapSlot: slots[mapIdx]! };
}

function programSpec(insns: Instruction[], mapSlot: number, name: string): ProgramSpec {
  return {
    name,
    sectionName: 'xdp',
    type: ProgramType.XDP,
    attachTo: '',
    flags: 0,
    license: 'GPL',
    kernelVersion: 0,
    insns: toRawSlots(insns),
    references: [{ slot: mapSlot, kind: 'map', map: RESULT_MAP.name }],
    funcInfo: [],
    lineInfo: [],
    coreRelos: [],
    symbols: new Map(),
  };
}

function hex(v: bigint): string {
  return '0x' + BigInt.asUintN(64, v).toString(16);
}

/** Runs one parsed test with an open result map. */
export function runConformanceTest(
  name: string,
  c: ConformanceFile,
  result: BpfMap,
): ConformanceResult {
  let body: Instruction[];
  try {
    body = parseConformanceAsm(c.asm);
  } catch (err) {
    if (c.error !== undefined)
      return {
        test: name,
        status: 'pass',
        detail: `refused by the assembler: ${(err as Error).message}`,
      };
    return { test: name, status: 'fail', detail: `assemble: ${(err as Error).message}` };
  }
  if (c.raw !== undefined) {
    const ours = toWords(body);
    const same = ours.length === c.raw.length && ours.every((w, i) => w === c.raw![i]);
    if (!same) {
      const i = ours.findIndex((w, k) => w !== c.raw![k]);
      return {
        test: name,
        status: 'fail',
        detail: `encoding differs from -- raw at word ${i < 0 ? ours.length : i}: ours ${hex(ours[i] ?? 0n)}, raw ${hex(c.raw[i] ?? 0n)}`,
      };
    }
  }
  const { insns, mapSlot } = wrapConformanceBody(body, c.mem?.byteLength);
  let prog: Program;
  try {
    prog = Program.load(programSpec(insns, mapSlot, 'conformance'), {
      maps: new Map([[RESULT_MAP.name, result]]),
    });
  } catch (err) {
    const reason = err instanceof VerifierError ? err.reason || err.errno : (err as Error).message;
    if (c.error !== undefined)
      return { test: name, status: 'pass', detail: `refused as expected: ${reason}` };
    return { test: name, status: 'rejected', detail: reason, expected: c.result };
  }
  try {
    if (c.error !== undefined)
      return {
        test: name,
        status: 'fail',
        detail: `loaded, but the suite expects an error (${c.error})`,
      };
    const key = new Uint8Array(4);
    const sentinel = new Uint8Array(8);
    new DataView(sentinel.buffer).setBigUint64(0, SENTINEL, true);
    result.updateBytes(key, sentinel);
    const packet = new Uint8Array(Math.max(c.mem?.byteLength ?? 0, ETH_HLEN));
    if (c.mem) packet.set(c.mem);
    prog.run({ data: packet });
    const out = result.lookupBytes(key)!;
    const actual = new DataView(out.buffer, out.byteOffset).getBigUint64(0, true);
    const expected = c.result ?? 0n;
    if (actual === expected) return { test: name, status: 'pass', expected, actual };
    return {
      test: name,
      status: 'fail',
      detail:
        actual === SENTINEL
          ? 'the program returned before storing a result'
          : `expected ${hex(expected)}, got ${hex(actual)}`,
      expected,
      actual,
    };
  } finally {
    prog.close();
  }
}

/** Runs every `.data` test in `dir` (sorted by name); `only` filters by file name. */
export function runConformanceSuite(
  dir = DEFAULT_CONFORMANCE_DIR,
  opts: { only?: (file: string) => boolean; onResult?: (r: ConformanceResult) => void } = {},
): ConformanceReport {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.data'))
      .sort();
  } catch (err) {
    throw new Error(`conformance: read ${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (files.length === 0) throw new Error(`conformance: no .data tests in ${dir}`);
  const result = BpfMap.create(RESULT_MAP);
  const results: ConformanceResult[] = [];
  try {
    for (const f of files) {
      if (opts.only && !opts.only(f)) continue;
      const name = f.replace(/\.data$/, '');
      let r: ConformanceResult;
      try {
        r = runConformanceTest(
          name,
          parseConformanceFile(readFileSync(path.join(dir, f), 'utf8')),
          result,
        );
      } catch (err) {
        r = { test: name, status: 'fail', detail: (err as Error).message };
      }
      results.push(r);
      opts.onResult?.(r);
    }
  } finally {
    result.close();
  }
  const totals: Record<ConformanceStatus, number> = { pass: 0, fail: 0, rejected: 0 };
  for (const r of results) totals[r.status]++;
  return { dir, results, totals };
}
