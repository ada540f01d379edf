import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { generateBindings, writeBindings } from '../../../src/toolchain/index.js';
import { ROOT } from '../../helpers/corpus.js';
import { iovisor } from '../../helpers/cli.js';

// Bindings for every corpus object (except reject.o, which the verifier refuses by design) are
// generated into a temporary folder inside the repository, so that their default import is the
// relative path to src/bpf/index.js, and type-checked with tsc together with code that uses them.

const BUILD = path.join(ROOT, 'testdata', 'corpus', 'build');
const tmp = fs.mkdtempSync(path.join(ROOT, `.tmp-toolchain-gen-${process.pid}-`));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const objects = fs
  .readdirSync(BUILD)
  .filter((f) => f.endsWith('.o') && f !== 'reject.o')
  .sort();

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
  },
};

function tsc(dir: string, files: string[]): { status: number; out: string } {
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ ...TSCONFIG, files }, null, 2),
  );
  const r = spawnSync('npx', ['tsc', '--noEmit', '-p', dir], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, out: r.stdout + r.stderr };
}

// Code written against the bindings: it must compile, and the commented misuse must not.
const USE = `
import { Tc } from './tc.js';
import * as GlobalsModule from './globals.js';
import { Maps, type FlowKey } from './maps.js';

export async function use(): Promise<bigint> {
  const tc = await Tc.load({ rodata: { drop_udp_port: 53 }, programs: ['tc_drop_udp'] });
  const n: bigint | undefined = tc.maps.proto_counts.get({ h_proto: 0x800, ip_proto: 17, hook: 3 });
  tc.maps.proto_counts.set({ h_proto: 1, ip_proto: 2, hook: 3 }, 5n);
  const dropped: bigint = tc.bss.dropped;
  const port: number = tc.rodata.drop_udp_port;
  tc.programs.tc_drop_udp.run({ data: new Uint8Array(64) });
  tc.close();
  const g = await GlobalsModule.load({ rodata: { xdp_verdict: 1, config_tag: 'x' }, data: { data_counter: 5n } });
  const s: string = g.data.greeting;
  const tag: string = g.rodata.config_tag;
  g.data.data_counter = 7n;
  g.close();
  const m = await Maps.load();
  const k: FlowKey | undefined = m.maps.flows.entries()[0]?.[0];
  const perCpu = m.maps.totals_pcpu.get(0);
  void [k, perCpu, s, tag, port];
  m.close();
  return (n ?? 0n) + dropped;
}
`;
const MISUSE = `
import { Tc } from './tc.js';
export async function misuse(): Promise<void> {
  const tc = await Tc.load({ rodata: { drop_udp_port: 'fifty-three' } });
  tc.maps.proto_counts.get({ h_proto: 1 });
  tc.maps.no_such_map;
  tc.rodata.drop_udp_port = 5;
  tc.programs.no_such_prog;
}
`;

test('bindings for every corpus object type-check with tsc, and misuse does not', () => {
  assert.ok(objects.length >= 11, `corpus objects in ${BUILD}`);
  const files: string[] = [];
  for (const o of objects) {
    const name = o.replace(/\.o$/, '');
    writeBindings({ object: path.join(BUILD, o), out: path.join(tmp, `${name}.ts`) });
    files.push(`${name}.ts`);
  }
  fs.writeFileSync(path.join(tmp, 'use.ts'), USE);
  const ok = tsc(tmp, [...files, 'use.ts']);
  assert.equal(ok.status, 0, `tsc failed on generated bindings:\n${ok.out}`);

  fs.writeFileSync(path.join(tmp, 'misuse.ts'), MISUSE);
  const bad = tsc(tmp, ['tc.ts', 'misuse.ts']);
  assert.notEqual(bad.status, 0, 'misuse compiled');
  for (const code of ['TS2322', 'TS2345', 'TS2339', 'TS2540']) {
    assert.match(bad.out, new RegExp(code), `expected ${code} in:\n${bad.out}`);
  }
  assert.equal((bad.out.match(/misuse\.ts\(/g) ?? []).length, 5, bad.out);
});

test('generated types follow the codec: bigint u64, string char[], nested structs, enums', () => {
  const maps = generateBindings({
    object: path.join(BUILD, 'maps.o'),
    out: path.join(tmp, 'm.ts'),
  });
  assert.match(maps, /export interface FlowKey \{/);
  assert.match(maps, /readonly flows: TypedMap<FlowKey, FlowStats, FlowStats>/);
  assert.match(maps, /readonly totals_pcpu: TypedMap<number, Totals\[\], Totals \| Totals\[\]>/);
  const g = generateBindings({
    object: path.join(BUILD, 'globals.o'),
    out: path.join(tmp, 'g.ts'),
  });
  assert.match(g, /config_tag: string;/);
  assert.match(g, /data_counter: bigint;/);
  assert.match(g, /xdp_verdict: number;/);
  // Inside the repository the engine is imported by relative path.
  assert.match(g, /from "\.\.\/src\/bpf\/index\.js"/);
});

test('embedding, import override and the CLI', () => {
  const out = path.join(tmp, 'emb.ts');
  const r = iovisor(
    'gen',
    'ts',
    path.join(BUILD, 'globals.o'),
    '-o',
    out,
    '--embed',
    '--import',
    'iovisor/bpf',
  );
  assert.equal(r.status, 0, r.stderr);
  const text = fs.readFileSync(out, 'utf8');
  assert.match(text, /const OBJECT_BASE64 =/);
  assert.match(text, /from "iovisor\/bpf"/);
  assert.doesNotMatch(text, /OBJECT_FILE/);
  // Outside the repository the default import is the package's.
  const outside = generateBindings({ object: path.join(BUILD, 'tc.o'), out: '/tmp/x/tc.ts' });
  assert.match(outside, /from "iovisor\/bpf"/);
  assert.match(outside, /new URL\(".*testdata\/corpus\/build\/tc\.o", import\.meta\.url\)/);
  const bad = iovisor('gen', 'ts', path.join(BUILD, 'tc.o'));
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /-o OUT\.ts is required/);
});
