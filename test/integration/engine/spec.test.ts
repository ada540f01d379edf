// Program specs read from an object hold instructions, func_info and line_info as the words
// the kernel takes until someone asks for them as objects; from then on the objects are the
// truth. Both paths must load the same program, and an edit must reach the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  Collection,
  EncodedProgramSpec,
  loadCollectionSpec,
  ObjectError,
  parseCollectionSpec,
} from '../../../src/bpf/index.js';
import { parseElf } from '../../../src/bpf/elf/elf.js';
import { corpusExpect, corpusObject } from '../../helpers/corpus.js';

const frame = (): Uint8Array => Buffer.from(corpusExpect().packets['udp4_dport7']!.hex, 'hex');

function runCalls(spec = loadCollectionSpec(corpusObject('calls'))): {
  retval: number;
  tag: string;
} {
  const c = Collection.load(spec);
  try {
    const p = c.program('xdp_calls');
    return { retval: p.run({ data: frame() }).retval, tag: p.info().tag };
  } finally {
    c.close();
  }
}

test('spec: a program loads the same from words and from objects', () => {
  const fromWords = runCalls();
  assert.equal(fromWords.retval, 3); // documented in calls.bpf.c: (334 + 1) & 3

  const spec = loadCollectionSpec(corpusObject('calls'));
  const p = spec.programs.get('xdp_calls')!;
  assert.ok(p instanceof EncodedProgramSpec);
  assert.ok(p.encoded().code, 'instructions still words before anyone asks');
  // Asking for the objects hands them over; the loader then encodes them.
  assert.ok(p.insns.length > 30);
  assert.ok(p.funcInfo.length >= 3, 'entry point and its subprograms');
  const lines = p.lineInfo;
  assert.ok(lines.length > 0);
  assert.ok(lines.every((l) => l.fileName.endsWith('calls.bpf.c')));
  assert.ok(lines.some((l) => l.lineNum === 72 && l.line.includes('scale(n)')));
  assert.deepEqual(p.encoded(), { code: undefined, funcInfo: undefined, lineInfo: undefined });
  const fromObjects = runCalls(spec);
  assert.deepEqual(fromObjects, fromWords, 'same return value and same kernel tag');
});

test('spec: an edit of the instructions reaches the kernel', () => {
  const spec = loadCollectionSpec(corpusObject('calls'));
  const p = spec.programs.get('xdp_calls')!;
  // The last step of the program is `r0 &= 3`; make it `r0 &= 1`: (334 + 1) & 1 = XDP_DROP.
  const and3 = p.insns.map((i) => i.code === 0x57 && i.dst === 0 && i.imm === 3).lastIndexOf(true);
  assert.ok(and3 >= 0, 'r0 &= 3 in xdp_calls');
  p.insns[and3]!.imm = 1;
  assert.equal(runCalls(spec).retval, 1);
  // A whole new array counts too.
  p.insns = p.insns.map((i, k) => (k === and3 ? { ...i, imm: 2 } : i));
  assert.equal(runCalls(spec).retval, 2);
});

test('spec: JSON of a program spec has its instructions and source lines', () => {
  const spec = loadCollectionSpec(corpusObject('calls'));
  const json = JSON.parse(JSON.stringify(spec.programs.get('xdp_calls'))) as {
    insns: unknown[];
    lineInfo: { fileName: string }[];
    funcInfo: unknown[];
  };
  assert.ok(json.insns.length > 30);
  assert.ok(json.lineInfo[0]!.fileName.endsWith('calls.bpf.c'));
  assert.ok(json.funcInfo.length >= 3);
});

/** calls.o with the symbol index of the first relocation in section `rel` set to `sym`. */
function withRelocSymbol(rel: string, sym: number): Uint8Array {
  const bytes = new Uint8Array(readFileSync(corpusObject('calls')));
  const sec = parseElf(bytes).sectionByName(rel);
  assert.ok(sec, `calls.o has ${rel}`);
  // Elf64_Rel: r_offset (8 bytes), r_info (type in the low 32 bits, symbol in the high 32).
  new DataView(bytes.buffer).setUint32(sec.data.byteOffset + 12, sym, true);
  return bytes;
}

test('spec: a bad relocation of code fails the parse; one of a debug section is ignored', () => {
  assert.throws(
    () => parseCollectionSpec(withRelocSymbol('.relxdp', 0xffff), 'calls'),
    (err: Error) =>
      err instanceof ObjectError &&
      /\.relxdp: relocation 0 refers to missing symbol/.test(err.message),
  );
  // libbpf never reads debug relocations; neither does a load.
  const spec = parseCollectionSpec(withRelocSymbol('.rel.debug_info', 0xffff), 'calls');
  assert.ok(spec.programs.has('xdp_calls'));
});

test('spec: reading an object names the call and the path on failure', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'iov-spec-'));
  try {
    assert.throws(
      () => loadCollectionSpec(path.join(dir, 'missing.o')),
      (err: Error) =>
        err instanceof ObjectError && err.message.includes(`open ${dir}/missing.o: ENOENT`),
    );
    assert.throws(
      () => loadCollectionSpec(dir),
      (err: Error) => err instanceof ObjectError && /EISDIR/.test(err.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('spec: only data sections with variables are mapped into user space', () => {
  const MMAPABLE = 1 << 10;
  const RDONLY_PROG = 1 << 7;
  // String literals (maps.o's .rodata.str1.1) have no variables: a plain read-only array, as
  // libbpf makes it. A section with variables is mmap-able, so they are read and written live.
  const maps = loadCollectionSpec(corpusObject('maps'));
  const strings = [...maps.maps.values()].find((m) => m.dataSection === '.rodata.str1.1')!;
  assert.ok(strings, 'maps.o has string literals');
  assert.equal(strings.flags, RDONLY_PROG);
  const globals = loadCollectionSpec(corpusObject('globals'));
  for (const m of globals.maps.values())
    if (m.dataSection) assert.ok(m.flags & MMAPABLE, `${m.dataSection} has variables`);
  const c = Collection.load(maps);
  try {
    const info = c.map(strings.name).info();
    assert.equal(info.flags & MMAPABLE, 0);
    assert.ok(info.flags & RDONLY_PROG);
  } finally {
    c.close();
  }
});

test('spec: a spec read from a file survives the next read (the read buffer is reused)', () => {
  const file = corpusObject('calls');
  const owned = parseCollectionSpec(new Uint8Array(readFileSync(file)), 'calls', file);
  const spec = loadCollectionSpec(file);
  // Reads into the same buffer, over the bytes `spec` was parsed from.
  loadCollectionSpec(corpusObject('maps'));
  loadCollectionSpec(corpusObject('sections'));
  assert.deepEqual(spec.btf!.encode(), owned.btf!.encode());
  assert.deepEqual(spec.btf!.types, owned.btf!.types);
  const lines = (s: typeof spec) => s.programs.get('xdp_calls')!.lineInfo.map((l) => l.line);
  assert.deepEqual(lines(spec), lines(owned));
  assert.ok(lines(spec).some((l) => l.includes('return')));
  assert.equal(runCalls(spec).retval, 3);
});
