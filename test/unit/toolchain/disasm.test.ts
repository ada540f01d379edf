import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { assemble, disassemble, encodeInstructions } from '../../../src/bpf/asm/index.js';
import { disassembleObject, sectionInstructions } from '../../../src/toolchain/index.js';
import { ROOT } from '../../helpers/corpus.js';
import { iovisor } from '../../helpers/cli.js';

// Every corpus object: our per-section disassembly (LLVM 14 compatible spelling) must give the
// same instruction stream as llvm-objdump -d, and the default listing must assemble back to the
// section bytes. llvm-objdump is required: its absence fails the test.

const BUILD = path.join(ROOT, 'testdata', 'corpus', 'build');
const objects = fs.existsSync(BUILD)
  ? fs
      .readdirSync(BUILD)
      .filter((f) => f.endsWith('.o'))
      .sort()
  : [];

/** llvm-objdump -d listing, by section: symbol and instruction lines. */
function objdump(obj: string): Map<string, string[]> {
  const out = execFileSync('llvm-objdump', ['-d', '--no-show-raw-insn', obj], {
    encoding: 'utf8',
  });
  const by = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of out.split('\n')) {
    const m = /^Disassembly of section (.*):$/.exec(line);
    if (m) by.set(m[1]!, (cur = []));
    else if (cur && line.trim() !== '') cur.push(line);
  }
  return by;
}

const norm = (l: string): string => l.trim().replace(/\s+/g, ' ');

test('the corpus is built and llvm-objdump is installed', () => {
  assert.ok(objects.length >= 12, `corpus objects missing in ${BUILD}`);
  assert.doesNotThrow(() => execFileSync('llvm-objdump', ['--version'], { stdio: 'ignore' }));
});

for (const file of objects) {
  test(`disasm ${file} matches llvm-objdump and round-trips`, () => {
    const obj = path.join(BUILD, file);
    const theirs = objdump(obj);
    const ours = sectionInstructions(fs.readFileSync(obj));
    assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort(), 'sections');
    let compared = 0;
    for (const [sec, insns] of ours) {
      const expected = theirs.get(sec)!;
      const mine = disassemble(insns, { llvmCompat: true, source: false })
        .split('\n')
        .filter((l) => l.trim() !== '');
      assert.equal(mine.length, expected.length, `${file} ${sec}: line count`);
      mine.forEach((l, i) => {
        const e = expected[i]!;
        // Where LLVM 14 has no syntax it prints <unknown>; then only the offset must agree.
        if (e.includes('<unknown>')) assert.equal(l.split(':')[0]!.trim(), e.split(':')[0]!.trim());
        else assert.equal(norm(l), norm(e), `${file} ${sec} line ${i}`);
        compared++;
      });
      const bytes = encodeInstructions(insns);
      assert.deepEqual(
        encodeInstructions(assemble(disassemble(insns))),
        bytes,
        `${file} ${sec}: assembling the listing gives the section bytes back`,
      );
    }
    assert.ok(compared > 0);
  });
}

test('linked programs carry C source lines and subprograms', () => {
  const units = disassembleObject(path.join(BUILD, 'calls.o'));
  const main = units.find((u) => u.name === 'xdp_calls');
  assert.ok(main, 'xdp_calls');
  assert.match(main.text, /^; .*bpf_xdp_get_buff_len/m);
  assert.match(main.text, /<scale>:/);
  assert.match(main.text, /call pc\+\d+ <scale>/);
  // The linked listing is lossless too.
  assert.deepEqual(encodeInstructions(assemble(main.text)), encodeInstructions(main.instructions));
});

test('iovisor disasm prints programs, sections and JSON', () => {
  const obj = path.join(BUILD, 'tc.o');
  const r = iovisor('disasm', obj, '--program', 'tc_drop_udp');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Program tc_drop_udp \(section tc, sched_cls\)/);
  assert.match(r.stdout, /; \s*if \(udp->dest != bpf_htons\(drop_udp_port\)\)/);
  const s = iovisor('disasm', obj, '--section', 'tcx/ingress', '--llvm', '--raw-bytes');
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, /Disassembly of section tcx\/ingress:/);
  const j = iovisor('disasm', obj, '--json');
  assert.equal(j.status, 0, j.stderr);
  const units = JSON.parse(j.stdout) as { name: string; instructions: { text: string }[] }[];
  assert.deepEqual(units.map((u) => u.name).sort(), [
    'tc_count',
    'tc_drop_udp',
    'tcx_egress_count',
    'tcx_ingress_count',
  ]);
  const bad = iovisor('disasm', obj, '--program', 'nope');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /no program or section nope/);
});
