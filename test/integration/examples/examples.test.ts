/**
 * Runs each runnable example under examples/ as its own process (as a user would) with --json
 * and asserts on what it printed, then checks it left nothing behind: no namespaces, no links,
 * no pins.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Link, Program } from '../../../src/bpf/index.js';
import { listNetns } from '../../../src/net/index.js';

// Compiled to <outDir>/test/integration/examples/; the examples sit in <outDir>/examples/.
const OUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Runs one compiled example with --json and parses its last stdout line. */
function runExample(name: string): { out: Record<string, unknown>; pid: number } {
  const script = path.join(OUT, 'examples', name, 'main.js');
  assert.ok(existsSync(script), `${script} missing: build with tsc first`);
  const r = spawnSync(process.execPath, [script, '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `${name} exited with ${r.status} (${r.signal ?? ''}):\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return { out: JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>, pid: r.pid! };
}

/**
 * Links created since `before` whose program has one of `names`. Other processes on the machine
 * may create links meanwhile, so only the example's own programs count.
 */
function newLinksOf(before: Set<number>, names: string[]): number[] {
  return Link.ids().filter((id) => {
    if (before.has(id)) return false;
    try {
      const link = Link.fromId(id);
      try {
        const prog = Program.fromId(link.info().progId);
        try {
          return names.includes(prog.info().name);
        } finally {
          prog.close();
        }
      } finally {
        link.close();
      }
    } catch {
      return false; // gone meanwhile
    }
  });
}

function bpffsPins(prefix: string): string[] {
  try {
    return readdirSync('/sys/fs/bpf').filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

describe('examples', () => {
  it('engine-tour: .rodata set before load, test-run, live .bss, verifier error with C line', () => {
    const { out } = runExample('engine-tour');
    assert.deepEqual(out['variables'], ['drop_udp_port', 'dropped']);
    assert.deepEqual(out['run dport 7'], { retval: 2, name: 'TC_ACT_SHOT' });
    assert.deepEqual(out['run dport 9'], { retval: 0 });
    assert.equal(out['dropped (.bss, live)'], 1);
    assert.equal(out['drop_udp_port (.rodata)'], 7);
    assert.deepEqual(out['proto_counts'], [[{ h_proto: 2048, ip_proto: 17, hook: 3 }, 2]]);
    const v = out['verifier'] as { program: string; insn: number; line: string; reason: string };
    assert.equal(v.program, 'xdp_reject');
    assert.equal(v.line, 'reject.bpf.c:28');
    assert.match(v.reason, /invalid access to packet/);
  });

  it('map-basics: set/get/iterate/batch/per-CPU/pin on maps made without an object', () => {
    const { out, pid } = runExample('map-basics');
    assert.equal(out['get 2'], 200);
    assert.equal(out['get 42 (missing)'], undefined);
    assert.match(String(out['set NoExist on key 1']), /EEXIST/);
    assert.equal(out['delete 3'], true);
    assert.equal(out['delete 3 again'], false);
    assert.deepEqual(out['entries'], [
      [1, 100],
      [2, 200],
    ]);
    assert.equal(out['setBatch wrote'], 3);
    assert.deepEqual(out['dump (lookup batch)'], [
      [1, 100],
      [2, 200],
      [10, 1000],
      [11, 1100],
      [12, 1200],
    ]);
    assert.equal(out['deleteBatchBytes removed'], 2);
    assert.deepEqual(out['keys left'], [1, 2, 12]);
    const cpus = out['possible CPUs'] as number;
    assert.deepEqual(out['percpu[0]'], Array(cpus).fill(7));
    assert.equal(out['percpu[1] summed'], (cpus * (cpus - 1)) / 2);
    assert.deepEqual(out['pinned map info'], {
      name: 'ex_hash',
      type: 'hash',
      keySize: 4,
      valueSize: 8,
      maxEntries: 1024,
    });
    assert.equal(out['same map through the pin'], 1200);
    assert.deepEqual(bpffsPins(`iovisor-example-map-${pid}`), [], 'pin removed');
  });

  it('tracepoint-ringbuf: sees its own openat calls, decoded through BTF', () => {
    const links = new Set(Link.ids());
    const { out, pid } = runExample('tracepoint-ringbuf');
    const events = out['events'] as {
      pid: number;
      comm: string;
      filename: string;
      flags: number;
    }[];
    assert.deepEqual(out['missing'], []);
    const own = events.filter((e) => /iovisor-openat-[^/]+\/[abc]\.txt$/.test(e.filename));
    assert.deepEqual(
      own.map((e) => path.basename(e.filename)),
      ['a.txt', 'b.txt', 'c.txt'],
    );
    for (const e of events) {
      assert.equal(e.pid, pid, 'the .rodata filter keeps other processes out');
      assert.equal(e.comm, 'node');
    }
    assert.ok(Number(out['seen']) >= 3, `.bss seen counts every openat (${String(out['seen'])})`);
    assert.deepEqual(newLinksOf(links, ['trace_openat']), [], 'tracepoint link detached');
  });

  it('tcx-replace: v1 counts, Link.update swaps in v2 on the same link, stale expectOld refused', () => {
    const links = new Set(Link.ids());
    const { out, pid } = runExample('tcx-replace');
    const first = out['after 3 pings with v1'] as { v1: number; v2: number };
    assert.ok(first.v1 >= 3, `v1 saw the pings (${first.v1})`);
    assert.equal(first.v2, 0);
    const replaced = out['replaced'] as {
      sameLink: boolean;
      program: number;
      v2: number;
      chain: { program: number; link: number }[];
    };
    assert.equal(replaced.sameLink, true);
    assert.equal(replaced.program, replaced.v2);
    assert.equal(replaced.chain.length, 1);
    assert.equal(replaced.chain[0]!.program, replaced.v2);
    const second = out['after 3 more pings with v2'] as { v1: number; v2: number };
    assert.ok(second.v2 >= 3, `v2 saw the pings (${second.v2})`);
    assert.equal(out['v1 unchanged after replace'], true);
    assert.match(String(out['update expecting v1 while v2 is attached']), /EPERM/);
    assert.deepEqual(
      listNetns().filter((n) => n.endsWith(`-${pid}`) && n.startsWith('iovex-')),
      [],
      'namespaces removed',
    );
    assert.deepEqual(newLinksOf(links, ['count_v1', 'count_v2']), [], 'tcx link gone');
  });
});
