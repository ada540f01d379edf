// Proves the corpus and its expectations against the reference tool chain (bpftool 7.1 /
// libbpf 1.1) before iovisor's own loader is judged by them: every object bpftool supports must
// load, every one it does not must fail for the documented reason, and every test-run listed
// in testdata/corpus/expect.json must return the documented value and leave the documented
// globals and map contents behind. Runs as root on the real kernel.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CORPUS = path.join(ROOT, 'testdata', 'corpus');
const BPFFS = '/sys/fs/bpf';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface MapSpecExpect {
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number | null;
  flags: number;
  percpu?: boolean;
  initial?: EntryExpect[];
}

interface EntryExpect {
  key: Json;
  value?: Json;
  innerMap?: string;
  program?: string;
}

interface AfterExpect {
  globals?: Record<string, Record<string, Json>>;
  maps?: Record<string, EntryExpect[]>;
}

interface TestRunExpect {
  packet: string;
  retval: number;
  after?: AfterExpect;
}

interface ProgramExpect {
  section: string;
  type: string;
  testRun?: TestRunExpect[];
  verifierRejects?: { logContains: string[] };
}

interface ObjectExpect {
  source: string;
  bpftool: { loads: boolean; error?: string; loadArgs?: string[] };
  maps: Record<string, MapSpecExpect>;
  globals?: Record<string, Record<string, Json>>;
  externs?: Record<string, { type: string }>;
  machineSpecific?: Record<string, string>;
  programs: Record<string, ProgramExpect>;
}

interface Expectations {
  packets: Record<string, { hex: string; length: number }>;
  objects: Record<string, ObjectExpect>;
}

const expect = JSON.parse(
  fs.readFileSync(path.join(CORPUS, 'expect.json'), 'utf8'),
) as Expectations;

let pinSeq = 0;
let tmpDir = '';

/** Runs bpftool; a missing binary throws so the test fails rather than skips. */
function bpftool(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('bpftool', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`run bpftool ${args.join(' ')}: ${r.error.message}`);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs bpftool with -j and parses its JSON, failing with bpftool's own words on error. */
function bpftoolJson(args: string[]): Json {
  const r = bpftool(['-j', ...args]);
  if (r.status !== 0) {
    throw new Error(`bpftool ${args.join(' ')}: exit ${r.status}: ${r.stdout}${r.stderr}`);
  }
  return JSON.parse(r.stdout) as Json;
}

/** A pinned object collection in a unique bpffs directory, removed by close(). */
interface Loaded {
  dir: string;
  status: number;
  output: string;
  close(): void;
}

function objectPath(name: string): string {
  return path.join(CORPUS, 'build', `${name}.o`);
}

function load(name: string, extra: string[] = []): Loaded {
  const dir = path.join(BPFFS, `iovisor-corpus-${process.pid}-${++pinSeq}`);
  fs.mkdirSync(dir);
  const close = (): void => fs.rmSync(dir, { recursive: true, force: true });
  try {
    const r = bpftool([
      'prog',
      'loadall',
      objectPath(name),
      path.join(dir, 'progs'),
      ...extra,
      'pinmaps',
      path.join(dir, 'maps'),
    ]);
    return { dir, status: r.status, output: r.stdout + r.stderr, close };
  } catch (err) {
    close();
    throw err;
  }
}

function loadOrFail(name: string, extra: string[] = []): Loaded {
  const l = load(name, extra);
  if (l.status !== 0) {
    l.close();
    assert.fail(`bpftool prog loadall ${name}.o ${extra.join(' ')} failed:\n${l.output}`);
  }
  return l;
}

/** Kernel map name -> pinned path, for every map bpftool pinned. */
function pinnedMaps(l: Loaded): Map<string, string> {
  const out = new Map<string, string>();
  const mapsDir = path.join(l.dir, 'maps');
  for (const f of fs.readdirSync(mapsDir)) {
    const p = path.join(mapsDir, f);
    const info = bpftoolJson(['map', 'show', 'pinned', p]) as { name: string };
    out.set(info.name, p);
  }
  return out;
}

/** Finds the internal map holding an ELF section, e.g. ".bss" -> "globals.bss". */
function sectionMap(maps: Map<string, string>, section: string): string {
  for (const [name, p] of maps) if (name === section || name.endsWith(section)) return p;
  assert.fail(`no map for section ${section} among ${[...maps.keys()].join(', ')}`);
}

interface DumpEntry {
  key: string[];
  value?: string[];
  formatted?: { key?: Json; value?: Json; values?: { cpu: number; value: Json }[] };
}

function dump(p: string): DumpEntry[] {
  return bpftoolJson(['map', 'dump', 'pinned', p]) as unknown as DumpEntry[];
}

/** Variables of a data section as one object, from bpftool's BTF-formatted datasec dump. */
function sectionVars(p: string, section: string): Record<string, Json> {
  const entries = dump(p);
  assert.equal(entries.length, 1, `${section}: one array element`);
  const value = entries[0]?.formatted?.value as Record<string, Record<string, Json>[]>;
  assert.ok(value?.[section], `${section}: BTF-formatted dump: ${JSON.stringify(entries[0])}`);
  return Object.assign({}, ...value[section]) as Record<string, Json>;
}

function sum(a: Json, b: Json): Json {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a)) {
    const r: Record<string, Json> = {};
    for (const k of Object.keys(a)) r[k] = sum(a[k] as Json, (b as Record<string, Json>)[k]);
    return r;
  }
  assert.fail(`cannot sum per-CPU values ${JSON.stringify(a)} and ${JSON.stringify(b)}`);
}

