/**
 * Event tools against the real kernel: each test triggers its own events (exec and exit
 * processes, open files that exist and do not, TCP connections over a namespace's veth pair)
 * and asserts the exact events and fields seen, through every hook set the tool has.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, rmSync, writeFileSync, constants as fsc } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../../../src/sys/index.js';
import {
  execsnoop,
  exitsnoop,
  opensnoop,
  tcpaccept,
  tcpconnect,
  tcplife,
} from '../../../src/trace/index.js';
import { withTopology } from '../../helpers/netns.js';
import { collect, run, workdir } from './helpers.js';
import { heldLinkIds } from '../../helpers/links.js';

describe('trace event tools', () => {
  let dir: string;
  before(() => {
    dir = workdir();
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(heldLinkIds(), [], 'every link a tool created is gone');
  });

  for (const hook of ['tracepoint', 'raw_tp']) {
    it(`execsnoop (${hook}): arguments, ppid and return codes of successful and failed execs`, async () => {
      const s = execsnoop({ hook });
      assert.equal(s.hook, hook);
      let okPid = 0;
      let badPid = 0;
      const got = await collect(
        s,
        async () => {
          okPid = (await run('/bin/sh', ['-c', 'exit 0', 'arg with space', 'x'])).pid;
          // A missing program: the shell's exec fails with ENOENT.
          badPid = (await run(path.join(dir, 'no-such-binary'), ['z']).catch(() => ({ pid: -1 })))
            .pid;
        },
        (ev) => ev.some((e) => e.pid === okPid && e.retval === 0),
      );
      const ok = got.find((e) => e.pid === okPid && e.retval === 0)!;
      assert.equal(ok.filename, '/bin/sh');
      assert.deepEqual(ok.args, ['-c', 'exit 0', 'arg with space', 'x']);
      assert.equal(ok.comm, 'sh');
      assert.equal(ok.ppid, process.pid);
      assert.equal(ok.uid, process.getuid!());
      assert.equal(ok.truncated, false);
      // Node reports ENOENT from spawn itself: the exec was attempted by the forked child.
      const failed = got.filter((e) => e.filename === path.join(dir, 'no-such-binary'));
      if (badPid > 0) assert.ok(failed.every((e) => e.retval === -2));
    });
  }

  it('execsnoop: a failed exec reports -ENOENT with its arguments', async () => {
    const s = execsnoop({});
    const missing = path.join(dir, 'missing-prog');
    const got = await collect(
      s,
      () => run('/bin/sh', ['-c', `exec ${missing} one two; exit 7`]),
      (ev) => ev.some((e) => e.filename === missing),
    );
    const e = got.find((x) => x.filename === missing)!;
    assert.equal(e.retval, -2);
    assert.deepEqual(e.args, ['one', 'two']);
    assert.equal(e.comm, 'sh');
  });

  it('execsnoop: -p filters in the kernel', async () => {
    // Only execs by the shell (pid known after spawn) are wanted: filter on a fresh sh child.
    const s = execsnoop({ comm: 'true' });
    const got = await collect(
      s,
      async () => {
        await run('/bin/echo', ['not me']);
        await run('/bin/true', ['me']);
      },
      (ev) => ev.some((e) => e.args[0] === 'me'),
    );
    assert.ok(
      got.every((e) => e.comm === 'true'),
      JSON.stringify(got.map((e) => e.comm)),
    );
  });

  for (const hook of ['tp_btf', 'tracepoint']) {
    it(`exitsnoop (${hook}): exit codes, signals, parent and age`, async () => {
      const s = exitsnoop({ hook });
      assert.equal(s.hook, hook);
      let p3 = 0;
      let pk = 0;
      const got = await collect(
        s,
        async () => {
          p3 = (await run('/bin/sh', ['-c', 'exit 3'])).pid;
          pk = (await run('/bin/sh', ['-c', 'kill -TERM $$'])).pid;
        },
        (ev) => ev.some((e) => e.pid === p3) && ev.some((e) => e.pid === pk),
      );
      const e3 = got.find((e) => e.pid === p3)!;
      assert.equal(e3.exitCode, 3);
      assert.equal(e3.signal, 0);
      assert.equal(e3.ppid, process.pid);
      assert.equal(e3.tid, p3);
      assert.equal(e3.comm, 'sh');
      assert.ok(e3.age >= 0);
      const ek = got.find((e) => e.pid === pk)!;
      assert.equal(ek.signal, 15);
      assert.equal(ek.coreDumped, false);
    });
  }

  it('exitsnoop --failed skips clean exits', async () => {
    const s = exitsnoop({ failedOnly: true });
    let ok = 0;
    let bad = 0;
    const got = await collect(
      s,
      async () => {
        ok = (await run('/bin/sh', ['-c', 'exit 0'])).pid;
        bad = (await run('/bin/sh', ['-c', 'exit 9'])).pid;
      },
      (ev) => ev.some((e) => e.pid === bad),
    );
    assert.ok(!got.some((e) => e.pid === ok));
    assert.equal(got.find((e) => e.pid === bad)!.exitCode, 9);
  });

  for (const hook of ['tracepoint', 'raw_tp']) {
    it(`opensnoop (${hook}): path, flags, fd and errno of opens that exist and do not`, async () => {
      const exists = path.join(dir, `exists-${hook}`);
      const missing = path.join(dir, `missing-${hook}`);
      writeFileSync(exists, 'x');
      const s = opensnoop({ pid: process.pid, hook });
      let fd = -1;
      const got = await collect(
        s,
        () => {
          fd = openSync(exists, fsc.O_RDONLY | fsc.O_NOFOLLOW);
          closeSync(fd);
          try {
            openSync(missing, fsc.O_WRONLY);
          } catch {
            // ENOENT expected
          }
        },
        (ev) => ev.some((e) => e.path === missing),
      );
      assert.ok(
        got.every((e) => e.pid === process.pid),
        'only this process',
      );
      const a = got.find((e) => e.path === exists)!;
      assert.equal(a.fd, fd);
      assert.equal(a.errno, 0);
      assert.equal(a.error, '');
      assert.equal(a.syscall, 'openat');
      assert.equal(a.flags & (fsc.O_NOFOLLOW | 3), fsc.O_NOFOLLOW | fsc.O_RDONLY);
      const b = got.find((e) => e.path === missing)!;
      assert.equal(b.fd, -1);
      assert.equal(b.errno, 2);
      assert.equal(b.error, 'ENOENT');
      assert.equal(b.flags & 3, fsc.O_WRONLY);
    });
  }

  it('opensnoop --failed with a path filter', async () => {
    const s = opensnoop({ pid: process.pid, failedOnly: true, name: 'nope-' });
    const missing = path.join(dir, 'nope-1');
    const got = await collect(
      s,
      () => {
        closeSync(openSync(path.join(dir, 'exists-tracepoint'), 'r'));
        try {
          openSync(missing, 'r');
        } catch {
          // expected
        }
      },
      (ev) => ev.length > 0,
    );
    assert.deepEqual(
      got.map((e) => [e.path, e.error]),
      [[missing, 'ENOENT']],
    );
  });

  it('tcpconnect, tcpaccept and tcplife see TCP sessions over a veth pair', async () => {
    await withTopology({ hosts: ['c', 's'], links: [{ a: 'c', b: 's' }] }, async (net) => {
      const [l] = net.links;
      const server = `
        const net = require('node:net');
        const srv = net.createServer((c) => { c.on('data', () => {}); c.end(Buffer.alloc(3000, 1)); });
        srv.listen(8080, '${l!.b.ip4}', () => process.stdout.write('listening\\n'));
        setTimeout(() => srv.close(), 8000);`;
      const client = `
        const net = require('node:net');
        let n = 0;
        const one = () => {
          const c = net.connect(8080, '${l!.b.ip4}');
          c.on('connect', () => c.write(Buffer.alloc(100, 2)));
          c.on('data', () => {});
          c.on('end', () => { c.end(); if (++n < 2) one(); else refused(); });
        };
        const refused = () => {
          const r = net.connect(9, '${l!.b.ip4}');
          r.on('error', () => process.stdout.write('done\\n'));
        };
        one();`;
      const conn = tcpconnect({ comm: 'node' });
      const acc = tcpaccept({ port: 8080 });
      const life = tcplife({ remotePort: 8080 });
      try {
        const srv = net.exec('s', process.execPath, ['-e', server]);
        // Wait for the listener before connecting.
        for (let i = 0; i < 100; i++) {
          const r = await net.exec('s', 'ss', ['-Hltn', 'sport = :8080']);
          if (r.stdout.includes('8080')) break;
          await new Promise((r2) => setTimeout(r2, 50));
        }
        const cl = await net.exec('c', process.execPath, ['-e', client]);
        assert.equal(cl.stdout.trim(), 'done', cl.stderr);
        const conns = await collect(
          conn,
          () => undefined,
          (ev) => ev.filter((e) => e.daddr === l!.b.ip4).length >= 3,
        );
        const accs = await collect(
          acc,
          () => undefined,
          (ev) => ev.length >= 2,
        );
        const lives = await collect(
          life,
          () => undefined,
          (ev) => ev.length >= 2,
        );
        await srv;

        const mine = conns.filter((e) => e.daddr === l!.b.ip4);
        assert.deepEqual(
          mine.map((e) => [e.saddr, e.dport, e.result, e.ipVersion]),
          [
            [l!.a.ip4, 8080, 'established', 4],
            [l!.a.ip4, 8080, 'established', 4],
            [l!.a.ip4, 9, 'failed', 4],
          ],
        );
        assert.ok(mine.every((e) => e.comm === 'node' && e.sport > 0 && e.pid > 0));
        assert.equal(new Set(mine.map((e) => e.pid)).size, 1, 'one client process');

        assert.deepEqual(
          accs.map((e) => [e.laddr, e.lport, e.raddr, e.ipVersion, e.comm]),
          mine.slice(0, 2).map((e) => [l!.b.ip4, 8080, e.saddr, 4, 'node']),
        );
        assert.deepEqual(
          accs.map((e) => e.rport),
          mine.slice(0, 2).map((e) => e.sport),
          'accepted ports are the connecting ports',
        );

        // Client side of each session, as tcp_sock counts them (libbpf-tools reads the same fields):
        // bytes_acked = 100 data + SYN + FIN, bytes_received = 3000 data + FIN.
        assert.deepEqual(
          lives.map((e) => [e.laddr, e.lport, e.raddr, e.rport, e.txBytes, e.rxBytes, e.comm]),
          mine.slice(0, 2).map((e) => [e.saddr, e.sport, l!.b.ip4, 8080, 102, 3001, 'node']),
        );
        assert.ok(lives.every((e) => e.pid === mine[0]!.pid && e.durationMs > 0));
      } finally {
        conn.stop();
        acc.stop();
        life.stop();
      }
    });
  });
});
