import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../../../src/dataplane/index.js';

test('committed module objects are byte-identical to a fresh build from their sources', () => {
  const root = repoRoot();
  const out = mkdtempSync(path.join(tmpdir(), 'iov-objects-'));
  try {
    const r = spawnSync('bash', ['scripts/build-modules.sh', '--out', out], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `build-modules.sh failed: ${r.stderr}`);
    const built = readdirSync(out).filter((f) => f.endsWith('.bpf.o'));
    // Each source twice: the tc build and the XDP build (-DIOV_XDP).
    assert.deepEqual(built.sort(), [
      'bridge.bpf.o',
      'bridge.xdp.bpf.o',
      'monitor.bpf.o',
      'monitor.xdp.bpf.o',
      'patchpanel.bpf.o',
      'patchpanel.xdp.bpf.o',
      'router.bpf.o',
      'router.xdp.bpf.o',
    ]);
    for (const f of built) {
      const name = f.replace(/(\.xdp)?\.bpf\.o$/, '');
      const committed =
        name === 'patchpanel'
          ? path.join(root, 'src/dataplane/bpf', f)
          : path.join(root, 'modules', name, f);
      assert.ok(
        Buffer.compare(readFileSync(committed), readFileSync(path.join(out, f))) === 0,
        `${committed} differs from a build of its source: run scripts/build-modules.sh and commit`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('build-modules.sh refuses a clang other than the pinned one unless --force', () => {
  const fake = mkdtempSync(path.join(tmpdir(), 'iov-clang-'));
  try {
    const cc = path.join(fake, 'clang');
    spawnSync('bash', [
      '-c',
      `printf '#!/bin/sh\\necho "clang version 99.0.0"\\n' > ${cc} && chmod +x ${cc}`,
    ]);
    const r = spawnSync('bash', ['scripts/build-modules.sh', '--out', fake, 'bridge'], {
      cwd: repoRoot(),
      encoding: 'utf8',
      env: { ...process.env, CLANG: cc },
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /pinned to "Debian clang version 14\.0\.6".*--force/);
  } finally {
    rmSync(fake, { recursive: true, force: true });
  }
});
