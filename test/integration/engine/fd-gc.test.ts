// File descriptors a caller forgot to close are closed when their owners are garbage-collected.
// A collection's fds share one finalizer (see FdGroup in src/bpf/fd.ts): it must close them all
// once nothing holds any of them, and must not close a map that outlived its collection (whose
// kept object then holds the group's other forgotten fds open until it is dropped too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { BpfMap, Collection } from '../../../src/bpf/index.js';
import { corpusObject } from '../../helpers/corpus.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** What fd `n` of this process refers to, or undefined when it is not open. */
function fdTarget(n: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${n}`);
  } catch {
    return undefined;
  }
}

/** Collects garbage until `done()` or a few rounds have passed (finalizers run in later tasks). */
async function collectUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !done(); i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Loads calls.o and forgets the collection; returns the raw fds it held. */
function loadAndForget(): number[] {
  const c = Collection.loadFile(corpusObject('calls'));
  return [...c.maps.values(), ...c.programs.values()].map((o) => o.fd.raw);
}

test('fd gc: a forgotten collection has its fds closed', async () => {
  const fds = loadAndForget();
  assert.ok(fds.length >= 2);
  for (const fd of fds) assert.match(fdTarget(fd) ?? '', /anon_inode:bpf/);
  await collectUntil(() => fds.every((fd) => fdTarget(fd) === undefined));
  for (const fd of fds) assert.equal(fdTarget(fd), undefined, `fd ${fd} still open`);
});

test('fd gc: a map kept from a forgotten collection stays usable; dropping it frees the rest', async () => {
  let map: BpfMap | undefined;
  const all = ((): number[] => {
    const c = Collection.loadFile(corpusObject('calls'));
    map = [...c.maps.values()][0]!;
    return [...c.maps.values(), ...c.programs.values()].map((o) => o.fd.raw);
  })();
  // The collection and its programs are unreachable now; the kept map holds their group.
  await collectUntil(() => false);
  assert.match(fdTarget(map!.fd.raw) ?? '', /anon_inode:bpf-map/);
  assert.equal(map!.info().name, map!.name.slice(0, 15));
  map = undefined;
  await collectUntil(() => all.every((fd) => fdTarget(fd) === undefined));
  for (const fd of all) assert.equal(fdTarget(fd), undefined, `fd ${fd} still open`);
});
