// The corpus through the CLI: every object loads with `iovisor object load`, each test-run in
// testdata/corpus/expect.json gives the documented return value under `iovisor prog run`, and
// `iovisor map dump` shows the documented maps and globals afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, release } from 'node:os';
import path from 'node:path';
import { internalMapName, pinName } from '../../../src/bpf/index.js';
import { iovisor, iovisorJSON } from '../../helpers/cli.js';
import { corpusExpect, corpusObject } from '../../helpers/corpus.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Entry {
  key: Json;
  value?: Json;
  innerMap?: string;
  program?: string;
}
interface TestRun {
  packet: string;
  retval: number;
  after?: { globals?: Record<string, Record<string, Json>>; maps?: Record<string, Entry[]> };
}
interface ProgExpect {
  section: string;
  type: string;
  testRun?: TestRun[];
  verifierRejects?: { sourceLine: number; sourceText: string; logContains: string[] };
}
interface MapExpect {
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number | null;
  percpu?: boolean;
}
interface ObjExpect {
  maps: Record<string, MapExpect>;
  programs: Record<string, ProgExpect>;
  globals?: Record<string, Record<string, Json>>;
  machineSpecific?: Record<string, string>;
}

const expect = corpusExpect();
const objects = expect.objects as unknown as Record<string, ObjExpect>;
const work = mkdtempSync(path.join(tmpdir(), 'iovt-corpus-'));
let seq = 0;

function pinDir(): string {
  return `/sys/fs/bpf/iovt-corpus-${process.pid}-${seq++}`;
}

function packetFile(name: string): string {
  const p = path.join(work, `${name}.bin`);
  writeFileSync(p, Buffer.from(expect.packets[name]!.hex, 'hex'));
  return p;
}

/** Sums per-CPU values (field-wise for structs), as expect.json records them. */
function sumPerCpu(values: Json[]): Json {
  const first = values[0];
  if (typeof first === 'number') return (values as number[]).reduce((a, b) => a + b, 0);
  if (first && typeof first === 'object' && !Array.isArray(first)) {
    const out: Record<string, Json> = {};
    for (const k of Object.keys(first))
      out[k] = sumPerCpu(values.map((v) => (v as Record<string, Json>)[k]!));
    return out;
  }
  return first ?? null;
}

const sortKey = (e: Entry): string => JSON.stringify(e.key);

/** Machine-specific kconfig values, recomputed independently of the loader. */
function kconfigSeen(): Record<string, Json> {
  const [a, b, c] = release()
    .split(/[.-]/)
    .map((x) => parseInt(x, 10) || 0);
  return { kernel_version: (a! << 16) + (b! << 8) + Math.min(c!, 255) };
}

after(() => rmSync(work, { recursive: true, force: true }));
import { after } from 'node:test';

