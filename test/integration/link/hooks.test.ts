/**
 * The hooks that need no network namespace, against the real kernel: cgroup_skb egress and
 * ingress on a cgroup v2 directory with a child process inside it (exact counts, a real drop),
 * a socket filter that truncates what a UDP socket receives, and perf_event sampling on every
 * CPU. Each attachment is detached at the end and the counters stop moving.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import '../../../src/sys/index.js';
import { Collection, setVariable } from '../../../src/bpf/collection.js';
import { loadCollectionSpec } from '../../../src/bpf/index.js';
import {
  attachCgroup,
  attachPerfEvent,
  attachSocketFilter,
  AttachError,
  PerfSwConfig,
  PerfType,
} from '../../../src/bpf/link/index.js';
import { buildObject } from '../../../src/toolchain/build.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const SOURCE = path.join(ROOT, 'testdata', 'hooks', 'hooks.bpf.c');

const COUNT_PORT = 40000 + (process.pid % 10000);
const DROP_PORT = COUNT_PORT + 1;
const C_EGRESS = 0;
const C_INGRESS_DROP = 1;
const C_SOCKET = 2;
const C_SAMPLE = 3;

/** The cgroup v2 mount point (unified or hybrid hierarchy). */
function cgroup2Root(): string {
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, dir, fstype] = line.split(' ');
    if (fstype === 'cgroup2' && dir) return dir;
  }
  throw new Error('no cgroup2 file system is mounted (mount -t cgroup2 none /sys/fs/cgroup)');
}

/**
 * A child process that joins `cgroup`, then sends `n` datagrams to COUNT_PORT and `n` to
 * DROP_PORT on loopback, each to a socket of its own, and prints how many each received.
 */
function runInCgroup(cgroup: string, n: number): { counted: number; dropped: number } {
  const script = `
    const fs = require('node:fs');
    const dgram = require('node:dgram');
    fs.writeFileSync(${JSON.stringify(path.join(cgroup, 'cgroup.procs'))}, String(process.pid));
    const got = { counted: 0, dropped: 0 };
    const a = dgram.createSocket('udp4'), b = dgram.createSocket('udp4'), tx = dgram.createSocket('udp4');
    a.on('message', () => got.counted++);
    b.on('message', () => got.dropped++);
    a.bind(${COUNT_PORT}, '127.0.0.1', () => b.bind(${DROP_PORT}, '127.0.0.1', async () => {
      for (let i = 0; i < ${n}; i++) {
        await new Promise((r) => tx.send('x', ${COUNT_PORT}, '127.0.0.1', r));
        await new Promise((r) => tx.send('y', ${DROP_PORT}, '127.0.0.1', r));
      }
      setTimeout(() => { console.log(JSON.stringify(got)); process.exit(0); }, 300);
    }));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as { counted: number; dropped: number };
}

function count(c: Collection, slot: number): number {
  return Number(c.map('counts').get(slot));
}

describe('cgroup, socket filter and perf_event hooks', () => {
  let coll: Collection;
  before(() => {
    const obj = buildObject(SOURCE, { out: path.join(ROOT, '.build-cache', 'hooks.o') }).out;
    const spec = loadCollectionSpec(obj);
    setVariable(spec, 'count_port', COUNT_PORT);
    setVariable(spec, 'drop_port', DROP_PORT);
    setVariable(spec, 'keep_bytes', 4);
    coll = Collection.load(spec);
  });
  after(() => coll?.close());

  it('cgroup_skb egress counts and ingress drops exactly, only inside the cgroup', () => {
    const cg = path.join(cgroup2Root(), `iovisor-test-${process.pid}`);
    mkdirSync(cg);
    const egress = attachCgroup(coll.program('count_egress'), cg);
    const ingress = attachCgroup(coll.program('drop_ingress'), cg);
    try {
      const got = runInCgroup(cg, 25);
      assert.equal(count(coll, C_EGRESS), 25, 'egress datagrams to the counted port');
      assert.equal(count(coll, C_INGRESS_DROP), 25, 'ingress datagrams dropped');
      assert.deepEqual(got, { counted: 25, dropped: 0 });
      // Outside the cgroup nothing is counted or dropped.
      const outside = runInCgroup(cgroup2Root(), 5);
      assert.deepEqual(outside, { counted: 5, dropped: 5 });
      assert.equal(count(coll, C_EGRESS), 25);
    } finally {
      egress.detach();
      ingress.detach();
      rmdirSync(cg);
    }
    assert.equal(existsSync(cg), false);
  });

  it('cgroup attach to a missing directory names the hook and the path', () => {
    assert.throws(
      () => attachCgroup(coll.program('count_egress'), '/sys/fs/cgroup/no-such-cgroup'),
      (err: unknown) =>
        err instanceof AttachError &&
        /cgroup/.test(err.message) &&
        err.message.includes('/sys/fs/cgroup/no-such-cgroup'),
    );
  });

  it('a socket filter truncates what the socket receives, and detaching stops it', async () => {
    const rx = dgram.createSocket('udp4');
    const tx = dgram.createSocket('udp4');
    const messages: string[] = [];
    rx.on('message', (m) => messages.push(m.toString()));
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
    const port = rx.address().port;
    const fd = (rx as unknown as { _handle: { fd: number } })._handle.fd;
    assert.ok(fd > 0, 'the dgram socket exposes its fd');
    const send = (text: string): Promise<void> =>
      new Promise((r, j) => tx.send(text, port, '127.0.0.1', (e) => (e ? j(e) : r())));
    const settle = (n: number): Promise<void> =>
      new Promise((r) => {
        const t = setInterval(() => {
          if (messages.length < n) return;
          clearInterval(t);
          r();
        }, 5);
      });
    const filter = attachSocketFilter(coll.program('truncate_socket'), fd);
    try {
      for (let i = 0; i < 10; i++) await send('hello world');
      await settle(10);
      assert.deepEqual(messages, Array(10).fill('hell'));
      assert.equal(count(coll, C_SOCKET), 10);
    } finally {
      filter.detach();
    }
    await send('hello world');
    await settle(11);
    assert.equal(messages[10], 'hello world');
    assert.equal(count(coll, C_SOCKET), 10);
    rx.close();
    tx.close();
  });

  it('perf_event sampling runs the program on each CPU until detached', () => {
    const group = attachPerfEvent(coll.program('on_sample'), {
      type: PerfType.Software,
      config: PerfSwConfig.CpuClock,
      samplePeriod: 1_000_000, // 1 ms of CPU clock
    });
    let sampled: number;
    try {
      const end = Date.now() + 200;
      while (Date.now() < end); // keep this CPU busy so samples fire
      sampled = count(coll, C_SAMPLE);
      assert.ok(sampled > 10, `expected samples from a 200 ms busy loop, got ${sampled}`);
    } finally {
      group.detach();
    }
    const settled = count(coll, C_SAMPLE);
    const end = Date.now() + 100;
    while (Date.now() < end);
    assert.equal(count(coll, C_SAMPLE), settled, 'no samples after detach');
  });
});
