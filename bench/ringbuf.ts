/**
 * Ring-buffer consumption: iovisor's RingBuffer into a JS callback vs libbpf's ring_buffer
 * consumer (bench/c/build/ringbuf_consumer), on the same program and the same event source, in
 * one run. The source is xdp_emit from the corpus (one 104-byte record per run) driven by
 * BPF_PROG_TEST_RUN with a large repeat count from a separate producer process, so the producer
 * outpaces either consumer and the ring stays non-empty: what is measured is consumption.
 * While the JS consumer streams, a 10 ms setInterval measures event-loop drift.
 *
 * Usage: node dist/bench/ringbuf.js [--seconds S]   (root; corpus and bench/c built)
 * Prints a table and one JSON line.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import '../src/sys/index.js';
import { Collection } from '../src/bpf/collection.js';
import { RingBuffer } from '../src/bpf/ringbuf.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OBJ = path.join(ROOT, 'testdata', 'corpus', 'build', 'ringbuf.o');
const C_CONSUMER = path.join(ROOT, 'bench', 'c', 'build', 'ringbuf_consumer');

const secIdx = process.argv.indexOf('--seconds');
const SECONDS = secIdx > 0 ? Number(process.argv[secIdx + 1]) : 3;

/** A producer process: test-runs the pinned xdp_emit in a tight loop for `ms` milliseconds. */
function startProducer(progPin: string, ms: number): Promise<void> {
  const script = `
    import('${path.join(ROOT, 'dist', 'src', 'sys', 'index.js')}').then(async () => {
      const { Program } = await import('${path.join(ROOT, 'dist', 'src', 'bpf', 'program.js')}');
      const p = Program.openPinned(process.argv[1]);
      const data = new Uint8Array(64);
      const end = Date.now() + Number(process.argv[2]);
      while (Date.now() < end) p.run({ data, repeat: 20000 });
      p.close();
    });`;
  const child = spawn(process.execPath, ['-e', script, progPin, String(ms)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`producer exited ${code}`)),
    );
  });
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function jsPhase(
  c: Collection,
  progPin: string,
): Promise<{ events: number; seconds: number; drift: number[] }> {
  const rb = new RingBuffer<number>(c.map('events'), { decode: (b) => b.byteLength });
  rb.consume(() => {}); // start from an empty ring
  let events = 0;
  const drift: number[] = [];
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    drift.push(now - last - 10);
    last = now;
  }, 10);
  const producer = startProducer(progPin, SECONDS * 1000);
  const t0 = performance.now();
  rb.on('data', () => {
    events++;
  });
  await producer;
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(tick);
  rb.close();
  return { events, seconds, drift };
}

async function cPhase(
  progPin: string,
  mapPin: string,
): Promise<{ events: number; seconds: number }> {
  const out: string[] = [];
  const consumer = spawn(C_CONSUMER, [mapPin, '--duration-ms', String(SECONDS * 1000)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  consumer.stdout.setEncoding('utf8').on('data', (d: string) => out.push(d));
  const done = new Promise<void>((resolve, reject) => {
    consumer.on('error', reject);
    consumer.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`ringbuf_consumer exited ${code}`)),
    );
  });
  await new Promise((r) => setTimeout(r, 100)); // let it map the ring
  await startProducer(progPin, SECONDS * 1000);
  await done;
  const j = JSON.parse(out.join('').trim().split('\n').pop()!) as {
    events: number;
    seconds: number;
  };
  return { events: j.events, seconds: j.seconds };
}

async function main(): Promise<void> {
  if (!existsSync(OBJ)) throw new Error(`${OBJ} missing: run bash scripts/build-testdata.sh`);
  if (!existsSync(C_CONSUMER)) execFileSync('bash', [path.join(ROOT, 'bench', 'c', 'build.sh')]);
  const dir = `/sys/fs/bpf/iovisor-bench-ringbuf-${process.pid}`;
  mkdirSync(dir, { recursive: true });
  const c = Collection.loadFile(OBJ);
  try {
    const progPin = path.join(dir, 'xdp_emit');
    const mapPin = path.join(dir, 'events');
    c.program('xdp_emit').pin(progPin);
    c.map('events').pin(mapPin);
    const counters = (): { produced: number; dropped: number } => ({
      produced: Number(c.variables.get('xdp_events')!.get()),
      dropped: Number(c.variables.get('ringbuf_errors')!.get()),
    });
    const k0 = counters();
    const js = await jsPhase(c, progPin);
    const k1 = counters();
    const cc = await cPhase(progPin, mapPin);
    const k2 = counters();
    const phase = (a: typeof k0, b: typeof k0, secs: number) => ({
      producer_runs_per_sec: Math.round((b.produced - a.produced) / secs),
      ring_full_drops: b.dropped - a.dropped,
    });
    const jsRate = js.events / js.seconds;
    const cRate = cc.events / cc.seconds;
    const result = {
      bench: 'ringbuf',
      record_bytes: 104,
      seconds: SECONDS,
      iovisor_events_per_sec: Math.round(jsRate),
      libbpf_events_per_sec: Math.round(cRate),
      ratio_iovisor_to_libbpf: Number((jsRate / cRate).toFixed(3)),
      event_loop_drift_ms: {
        p50: Number(percentile(js.drift, 50).toFixed(2)),
        p99: Number(percentile(js.drift, 99).toFixed(2)),
        max: Number(Math.max(0, ...js.drift).toFixed(2)),
      },
      // Drops > 0 mean the ring was full: the producer outpaced the consumer being measured.
      js_phase: phase(k0, k1, js.seconds),
      libbpf_phase: phase(k1, k2, cc.seconds),
    };
    process.stdout.write(
      `ring buffer consumption, ${SECONDS}s each, same producer (xdp_emit test-run x20000 loop)\n` +
        `  iovisor RingBuffer (JS callback)  ${result.iovisor_events_per_sec.toLocaleString()} events/s\n` +
        `  libbpf ring_buffer (C)            ${result.libbpf_events_per_sec.toLocaleString()} events/s\n` +
        `  ratio iovisor/libbpf              ${result.ratio_iovisor_to_libbpf}\n` +
        `  event-loop drift while streaming  p50 ${result.event_loop_drift_ms.p50} ms, p99 ${result.event_loop_drift_ms.p99} ms, max ${result.event_loop_drift_ms.max} ms\n`,
    );
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    c.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
