/**
 * Tracing hooks streaming through ring and perf buffers while the test triggers the traced
 * events itself: openat (tracepoint), exec (tp_btf), a uprobe on a function of a C binary
 * compiled here with gcc; and hooks this kernel refuses (kprobes, fentry) failing with the hook
 * and the reason while the process keeps running.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import '../../../src/sys/index.js';
import { Collection } from '../../../src/bpf/collection.js';
import { haveFentry, haveKprobesFeature, probeAll } from '../../../src/bpf/features/index.js';
import {
  AttachError,
  attachKprobe,
  attachRawTracepoint,
  attachTracepoint,
  attachTracing,
  attachUprobe,
  elfFunctionSymbols,
  Link,
} from '../../../src/bpf/link/index.js';
import { PerfBuffer } from '../../../src/bpf/perf.js';
import { RingBuffer } from '../../../src/bpf/ringbuf.js';
import { AttachType } from '../../../src/bpf/types.js';
import { heldLinkIds } from '../../helpers/links.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
function corpus(name: string): string {
  const p = path.join(ROOT, 'testdata', 'corpus', 'build', `${name}.o`);
  if (!existsSync(p)) throw new Error(`${p} missing: run 'bash scripts/build-testdata.sh'`);
  return p;
}

const cstr = (b: Uint8Array): string => {
  const end = b.indexOf(0);
  return Buffer.from(end < 0 ? b : b.subarray(0, end)).toString('utf8');
};

/** struct event of ringbuf.bpf.c. */
function openatEvent(b: Uint8Array): { pid: number; kind: number; comm: string; filename: string } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    pid: dv.getUint32(0, true),
    kind: dv.getUint32(4, true),
    comm: cstr(b.subarray(16, 32)),
    filename: cstr(b.subarray(32, 104)),
  };
}

function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.on('error', reject);
    c.on('spawn', () => resolve(c.pid!));
  });
}

