import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StateStore } from '../../../src/daemon/index.js';

test('the store starts empty, saves atomically and reloads', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'iovisord-store-'));
  try {
    const s = new StateStore(path.join(dir, 'state'));
    const empty = s.load();
    assert.equal(empty.generation, 0);
    s.save({ version: 1, generation: 3, updated: 'now', topology: { hosts: { h1: {} } } });
    assert.deepEqual(s.load().topology, { hosts: { h1: {} } });
    assert.equal(s.load().generation, 3);
    // No temporary files are left behind, and the file is private.
    assert.deepEqual(readdirSync(path.join(dir, 'state')), ['state.json']);
    assert.equal(statSync(s.file).mode & 0o777, 0o600);
    writeFileSync(s.file, '{ torn');
    assert.throws(() => s.load(), /not valid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
