/**
 * `iovisor trace` and `iovisor top` as a user runs them: bcc-style tables, --json lines,
 * histograms drawn in the terminal, and top's per-program run statistics (BPF_ENABLE_STATS)
 * for a program this test loads and drives.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../../../src/sys/index.js';
import { Program } from '../../../src/bpf/program.js';
import { opensnoop } from '../../../src/trace/index.js';
import { CLI } from '../../helpers/corpus.js';
import { iovisor } from '../../helpers/cli.js';
import { gcc, run, workdir } from './helpers.js';
import { FUNC_C, SYSCALLS_C } from './programs.js';

/** Starts the CLI; resolves once it is attached (its "Tracing" line on stderr). */
async function start(args: string[]) {
  const c = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const closed = new Promise<number | null>((r) => c.on('close', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const onData = (): void => {
      if (err.includes('Tracing ')) resolve();
    };
    c.stderr.on('data', onData);
    c.on('exit', () => reject(new Error(`iovisor ${args.join(' ')} exited: ${err}`)));
  });
  return {
    /** Waits for exit (sending SIGINT first unless it ends by itself). */
    finish: async (
      interrupt = true,
    ): Promise<{ code: number | null; out: string; err: string }> => {
      if (interrupt) c.kill('SIGINT');
      const code = await closed;
      return { code, out, err };
    },
  };
}

function gated(bin: string, args: string[]) {
  const c = spawn(bin, args, { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise<void>((r) => c.on('close', () => r()));
  return {
    pid: c.pid!,
    go: async () => {
      c.stdin!.end('go\n');
      await exited;
    },
  };
}

describe('iovisor trace / top', () => {
  let dir: string;
  before(() => {
    dir = workdir();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('trace opensnoop --json prints one JSON line per open and stops at --count', async () => {
    const file = path.join(dir, 'cli-open-marker');
    writeFileSync(file, '');
    const t = await start([
      'trace',
      'opensnoop',
      '-p',
      String(process.pid),
      '-n',
      'cli-open-marker',
      '--json',
      '--count',
      '2',
    ]);
    closeSync(openSync(file, 'r'));
    try {
      openSync(file + '-missing', 'r');
    } catch {
      // ENOENT expected
    }
    const r = await t.finish(false);
    assert.equal(r.code, 0, r.err);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { path: string; pid: number; fd: number; error: string });
    assert.deepEqual(
      lines.map((l) => [l.path, l.pid, l.fd >= 0, l.error]),
      [
        [file, process.pid, true, ''],
        [file + '-missing', process.pid, false, 'ENOENT'],
      ],
    );
  });

  it('trace execsnoop prints the bcc columns', async () => {
    const t = await start(['trace', 'execsnoop', '-c', 'true']);
    const { pid } = await run('/bin/true', ['cli-exec', 'arg2']);
    await new Promise((r) => setTimeout(r, 200));
    const r = await t.finish();
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n');
    assert.equal(lines[0], 'PCOMM            PID     PPID    RET ARGS');
    const row = lines.find((l) => l.includes('cli-exec'));
    assert.ok(row, r.out);
    assert.deepEqual(row.trim().split(/\s+/), [
      'true',
      String(pid),
      String(process.pid),
      '0',
      '/bin/true',
      'cli-exec',
      'arg2',
    ]);
  });

  it('trace syscount -L and trace funclatency draw their tables and histograms', async () => {
    const sysBin = gcc(dir, 'clisys', SYSCALLS_C);
    const p = gated(sysBin, ['1234', '0', '/']);
    const t = await start(['trace', 'syscount', '-p', String(p.pid), '-L']);
    await p.go();
    const r = await t.finish();
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^SYSCALL\s+COUNT\s+TIME \(us\)$/m);
    assert.match(r.out, /^getppid\s+1234\s+\d+\.\d{3}$/m);

    const funcBin = gcc(dir, 'clifunc', FUNC_C);
    const f = gated(funcBin, ['12']);
    const t2 = await start([
      'trace',
      'funclatency',
      '--binary',
      funcBin,
      '--symbol',
      'work',
      '-p',
      String(f.pid),
      '-u',
    ]);
    await f.go();
    const r2 = await t2.finish();
    assert.equal(r2.code, 0, r2.err);
    assert.match(r2.out, /usecs\s+: count\s+distribution/);
    assert.match(r2.out, /count: 12$/m);
    const counted = [...r2.out.matchAll(/^\s*\d+ -> \d+\s*: (\d+)\s+\|\**\s*\|$/gm)].reduce(
      (a, m) => a + Number(m[1]),
      0,
    );
    assert.equal(counted, 12);
  });

  it('trace with an unknown tool or option fails with usage', () => {
    const r = iovisor('trace', 'nosuchtool');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown tool "nosuchtool"/);
    const r2 = iovisor('trace', 'opensnoop', '--bogus');
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /unknown option --bogus/);
  });

  it('top --once --json reports runs and run time per second of a program it did not load', async () => {
    assert.equal(
      readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim(),
      '0',
      'stats are off unless top enables them',
    );
    const s = opensnoop({ pid: process.pid });
    const drain = (async () => {
      for await (const e of s) void e;
    })();
    const file = path.join(dir, 'top-load');
    writeFileSync(file, '');
    const busy = setInterval(() => {
      for (let i = 0; i < 50; i++) closeSync(openSync(file, 'r'));
    }, 10);
    try {
      const ids = Program.ids();
      const child = spawn(process.execPath, [CLI, 'top', '--once', '--json', '--interval', '1'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const code = await new Promise((r) => child.on('close', r));
      assert.equal(code, 0, err);
      const snap = JSON.parse(out) as {
        interval: number;
        programs: {
          id: number;
          name: string;
          type: string;
          runsPerSec: number;
          runTimeNsPerSec: number;
          runCount: number;
        }[];
      };
      assert.equal(snap.interval, 1);
      const enter = snap.programs.find(
        (p) => p.name === 'tp_enter_opena' || p.name === 'tp_enter_openat',
      );
      assert.ok(enter, JSON.stringify(snap.programs.map((p) => p.name)));
      assert.ok(ids.includes(enter.id));
      assert.equal(enter.type, 'tracepoint');
      assert.ok(enter.runsPerSec > 0 && enter.runCount > 0 && enter.runTimeNsPerSec > 0);
      // The stats fd closed with top: counters stand still while the program keeps running.
      const before = Program.fromId(enter.id);
      const c1 = before.info().runCount;
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(before.info().runCount, c1);
      before.close();
    } finally {
      clearInterval(busy);
      s.stop();
      await drain;
    }
  });
});
