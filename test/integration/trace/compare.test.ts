/**
 * Ours next to libbpf-tools (Debian's libbpf-tools package) on the same workload: for every
 * tool both have that runs on this kernel, ours saw every event theirs saw. Ours is started
 * before theirs and read after theirs stopped, so counters cover at least their window.
 * libbpf-tools' tcpconnect needs kprobes (absent here) and the package has no profile or
 * tcpaccept; those have no peer here.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../../../src/sys/index.js';
import {
  biolatency,
  execsnoop,
  exitsnoop,
  funclatency,
  opensnoop,
  runqlat,
  syscount,
  tcplife,
  type EventStream,
} from '../../../src/trace/index.js';
import { gcc, run, waitLine, workdir } from './helpers.js';
import { BUSY_C, FUNC_C, SYSCALLS_C } from './programs.js';

const SBIN = '/usr/sbin';

/** Starts a libbpf-tools binary line-buffered; resolves once `ready` appears on stdout. */
async function theirs(
  tool: string,
  args: string[],
  ready: RegExp,
): Promise<{
  child: ChildProcess;
  until: (done: (out: string) => boolean) => Promise<void>;
  stop: () => Promise<string>;
}> {
  const bin = path.join(SBIN, tool);
  if (!existsSync(bin))
    throw new Error(`${bin} missing: apt-get install libbpf-tools (Debian 12 has 0.26)`);
  const child = spawn('stdbuf', ['-oL', bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  // Drain stderr too (an unread pipe can stall the tool) and show it in the test's output.
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  await waitLine(child, 'stdout', ready);
  return {
    child,
    // Their tools print from a perf buffer polled every 100 ms and drop what is unread at
    // SIGINT: on a loaded machine a fixed pause is not enough, so wait for the rows (≤ 10 s).
    until: async (done) => {
      for (let t = 0; t < 200 && !done(out); t++) await new Promise((r) => setTimeout(r, 50));
    },
    stop: () =>
      new Promise((resolve) => {
        child.on('close', () => {
          if (err) console.error(`${tool} stderr:\n${err}`);
          resolve(out);
        });
        child.kill('SIGINT');
      }),
  };
}

/** Reads events from our stream in the background until stopped. */
function drain<T>(s: EventStream<T>): { events: T[]; done: Promise<void> } {
  const events: T[] = [];
  const done = (async () => {
    for await (const e of s) events.push(e);
  })();
  return { events, done };
}

/**
 * Lets late events arrive, then stops theirs and after it ours (so ours covers their window);
 * `between` runs after the settle, before theirs stops. Returns what theirs printed.
 */
async function stopBoth(
  t: { stop: () => Promise<string> },
  s: { stop: () => void },
  ours: { done: Promise<void> },
  between?: () => void,
): Promise<string> {
  await new Promise((r) => setTimeout(r, 300));
  between?.();
  const out = await t.stop();
  s.stop();
  await ours.done;
  return out;
}

/** Sum of the counts of a libbpf-tools log2 histogram section. */
function histCounts(text: string): number {
  let n = 0;
  for (const m of text.matchAll(/^\s*\d+ -> \d+\s*: (\d+)/gm)) n += Number(m[1]);
  return n;
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

describe('ours vs libbpf-tools on the same workload', () => {
  let dir: string;
  before(() => {
    dir = workdir();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('execsnoop: every exec libbpf-tools saw (with args and return code)', async () => {
    const s0 = execsnoop({});
    const ours = drain(s0);
    const t = await theirs('execsnoop', ['-x'], /^PCOMM/);
    const pids: number[] = [];
    for (let i = 0; i < 5; i++) pids.push((await run('/bin/true', [`cmp-exec-${i}`, 'x'])).pid);
    await run(path.join(dir, 'nonexistent'), []).catch(() => undefined);
    await t.until((o) => (o.match(/cmp-exec-/g) ?? []).length >= 5);
    const out = await stopBoth(t, s0, ours);
    const theirRows = out
      .split('\n')
      .filter((l) => /cmp-exec-/.test(l))
      .map((l) => {
        const f = l.trim().split(/\s+/);
        return { pid: Number(f[1]), ret: Number(f[3]), args: f.slice(4).join(' ') };
      });
    assert.equal(theirRows.length, 5, out);
    const mine = ours.events.filter((e) => e.args[0]?.startsWith('cmp-exec-'));
    for (const r of theirRows) {
      const m = mine.find((e) => e.pid === r.pid);
      assert.ok(m, `ours missed pid ${r.pid}`);
      assert.equal(m.retval, r.ret);
      assert.equal([m.filename, ...m.args].join(' '), r.args);
    }
    assert.deepEqual(
      theirRows.map((r) => r.pid),
      pids,
    );
  });

  it('exitsnoop: every exit libbpf-tools saw, same exit codes', async () => {
    const s = exitsnoop({});
    const ours = drain(s);
    const t = await theirs('exitsnoop', [], /^PCOMM/);
    const pids: number[] = [];
    for (const code of [0, 1, 42]) pids.push((await run('/bin/sh', ['-c', `exit ${code}`])).pid);
    await t.until((o) => pids.every((pid) => new RegExp(`\\s${pid}\\s`).test(o)));
    const out = await stopBoth(t, s, ours);
    const theirRows = out
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => pids.includes(Number(f[1])));
    assert.equal(theirRows.length, 3, out);
    for (const f of theirRows) {
      const m = ours.events.find((e) => e.pid === Number(f[1]));
      assert.ok(m, `ours missed ${f.join(' ')}`);
      // Their EXIT_CODE column reads "0", or "code N" for a non-zero status.
      assert.equal(String(m.exitCode), f[5] === 'code' ? f[6] : f[5]);
      assert.equal(String(m.ppid), f[2]);
    }
  });

  it('opensnoop: every open of one process libbpf-tools saw, same fd and errno', async () => {
    const bin = gcc(dir, 'cmpopen', SYSCALLS_C);
    const missing = path.join(dir, 'cmp-missing');
    const attempt = async () => {
      const p = gated(bin, ['0', '20', missing]);
      const s = opensnoop({ pid: p.pid });
      const ours = drain(s);
      const t = await theirs('opensnoop', ['-p', String(p.pid)], /^PID/);
      await p.go();
      await t.until((o) => o.split(missing).length > 20);
      const out = await stopBoth(t, s, ours);
      const theirRows = out
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f.length >= 5);
      return { out, ours, theirRows };
    };
    // libbpf-tools' opensnoop -p now and then prints no row at all within 10 s in the full suite
    // (attached, header printed; not reproduced in 5 runs of this file alone). With nothing of
    // theirs there is nothing to compare: run the workload once more, with a fresh process.
    let r = await attempt();
    if (r.theirRows.length === 0) {
      console.error('libbpf-tools opensnoop printed no rows; running the comparison again');
      r = await attempt();
    }
    const { out, ours, theirRows } = r;
    assert.ok(theirRows.filter((f) => f[4] === missing).length === 20, out);
    assert.ok(theirRows.length <= ours.events.length);
    for (const f of theirRows) {
      const m = ours.events.find(
        (e) => e.path === f[4] && e.fd === Number(f[2]) && e.errno === Number(f[3]),
      );
      assert.ok(m, `ours missed ${f.join(' ')}`);
    }
  });

  it('tcplife: every session libbpf-tools saw, same ports and bytes', async () => {
    const s = tcplife({});
    const ours = drain(s);
    const t = await theirs('tcplife', [], /^PID/);
    const srv = net.createServer((c) => c.end(Buffer.alloc(5000, 1)));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve) => {
        const c = net.connect(port, '127.0.0.1', () => c.write('abc'));
        c.on('data', () => undefined);
        c.on('end', () => {
          c.end();
          resolve();
        });
      });
    }
    const out = await stopBoth(t, s, ours, () => srv.close());
    // PID COMM LADDR LPORT RADDR RPORT TX_KB RX_KB MS
    const theirRows = out
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[5] === String(port) || f[3] === String(port));
    assert.equal(theirRows.length, 6, out);
    for (const f of theirRows) {
      const m = ours.events.find((e) => String(e.lport) === f[3] && String(e.rport) === f[5]);
      assert.ok(m, `ours missed ${f.join(' ')}`);
      assert.equal((m.txBytes / 1024).toFixed(2), f[6]);
      assert.equal((m.rxBytes / 1024).toFixed(2), f[7]);
      assert.equal(String(m.pid), f[0]);
    }
  });

  it('syscount: same exact counts for one process', async () => {
    const bin = gcc(dir, 'cmpsys', SYSCALLS_C);
    const p = gated(bin, ['777', '0', '/']);
    const s = syscount({ pid: p.pid });
    const t = await theirs('syscount', ['-p', String(p.pid)], /^Tracing/);
    await p.go();
    const out = await t.stop();
    const mine = s.read();
    s.stop();
    const theirGetppid = /^getppid\s+(\d+)/m.exec(out);
    assert.ok(theirGetppid, out);
    assert.equal(Number(theirGetppid[1]), 777);
    assert.equal(mine.find((r) => r.name === 'getppid')?.count, 777);
    for (const m of out.matchAll(/^(\w+)\s+(\d+)$/gm)) {
      const row = mine.find((r) => r.name === m[1]);
      assert.ok(row && row.count >= Number(m[2]), `${m[1]}: ours ${row?.count} theirs ${m[2]}`);
    }
  });

  it('funclatency: same call count through uprobes', async () => {
    const bin = gcc(dir, 'cmpfunc', FUNC_C);
    const p = gated(bin, ['33']);
    const s = funclatency({ binary: bin, symbol: 'work', pid: p.pid });
    const t = await theirs('funclatency', ['-p', String(p.pid), ':work'], /^Tracing/);
    await p.go();
    const out = await t.stop();
    const h = s.read();
    s.stop();
    assert.equal(histCounts(out), 33, out);
    assert.equal(h.count, 33);
  });

  it('runqlat: per-process counts at least theirs for CPU hogs', async () => {
    const bin = gcc(dir, 'cmpbusy', BUSY_C);
    const s = runqlat({ perProcess: true });
    const t = await theirs('runqlat', ['-P'], /^Tracing/);
    const hogs = await Promise.all([0, 1, 2].map(() => run('taskset', ['-c', '0', bin, '200'])));
    const out = await t.stop();
    const mine = s.read();
    s.stop();
    for (const h of hogs) {
      const sec = new RegExp(`pid = ${h.pid} [^\\n]*\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(out);
      assert.ok(sec, `theirs has pid ${h.pid}: ${out.slice(0, 500)}`);
      const theirCount = histCounts(sec[1]!);
      const ourCount = mine.find((x) => x.key === h.pid)?.hist.count ?? 0;
      assert.ok(theirCount > 0);
      assert.ok(ourCount >= theirCount, `pid ${h.pid}: ours ${ourCount} < theirs ${theirCount}`);
    }
  });

  it('biolatency: total I/O count at least theirs', async () => {
    const s = biolatency({});
    const t = await theirs('biolatency', [], /^Tracing/);
    await run('dd', [
      'if=/dev/zero',
      `of=${path.join(dir, 'cmp-bio')}`,
      'bs=4k',
      'count=32',
      'oflag=direct,dsync',
    ]);
    const out = await t.stop();
    const mine = s.read();
    s.stop();
    const theirCount = histCounts(out);
    assert.ok(theirCount >= 32, out);
    assert.ok(
      mine[0]!.hist.count >= theirCount,
      `ours ${mine[0]!.hist.count} < theirs ${theirCount}`,
    );
  });
});
