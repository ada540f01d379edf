/** Shared helpers for the tracing tools' integration tests. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EventStream } from '../../../src/trace/index.js';

/**
 * Iterates `stream` while `trigger` runs, until `done(events)` holds; fails (and stops) when it
 * has not held after `guardMs` — a hang guard, not a timing assertion.
 */
export async function collect<T>(
  stream: EventStream<T>,
  trigger: () => unknown,
  done: (events: T[]) => boolean,
  guardMs = 20_000,
): Promise<T[]> {
  const got: T[] = [];
  let timedOut = false;
  const guard = setTimeout(() => {
    timedOut = true;
    stream.stop();
  }, guardMs);
  let satisfied = false;
  const it = (async () => {
    for await (const e of stream) {
      got.push(e);
      if (done(got)) {
        satisfied = true;
        break;
      }
    }
  })();
  try {
    await trigger();
    // Events can arrive before the trigger has learned what to look for (a child's exit event
    // beats its 'exit' callback), so check again once the trigger is done, then keep checking
    // until the guard fires: a quiet system may send no further event to re-check on.
    while (!satisfied && !timedOut) {
      if (done(got)) {
        satisfied = true;
        stream.stop();
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await it;
  } finally {
    clearTimeout(guard);
    stream.stop();
  }
  if (timedOut)
    throw new Error(
      `stream ${stream.tool}: expected events not seen (got ${got.length}: ${JSON.stringify(got.slice(0, 5), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))})`,
    );
  return got;
}

/** Spawns a process and resolves with its pid and exit status. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string } = {},
): Promise<{ pid: number; code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], ...opts });
    let stdout = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.on('error', reject);
    c.on('close', (code, signal) => resolve({ pid: c.pid!, code, signal, stdout }));
  });
}

/** A temp directory for the test. */
export function workdir(): string {
  return mkdtempSync(path.join(tmpdir(), 'iovisor-trace-'));
}

/** Compiles a C program with gcc (frame pointers kept for stack walking). */
export function gcc(dir: string, name: string, source: string, extra: string[] = []): string {
  const src = path.join(dir, `${name}.c`);
  const bin = path.join(dir, name);
  writeFileSync(src, source);
  execFileSync('gcc', [
    '-O1',
    '-g',
    '-fno-omit-frame-pointer',
    '-fno-inline',
    ...extra,
    '-o',
    bin,
    src,
  ]);
  return bin;
}

/** Waits for a line matching `re` on a child's stream. */
export function waitLine(
  child: ChildProcess,
  stream: 'stdout' | 'stderr',
  re: RegExp,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const s = child[stream]!;
    const onData = (d: Buffer | string): void => {
      buf += d.toString();
      const m = buf.split('\n').find((l) => re.test(l));
      if (m !== undefined) {
        s.off('data', onData);
        resolve(m);
      }
    };
    s.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing ${re}: ${buf}`)));
  });
}
