/**
 * Aggregating tools against the real kernel with workloads the test builds and runs: exact
 * syscall counts of a C program, exact call counts of a function through uprobes, run-queue
 * latency of CPU hogs sharing one CPU, block I/O of direct writes, and CPU stacks of a spinning
 * program symbolized from its ELF symbols.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../../../src/sys/index.js';
import {
  biolatency,
  drawLog2,
  funclatency,
  profile,
  runqlat,
  syscount,
} from '../../../src/trace/index.js';
import { gcc, run, workdir } from './helpers.js';
import { BUSY_C, FUNC_C, SPIN_C, SYSCALLS_C } from './programs.js';
import { heldLinkIds } from '../../helpers/links.js';

/** Starts `bin args` stopped at its stdin gate; `go()` releases it and resolves at exit. */
function gated(bin: string, args: string[]) {
  const c = spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((r) => c.on('close', (code) => r(code)));
  return {
    pid: c.pid!,
    go: async (): Promise<string> => {
      c.stdin.end('go\n');
      const code = await exited;
      assert.equal(code, 0, `${bin} exited ${code}`);
      return out;
    },
    kill: () => c.kill('SIGKILL'),
  };
}

describe('trace aggregating tools', () => {
  let dir: string;
  let sysBin: string;
  let funcBin: string;
  let spinBin: string;
  let busyBin: string;
  before(() => {
    dir = workdir();
    sysBin = gcc(dir, 'sysloop', SYSCALLS_C);
    funcBin = gcc(dir, 'funcprog', FUNC_C);
    spinBin = gcc(dir, 'spinner', SPIN_C, ['-pthread', '-O0']);
    busyBin = gcc(dir, 'rqbusy', BUSY_C);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(heldLinkIds(), [], 'every link is gone');
  });

  for (const hook of ['raw_tp', 'tracepoint']) {
    it(`syscount (${hook}): exact per-syscall counts and errors of one process`, async () => {
      const p = gated(sysBin, ['1000', '250', path.join(dir, 'does-not-exist')]);
      const s = syscount({ pid: p.pid, hook });
      try {
        await p.go();
        const rows = s.read();
        const by = new Map(rows.map((r) => [r.name, r]));
        assert.equal(by.get('getppid')?.count, 1000);
        assert.equal(by.get('getppid')?.errors, 0);
        // The loader opens a few libraries too: count the failing opens of our path by errors.
        const openat = by.get('openat')!;
        assert.ok(openat.count >= 250);
        assert.equal(openat.errors >= 250, true);
        assert.ok(by.get('getppid')!.totalNs > 0, 'latency is measured');
        assert.equal(s.hook, hook);
      } finally {
        s.stop();
      }
    });
  }

  it('syscount: per process, failures only, one syscall', async () => {
    const p = gated(sysBin, ['300', '40', path.join(dir, 'nope')]);
    const perProc = syscount({ pid: p.pid, perProcess: true });
    const failed = syscount({ pid: p.pid, failuresOnly: true, syscall: 'openat' });
    try {
      await p.go();
      const pp = perProc.read();
      assert.equal(pp.length, 1);
      assert.equal(pp[0]!.key, p.pid);
      assert.equal(pp[0]!.name, 'sysloop');
      assert.ok(pp[0]!.count >= 340);
      const f = failed.read();
      assert.deepEqual(
        f.map((r) => r.name),
        ['openat'],
      );
      // Every counted call failed; 40 are ours (the loader's misses may add a few).
      assert.equal(f[0]!.errors, f[0]!.count);
      assert.ok(f[0]!.count >= 40);
    } finally {
      perProc.stop();
      failed.stop();
    }
  });

  it('funclatency: exact call count and latencies of a user function through uprobes', async () => {
    const p = gated(funcBin, ['50']);
    const s = funclatency({ binary: funcBin, symbol: 'work', pid: p.pid, unit: 'usecs' });
    try {
      const out = await p.go();
      assert.equal(out.trim(), String(2 * ((49 * 50) / 2)));
      const h = s.read();
      assert.equal(h.count, 50);
      assert.equal(
        h.slots.reduce((a, b) => a + b, 0),
        50,
      );
      // nanosleep(100 us) never returns early: nothing lands below the 64-127 us slot.
      assert.deepEqual(h.slots.slice(0, 6), [0, 0, 0, 0, 0, 0]);
      assert.match(drawLog2(h), /usecs +: count +distribution/);
    } finally {
      s.stop();
    }
  });

  it('funclatency: another process running the binary is not counted with -p', async () => {
    const other = gated(funcBin, ['7']);
    const mine = gated(funcBin, ['5']);
    const s = funclatency({ binary: funcBin, symbol: 'work', pid: mine.pid, unit: 'nsecs' });
    try {
      await other.go();
      await mine.go();
      assert.equal(s.read().count, 5);
    } finally {
      s.stop();
    }
  });

  for (const hook of ['tp_btf', 'raw_tp']) {
    it(`runqlat (${hook}): CPU hogs sharing one CPU wait in the run queue`, async () => {
      const s = runqlat({ comm: 'rqbusy', perProcess: true, hook });
      try {
        const hogs = await Promise.all(
          [0, 1, 2].map(() => run('taskset', ['-c', '0', busyBin, '300'])),
        );
        assert.ok(hogs.every((h) => h.code === 0));
        const hs = s.read();
        const pids = hogs.map((h) => h.pid).sort((a, b) => a - b);
        // Each hog was preempted by the others at least once and only hogs are reported.
        assert.deepEqual(
          hs.map((h) => h.key),
          pids,
        );
        for (const h of hs) {
          assert.equal(h.hist.comm, 'rqbusy');
          assert.ok(h.hist.count > 0);
          assert.equal(
            h.hist.slots.reduce((a, b) => a + b, 0),
            h.hist.count,
          );
          assert.match(h.label, /^pid = \d+ rqbusy$/);
        }
      } finally {
        s.stop();
      }
    });
  }

  for (const hook of ['tp_btf', 'raw_tp']) {
    it(`biolatency (${hook}): direct writes to the root disk are counted`, async () => {
      const disk = 'vda';
      const s = biolatency({ perDisk: true, disk, hook, queued: hook === 'raw_tp' });
      try {
        const r = await run('dd', [
          'if=/dev/zero',
          `of=${path.join(dir, `bio-${hook}`)}`,
          'bs=4k',
          'count=64',
          'oflag=direct,dsync',
        ]);
        assert.equal(r.code, 0);
        const hs = s.read();
        assert.deepEqual(
          hs.map((h) => h.label),
          [disk],
        );
        // 64 synchronous direct writes, each its own request (plus journal commits).
        assert.ok(hs[0]!.hist.count >= 64, `count ${hs[0]!.hist.count}`);
      } finally {
        s.stop();
      }
    });
  }

  it('profile: samples the spinning function with symbolized user stacks and folded output', async () => {
    const c = spawn(spinBin, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    const prof = profile({ pid: c.pid!, frequency: 199 });
    try {
      // Sample until both the user function and its caller show up (hang guard only).
      let snap = prof.read();
      for (let i = 0; i < 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
        snap = prof.read();
        if (snap.stacks.some((s) => s.user.join(';').includes('main;spin_here'))) break;
      }
      assert.ok(snap.samples > 0);
      assert.ok(snap.stacks.every((s) => s.pid === c.pid && s.comm === 'spinner'));
      const spin = snap.stacks.find((s) => s.user.at(-1) === 'spin_here');
      assert.ok(spin, JSON.stringify(snap.stacks.slice(0, 3)));
      assert.ok(spin.user.includes('main'), spin.user.join(';'));
      assert.match(spin.folded, /^spinner;.*main;spin_here \d+$/);
      assert.ok(prof.folded().split('\n').length >= 1);
    } finally {
      prof.stop();
      c.stdin!.end();
      await new Promise((r) => c.on('close', r));
    }
  });

  it('profile: kernel stacks resolve through /proc/kallsyms', async () => {
    const prof = profile({ frequency: 499, kernelOnly: true, includeIdle: true });
    try {
      let found: string[] | undefined;
      for (let i = 0; i < 200 && !found; i++) {
        await run('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=1M', 'count=200']);
        found = prof.read().stacks.find((s) => s.kernel.length > 0)?.kernel;
      }
      assert.ok(found);
      assert.ok(
        found.every((f) => /^[\w.$]+$/.test(f)),
        `symbols, not addresses: ${found.join(';')}`,
      );
    } finally {
      prof.stop();
    }
  });
});