for (const [objName, obj] of Object.entries(objects)) {
  test(`corpus ${objName}: loads with iovisor object load and behaves as documented`, () => {
    const file = corpusObject(objName);
    const rejects = Object.entries(obj.programs).filter(([, p]) => p.verifierRejects);
    if (rejects.length > 0) {
      const dir = pinDir();
      try {
        const r = iovisor('object', 'load', file, '--pin', dir);
        assert.notEqual(r.status, 0, 'a rejected program must fail the load');
        for (const [prog, p] of rejects) {
          const v = p.verifierRejects!;
          assert.match(r.stderr, new RegExp(`load program ${prog}: verifier rejected it`));
          assert.ok(
            r.stderr.includes(`:${v.sourceLine}: ${v.sourceText}`),
            `stderr names the C line: ${r.stderr}`,
          );
          assert.ok(r.stderr.includes('invalid access to packet'), r.stderr);
        }
        assert.equal(r.stderr.trim().split('\n').length, 1, 'one clear line');
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      return;
    }

    // Load once to check the declared shape of every map and program.
    const dir = pinDir();
    try {
      const loaded = iovisorJSON<{
        programs: { name: string; section: string }[];
        maps: { name: string; pin: string }[];
      }>('object', 'load', file, '--pin', dir);
      for (const [name, p] of Object.entries(obj.programs)) {
        const got = loaded.programs.find((x) => x.name === name);
        assert.ok(got, `program ${name} loaded`);
        assert.equal(got.section, p.section);
        const show = iovisorJSON<{ type: string; name: string }>(
          'prog',
          'show',
          path.join(dir, name),
        );
        assert.equal(show.type, p.type);
      }
      for (const [name, m] of Object.entries(obj.maps)) {
        const show = iovisorJSON<{
          type: string;
          key_size: number;
          value_size: number;
          max_entries: number;
        }>('map', 'show', path.join(dir, 'maps', pinName(name)));
        assert.equal(show.type, m.type, `map ${name} type`);
        assert.equal(show.key_size, m.keySize, `map ${name} key size`);
        assert.equal(show.value_size, m.valueSize, `map ${name} value size`);
        if (m.maxEntries !== null)
          assert.equal(show.max_entries, m.maxEntries, `map ${name} max entries`);
      }
      for (const [section, vars] of Object.entries(obj.globals ?? {})) {
        if (Object.keys(vars).some((k) => k.startsWith('$'))) continue;
        const pin = path.join(dir, 'maps', pinName(internalMapName(objName, section)));
        const [entry] = iovisorJSON<{ value: Record<string, Json> }[]>('map', 'dump', pin);
        assert.deepEqual(entry!.value, vars, `initial ${section}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // Each documented run on a fresh load.
    for (const [progName, p] of Object.entries(obj.programs)) {
      for (const run of p.testRun ?? []) {
        const d = pinDir();
        try {
          iovisorJSON('object', 'load', file, '--pin', d);
          const res = iovisorJSON<{ retval: number }>(
            'prog',
            'run',
            path.join(d, progName),
            '--data-in',
            packetFile(run.packet),
          );
          assert.equal(res.retval, run.retval, `${progName} on ${run.packet}: return value`);
          for (const [section, vars] of Object.entries(run.after?.globals ?? {})) {
            const pin = path.join(d, 'maps', pinName(internalMapName(objName, section)));
            const [entry] = iovisorJSON<{ value: Record<string, Json> }[]>('map', 'dump', pin);
            const want = { ...vars };
            if (objName === 'kconfig' && want.seen && typeof want.seen === 'object') {
              // Machine-specific: check what can be recomputed, and that every field is present.
              const got = entry!.value.seen as Record<string, Json>;
              assert.deepEqual(Object.keys(got).sort(), Object.keys(want.seen).sort());
              assert.equal(got.kernel_version, kconfigSeen().kernel_version);
              assert.equal(got.missing, 0, 'a missing __weak kconfig reads as 0');
              delete want.seen;
              delete entry!.value.seen;
            }
            assert.deepEqual(entry!.value, want, `${progName}: ${section} after the run`);
          }
          for (const [mapName, entries] of Object.entries(run.after?.maps ?? {})) {
            const pin = path.join(d, 'maps', pinName(mapName));
            const dump = iovisorJSON<Entry[]>('map', 'dump', pin);
            const percpu = obj.maps[mapName]?.percpu === true;
            const got = dump.map((e) => {
              if (entries[0]?.innerMap !== undefined) {
                const name = Object.keys(obj.maps).find(
                  (n) =>
                    iovisorJSON<{ id: number }>('map', 'show', path.join(d, 'maps', pinName(n)))
                      .id === e.value,
                );
                return { key: e.key, innerMap: name };
              }
              if (entries[0]?.program !== undefined) {
                const name = Object.keys(obj.programs).find(
                  (n) =>
                    iovisorJSON<{ id: number }>('prog', 'show', path.join(d, n)).id === e.value,
                );
                return { key: e.key, program: name };
              }
              return { key: e.key, value: percpu ? sumPerCpu(e.value as Json[]) : e.value };
            });
            assert.deepEqual(
              got.sort((a, b) => sortKey(a).localeCompare(sortKey(b))),
              [...entries].sort((a, b) => sortKey(a).localeCompare(sortKey(b))),
              `${progName}: map ${mapName} after the run`,
            );
          }
        } finally {
          rmSync(d, { recursive: true, force: true });
        }
      }
    }
  });
}