function leU32(bytes: string[]): number {
  return bytes.slice(0, 4).reduce((acc, b, i) => acc + parseInt(b, 16) * 2 ** (8 * i), 0);
}

/** Map entries in expect.json's shape: formatted values, per-CPU sums, inner map / program names. */
function entries(p: string, spec: MapSpecExpect | undefined): EntryExpect[] {
  const type = spec?.type ?? '';
  return dump(p).map((e) => {
    if (type === 'array_of_maps' || type === 'hash_of_maps') {
      const id = leU32(e.value ?? []);
      const info = bpftoolJson(['map', 'show', 'id', String(id)]) as { name: string };
      return { key: leU32(e.key), innerMap: info.name };
    }
    if (type === 'prog_array') {
      const id = leU32(e.value ?? []);
      const info = bpftoolJson(['prog', 'show', 'id', String(id)]) as { name: string };
      return { key: leU32(e.key), program: info.name };
    }
    const f = e.formatted;
    assert.ok(f, `${p}: no BTF-formatted dump`);
    if (f.values) {
      return { key: f.key as Json, value: f.values.map((v) => v.value).reduce(sum) };
    }
    return { key: f.key as Json, value: f.value as Json };
  });
}

function sortEntries(list: EntryExpect[]): EntryExpect[] {
  return [...list].sort((a, b) => JSON.stringify(a.key).localeCompare(JSON.stringify(b.key)));
}

