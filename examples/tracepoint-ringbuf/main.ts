/**
 * A tracepoint program streaming openat(2) events through a ring buffer. The example compiles
 * openat.bpf.c, sets the `.rodata` filter `target_tgid` to its own pid before load, attaches to
 * syscalls/sys_enter_openat, opens a few files itself, and prints the events it reads back
 * (decoded through the object's BTF) until it has seen its own files. Then it detaches.
 *
 *   sudo node dist/examples/tracepoint-ringbuf/main.js [--json]
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  attachTracepoint,
  BtfKind,
  Collection,
  loadCollectionSpec,
  RingBuffer,
  setVariable,
} from '../../src/bpf/index.js';
import { buildObject } from '../../src/toolchain/index.js';

/** struct event of openat.bpf.c, as the BTF codec decodes it (char arrays become strings). */
interface OpenatEvent {
  pid: number;
  flags: number;
  comm: string;
  filename: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
// Compiled to dist/examples/tracepoint-ringbuf/; the C source stays in the source tree.
const source = path.resolve(
  here,
  '..',
  '..',
  '..',
  'examples',
  'tracepoint-ringbuf',
  'openat.bpf.c',
);
const json = process.argv.includes('--json');
const work = mkdtempSync(path.join(tmpdir(), 'iovisor-openat-'));

try {
  const wanted = ['a.txt', 'b.txt', 'c.txt'].map((n) => path.join(work, n));
  for (const f of wanted) writeFileSync(f, 'x');
  const { out } = buildObject(source, {
    out: path.join(work, 'openat.o'),
    cacheDir: path.join(work, 'cache'),
  });

  // Spec → object in one explicit step; configuration goes in before the load.
  const spec = loadCollectionSpec(out);
  setVariable(spec, 'target_tgid', process.pid);
  const coll = Collection.load(spec);
  const link = attachTracepoint(coll.program('trace_openat'), 'syscalls', 'sys_enter_openat');
  const typeId = spec.btf?.findByName('event', BtfKind.Struct)[0];
  const rb = new RingBuffer<OpenatEvent>(coll.map('events'), { btf: spec.btf, typeId });
  try {
    // Trigger the traced event ourselves: each openSync is one openat(2) by this process.
    for (const f of wanted) closeSync(openSync(f, 'r'));

    const pending = new Set(wanted);
    const guard = setTimeout(() => rb.close(), 5000);
    const events: OpenatEvent[] = [];
    for await (const ev of rb) {
      events.push(ev);
      if (!json)
        console.log(
          `pid ${ev.pid} comm ${ev.comm} flags 0x${ev.flags.toString(16)} ${ev.filename}`,
        );
      pending.delete(ev.filename);
      if (pending.size === 0) break;
    }
    clearTimeout(guard);
    const seen = coll.variables.get('seen')!.get();
    if (json) console.log(JSON.stringify({ events, missing: [...pending], seen: String(seen) }));
    else
      console.log(
        `own files seen: ${wanted.length - pending.size}/${wanted.length}; openat calls machine-wide: ${seen}`,
      );
    if (pending.size > 0) process.exitCode = 1;
  } finally {
    rb.close();
    link.close();
    coll.close();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
