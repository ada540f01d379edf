import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { runConformanceSuite } from '../../../src/toolchain/index.js';
import { CONFORMANCE_DIR } from '../../helpers/corpus.js';
import { iovisor } from '../../helpers/cli.js';

// The whole bpf_conformance suite through our assembler, loader and test-run against this
// kernel. Any mismatch (wrong result, encoding different from -- raw, an -- error test that
// loads) fails; programs the verifier refuses are allowed but must come with its reason.
const DIR = CONFORMANCE_DIR;

test('bpf_conformance: every accepted test returns the expected value', () => {
  assert.ok(fs.existsSync(DIR), `bpf_conformance tests not found at ${DIR}`);
  const report = runConformanceSuite(DIR);
  assert.equal(report.results.length, 313);
  const failures = report.results.filter((r) => r.status === 'fail');
  assert.deepEqual(
    failures.map((f) => `${f.test}: ${f.detail}`),
    [],
    'conformance failures',
  );
  const rejected = report.results.filter((r) => r.status === 'rejected');
  for (const r of rejected) assert.ok(r.detail && r.detail.length > 0, `${r.test}: no reason`);
  // Most of the suite must actually run: a loader that refuses everything would pass otherwise.
  assert.ok(report.totals.pass >= 290, JSON.stringify(report.totals));
  console.log(
    `conformance: ${report.totals.pass} pass, ${report.totals.fail} fail, ${report.totals.rejected} rejected: ` +
      rejected.map((r) => `${r.test} (${r.detail})`).join(', '),
  );
});

test('iovisor conformance prints per-test lines and totals, --json gives the report', () => {
  const r = iovisor('conformance', DIR, '--filter', 'lsh');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^pass\s+lsh32-imm\b/m);
  assert.match(r.stdout, /^rejected\s+lsh64-imm-high: invalid shift/m);
  assert.match(r.stdout, /\d+ tests: \d+ pass .* 0 fail, \d+ rejected by the verifier/);
  const j = iovisor('conformance', DIR, '--filter', 'jeq', '--json');
  assert.equal(j.status, 0, j.stderr);
  const rep = JSON.parse(j.stdout) as { totals: { pass: number; fail: number } };
  assert.ok(rep.totals.pass > 0);
  assert.equal(rep.totals.fail, 0);
});

test('a wrong expectation is a failure and makes the command fail', () => {
  const tmp = fs.mkdtempSync('/tmp/conf-');
  try {
    fs.writeFileSync(`${tmp}/wrong.data`, '-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n');
    fs.writeFileSync(`${tmp}/loads.data`, '-- asm\nmov %r0, 1\nexit\n-- error\nshould not load\n');
    fs.writeFileSync(
      `${tmp}/raw.data`,
      '-- asm\nmov %r0, 1\nexit\n-- raw\n0x00000002000000b7\n0x0000000000000095\n-- result\n0x1\n',
    );
    const rep = runConformanceSuite(tmp);
    assert.deepEqual(
      rep.results.map((r) => [r.test, r.status]),
      [
        ['loads', 'fail'],
        ['raw', 'fail'],
        ['wrong', 'fail'],
      ],
    );
    assert.match(rep.results[0]!.detail!, /loaded, but the suite expects an error/);
    assert.match(rep.results[1]!.detail!, /encoding differs from -- raw at word 0/);
    assert.match(rep.results[2]!.detail!, /expected 0x2, got 0x1/);
    const r = iovisor('conformance', tmp);
    assert.equal(r.status, 1);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