describe('tracing hooks and event streams', () => {
  let rbObj: Collection;
  let work: string;
  before(() => {
    rbObj = Collection.loadFile(corpus('ringbuf'));
    work = mkdtempSync(path.join(tmpdir(), 'iovisor-trace-'));
  });
  after(() => {
    rbObj?.close();
    rmSync(work, { recursive: true, force: true });
    assert.deepEqual(heldLinkIds(), [], 'no link created here is left');
  });

  it('streams openat tracepoint events through the ring buffer (async iterator)', async () => {
    const rb = new RingBuffer(rbObj.map('events'), { decode: openatEvent });
    const link = attachTracepoint(rbObj.program('trace_openat'), 'syscalls', 'sys_enter_openat');
    try {
      assert.ok(link instanceof Link);
      const file = path.join(work, 'opened-by-test');
      writeFileSync(file, 'x');
      const timer = setTimeout(() => closeSync(openSync(file, 'r')), 50);
      let found;
      for await (const e of rb) {
        if (e.filename === file) {
          found = e;
          break;
        }
      }
      clearTimeout(timer);
      assert.ok(found);
      assert.equal(found.pid, process.pid);
      assert.equal(found.kind, 1);
      assert.equal(found.comm, process.title.slice(0, 15) === 'node' ? 'node' : found.comm);
      assert.match(found.comm, /node|MainThread|libuv/);
    } finally {
      link.close();
      rb.close();
    }
  });

  it('streams the same events through the perf buffer (callbacks) and counts lost samples', async () => {
    const pb = new PerfBuffer(rbObj.map('perf_events'), { decode: openatEvent, pagesPerCpu: 1 });
    const link = attachTracepoint(rbObj.program('trace_openat'), 'syscalls', 'sys_enter_openat');
    try {
      const file = path.join(work, 'opened-for-perf');
      writeFileSync(file, 'y');
      const got = await new Promise<{ pid: number; filename: string }>((resolve) => {
        pb.on('data', (r: { cpu: number; value: ReturnType<typeof openatEvent> }) => {
          if (r.value.filename === file) resolve(r.value);
        });
        closeSync(openSync(file, 'r'));
      });
      assert.equal(got.pid, process.pid);
      // Overflow a one-page ring from a burst of test runs, drain, and see the loss reported.
      pb.removeAllListeners('data');
      const frame = new Uint8Array(64);
      rbObj.program('xdp_emit').run({ data: frame, repeat: 500 });
      pb.consume(() => {});
      rbObj.program('xdp_emit').run({ data: frame, repeat: 1 });
      pb.consume(() => {});
      assert.ok(pb.lost > 0, `lost samples counted (${pb.lost})`);
    } finally {
      link.close();
      pb.close();
    }
  });

  it('streams exec events from a tp_btf program and decodes them through BTF', async () => {
    const c = Collection.loadFile(corpus('core_tp_btf'));
    const execs = c.map('execs');
    const btf = execs.btf!;
    const typeId = execs.valueType!;
    const rb = new RingBuffer<Record<string, unknown>>(c.map('events'), { btf, typeId });
    const link = attachTracing(c.program('handle_exec'));
    try {
      assert.equal(link.info().progId, c.program('handle_exec').info().id);
      const pid = await run('/bin/true', []);
      let found: Record<string, unknown> | undefined;
      for await (const e of rb) {
        if (e.pid === pid) {
          found = e;
          break;
        }
      }
      assert.ok(found);
      assert.equal(found.ppid, process.pid);
      assert.equal(found.comm, 'true');
      assert.equal(found.filename, '/bin/true');
    } finally {
      link.close();
      rb.close();
      c.close();
    }
  });

  it('fires a uprobe on a function of a C binary built with gcc and reads its argument', async () => {
    const src = path.join(work, 'target.c');
    const bin = path.join(work, 'target');
    writeFileSync(
      src,
      `#include <stdio.h>
__attribute__((noinline)) int iovisor_probe_me(long x) { return printf("%ld\\n", x) > 0; }
int main(void) { return !iovisor_probe_me(424242); }
`,
    );
    execFileSync('gcc', ['-O1', '-g', '-o', bin, src]);
    assert.ok(elfFunctionSymbols(bin).has('iovisor_probe_me'));
    const c = Collection.loadFile(corpus('sections'));
    const hits = c.variables.get('hits_uprobe_any')!;
    const arg = c.variables.get('last_uprobe_arg')!;
    const up = attachUprobe(c.program('uprobe_any'), bin, { symbol: 'iovisor_probe_me' });
    try {
      assert.equal((up as Link).info().details.event_type, 'uprobe');
      execFileSync(bin);
      assert.equal(hits.get(), 1n);
      assert.equal(arg.get(), 424242n);
    } finally {
      up.close();
    }
    execFileSync(bin);
    assert.equal(hits.get(), 1n, 'detached: no more hits');
    const ret = attachUprobe(c.program('uprobe_any'), bin, {
      symbol: 'iovisor_probe_me',
      retprobe: true,
    });
    try {
      execFileSync(bin);
      assert.equal(hits.get(), 2n);
    } finally {
      ret.close();
      c.close();
    }
  });

  it('attaches a raw tracepoint by name and pins, reopens and detaches its link', () => {
    const c = Collection.loadFile(corpus('sections'));
    const pin = `/sys/fs/bpf/iovt-${process.pid}-rawtp`;
    try {
      const l = attachRawTracepoint(c.program('raw_tp_sys_enter'), 'sys_enter');
      l.pin(pin);
      l.close();
      const again = Link.openPinned(pin);
      assert.equal(again.info().details.tp_name, 'sys_enter');
      const h0 = c.variables.get('hits_raw_tp_sys_enter')!.get() as bigint;
      execFileSync('/bin/true');
      assert.ok((c.variables.get('hits_raw_tp_sys_enter')!.get() as bigint) > h0);
      again.unpin(pin);
      again.close();
      assert.equal(existsSync(pin), false);
    } finally {
      rmSync(pin, { force: true });
      c.close();
    }
  });

  it('refuses kprobes and fentry on this kernel with the hook and the reason, and keeps going', () => {
    const c = Collection.loadFile(corpus('sections'));
    try {
      assert.equal(haveKprobesFeature().supported, false);
      assert.throws(
        () => attachKprobe(c.program('uprobe_any'), 'do_sys_openat2'),
        (e: unknown) =>
          e instanceof AttachError &&
          /^attach kprobe do_sys_openat2: this kernel has no kprobes/.test(e.message),
      );
      const f = haveFentry();
      assert.equal(f.supported, false);
      assert.match(f.reason ?? '', /refused/);
      // A program loaded as tp_btf but asked to attach as fentry: refused, named, explained.
      const tp = Collection.loadFile(corpus('core_tp_btf'));
      try {
        assert.throws(
          () => attachTracing(tp.program('handle_exit'), { attachType: AttachType.TraceFentry }),
          (e: unknown) =>
            e instanceof AttachError &&
            /^attach fentry sched_process_exit: EINVAL: .*loaded for tp_btf, not fentry/.test(
              e.message,
            ),
        );
      } finally {
        tp.close();
      }
      const report = probeAll();
      assert.equal(report.features.kprobes!.supported, false);
      assert.equal(report.features.ring_buffer!.supported, true);
      assert.equal(report.features.tcx!.supported, true);
      assert.equal(report.programTypes.xdp!.supported, true);
      assert.equal(report.mapTypes.ringbuf!.supported, true);
    } finally {
      c.close();
    }
  });
});