/** This machine's kernel configuration, as libbpf reads it. */
function kernelConfig(): Map<string, string> {
  const release = os.release();
  const text = fs.existsSync('/proc/config.gz')
    ? zlib.gunzipSync(fs.readFileSync('/proc/config.gz')).toString('utf8')
    : fs.readFileSync(`/boot/config-${release}`, 'utf8');
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

/** The value libbpf gives a __kconfig extern of the given C type on this machine. */
function kconfigValue(option: string, ctype: string): Json {
  if (option === 'LINUX_KERNEL_VERSION') {
    const m = /^(\d+)\.(\d+)\.(\d+)/.exec(os.release());
    assert.ok(m, `parse kernel release ${os.release()}`);
    return (Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(Number(m[3]), 255);
  }
  const raw = kernelConfig().get(option);
  if (ctype === 'bool') return raw === 'y' ? 1 : 0;
  if (ctype === 'enum libbpf_tristate') return raw === 'y' ? 1 : raw === 'm' ? 2 : 0;
  if (ctype.startsWith('char')) return raw === undefined ? '' : raw.replace(/^"|"$/g, '');
  return raw === undefined ? 0 : Number(raw);
}

/** expect.json's after-state with machine-specific fields recomputed for this kernel. */
function localise(obj: ObjectExpect, after: AfterExpect): AfterExpect {
  if (!obj.machineSpecific || !after.globals) return after;
  const copy = JSON.parse(JSON.stringify(after)) as AfterExpect;
  for (const [field, option] of Object.entries(obj.machineSpecific)) {
    if (field.startsWith('$')) continue;
    const [variable, member] = field.split('.') as [string, string];
    for (const vars of Object.values(copy.globals ?? {})) {
      const v = vars[variable] as Record<string, Json> | undefined;
      if (v) v[member] = kconfigValue(option, obj.externs?.[option]?.type ?? 'int');
    }
  }
  return copy;
}

function checkGlobals(
  maps: Map<string, string>,
  globals: Record<string, Record<string, Json>>,
  what: string,
): void {
  for (const [section, vars] of Object.entries(globals)) {
    const wanted = Object.entries(vars).filter(([k]) => !k.startsWith('$'));
    if (wanted.length === 0) {
      sectionMap(maps, section);
      continue;
    }
    const got = sectionVars(sectionMap(maps, section), section);
    for (const [k, v] of wanted) assert.deepEqual(got[k], v, `${what}: ${section} ${k}`);
  }
}

before(() => {
  // Build output goes to stderr so it cannot mix with the test runner's report on stdout.
  execFileSync('bash', [path.join(ROOT, 'scripts', 'build-testdata.sh')], {
    stdio: ['ignore', 2, 2],
  });
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8');
  assert.ok(
    mounts.split('\n').some((l) => l.split(' ')[1] === BPFFS && l.split(' ')[2] === 'bpf'),
    `bpffs is not mounted at ${BPFFS} (scripts/setup.sh mounts it)`,
  );
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iovisor-corpus-'));
});

after(() => {
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
});

for (const [name, obj] of Object.entries(expect.objects)) {
  describe(`corpus ${name}.o`, () => {
    test('is built from its source', () => {
      assert.ok(fs.existsSync(path.join(CORPUS, obj.source)), obj.source);
      assert.ok(fs.existsSync(objectPath(name)), `${name}.o`);
    });

    if (obj.bpftool.loads) {
      test('bpftool loads it with the documented programs, maps and initial globals', () => {
        const l = loadOrFail(name);
        try {
          const progDir = path.join(l.dir, 'progs');
          assert.deepEqual(fs.readdirSync(progDir).sort(), Object.keys(obj.programs).sort());
          for (const [prog, pe] of Object.entries(obj.programs)) {
            const info = bpftoolJson(['prog', 'show', 'pinned', path.join(progDir, prog)]);
            assert.equal((info as { type: string }).type, pe.type, `${prog}: program type`);
          }
          const maps = pinnedMaps(l);
          for (const [m, spec] of Object.entries(obj.maps)) {
            const p = maps.get(m);
            assert.ok(p, `map ${m} pinned (have ${[...maps.keys()].join(', ')})`);
            const info = bpftoolJson(['map', 'show', 'pinned', p]) as Record<string, Json>;
            assert.equal(info.type, spec.type, `${m}: type`);
            assert.equal(info.bytes_key, spec.keySize, `${m}: key size`);
            assert.equal(info.bytes_value, spec.valueSize, `${m}: value size`);
            if (spec.maxEntries !== null) {
              assert.equal(info.max_entries, spec.maxEntries, `${m}: max entries`);
            }
            assert.equal(info.flags, spec.flags, `${m}: flags`);
            if (spec.initial) {
              assert.deepEqual(
                sortEntries(entries(p, spec)),
                sortEntries(spec.initial),
                `${m}: static initial contents`,
              );
            }
          }
          if (obj.globals) checkGlobals(maps, obj.globals, 'initial globals');
        } finally {
          l.close();
        }
      });
    } else {
      test(`bpftool refuses it: ${obj.bpftool.error}`, () => {
        const l = load(name);
        try {
          assert.notEqual(l.status, 0, `bpftool unexpectedly loaded ${name}.o`);
          assert.ok(
            obj.bpftool.error && l.output.includes(obj.bpftool.error),
            `expected "${obj.bpftool.error}" in:\n${l.output}`,
          );
          for (const [prog, pe] of Object.entries(obj.programs)) {
            for (const s of pe.verifierRejects?.logContains ?? []) {
              assert.ok(l.output.includes(s), `${prog}: verifier log lacks "${s}"`);
            }
          }
        } finally {
          l.close();
        }
      });
      if (obj.bpftool.loadArgs) {
        const args = obj.bpftool.loadArgs;
        test(`bpftool loads it with "${args.join(' ')}"`, () => {
          loadOrFail(name, args).close();
        });
      }
    }

    const runnable = obj.bpftool.loads || obj.bpftool.loadArgs !== undefined;
    if (!runnable) return;
    for (const [prog, pe] of Object.entries(obj.programs)) {
      for (const run of pe.testRun ?? []) {
        test(`${prog} with ${run.packet} returns ${run.retval} and leaves the documented state`, () => {
          const pkt = expect.packets[run.packet];
          assert.ok(pkt, `packet ${run.packet} defined`);
          const data = Buffer.from(pkt.hex, 'hex');
          assert.equal(data.length, pkt.length, `${run.packet}: length`);
          const file = path.join(tmpDir, `${run.packet}.bin`);
          fs.writeFileSync(file, data);

          const l = loadOrFail(name, obj.bpftool.loadArgs ?? []);
          try {
            const res = bpftoolJson([
              'prog',
              'run',
              'pinned',
              path.join(l.dir, 'progs', prog),
              'data_in',
              file,
              'repeat',
              '1',
            ]) as { retval: number };
            assert.equal(res.retval, run.retval, `${prog}: return value`);
            const want = localise(obj, run.after ?? {});
            const maps = pinnedMaps(l);
            if (want.globals) checkGlobals(maps, want.globals, prog);
            for (const [m, list] of Object.entries(want.maps ?? {})) {
              const p = maps.get(m);
              assert.ok(p, `map ${m} pinned`);
              assert.deepEqual(
                sortEntries(entries(p, obj.maps[m])),
                sortEntries(list),
                `${prog}: contents of ${m}`,
              );
            }
          } finally {
            l.close();
          }
        });
      }
    }
  });
}
