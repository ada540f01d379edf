/**
 * The engine in one page: parse an object into a spec, set a `.rodata` constant before load,
 * load, test-run a program on a hand-made packet (BPF_PROG_TEST_RUN), read the BTF-decoded map
 * and the live `.bss` variable, and show what a verifier rejection looks like. Uses the test
 * corpus (build it with `bash scripts/build-testdata.sh`).
 *
 *   sudo node dist/examples/engine-tour/main.js [--json]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Collection,
  loadCollectionSpec,
  returnCodeName,
  setVariable,
  VerifierError,
} from '../../src/bpf/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const corpus = path.resolve(here, '..', '..', '..', 'testdata', 'corpus', 'build');
const json = process.argv.includes('--json');
const result: Record<string, unknown> = {};
const big = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v);
const say = (label: string, value: unknown): void => {
  result[label] = value;
  if (!json) console.log(`${label}: ${JSON.stringify(value, big)}`);
};

/** Ethernet + IPv4 + UDP to port `dport`, 42 bytes, checksums zero (programs here ignore them). */
function udp4(dport: number): Uint8Array {
  const b = new Uint8Array(42);
  b.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00], 0);
  b.set([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2], 14);
  const dv = new DataView(b.buffer);
  dv.setUint16(34, 1234);
  dv.setUint16(36, dport);
  dv.setUint16(38, 8);
  return b;
}

// 1. Spec: pure, nothing in the kernel yet. Configure before load.
const spec = loadCollectionSpec(path.join(corpus, 'tc.o'));
say('programs', [...spec.programs.keys()]);
say('variables', [...spec.variables.keys()]);
setVariable(spec, 'drop_udp_port', 7);

// 2. Load: BTF, maps, programs, static contents, in one step; all-or-nothing.
const coll = Collection.load(spec);
try {
  const prog = coll.program('tc_drop_udp');
  const r = prog.run({ data: udp4(7) });
  say('run dport 7', { retval: r.retval, name: returnCodeName(prog.type, r.retval) });
  say('run dport 9', { retval: prog.run({ data: udp4(9) }).retval });
  say('dropped (.bss, live)', coll.variables.get('dropped')!.get());
  say('drop_udp_port (.rodata)', coll.variables.get('drop_udp_port')!.get());
  say('proto_counts', coll.map('proto_counts').dump());
  const info = prog.info();
  say('info', { id: info.id, type: info.typeName, name: info.name, runCount: info.runCount });
} finally {
  coll.close();
}

// 3. A verifier rejection names the program, the instruction and the C line.
try {
  Collection.loadFile(path.join(corpus, 'reject.o')).close();
} catch (err) {
  if (!(err instanceof VerifierError)) throw err;
  say('verifier', {
    program: err.program,
    insn: err.insn,
    line: err.source && `${err.source.file}:${err.source.lineNum}`,
    reason: err.reason,
  });
}
if (json) console.log(JSON.stringify(result, big));
