import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { relativeSpecifier, writeBindings } from '../../../src/toolchain/index.js';
import { corpusObject, ROOT } from '../../helpers/corpus.js';

// Generated bindings used for real: typed code (compiled by tsc against the bindings) loads tc.o
// and globals.o with .rodata set before load, runs the programs through test-run and reads typed
// struct values back from a map and live globals.

const COMPILED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tmp = fs.mkdtempSync(path.join(ROOT, `.tmp-toolchain-bind-${process.pid}-`));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const USE = `
import { Tc, type ProtoKey } from './tc.js';
import * as Globals from './globals.js';
import { udpPacket } from '${relativeSpecifier(tmp, path.join(COMPILED, 'src', 'toolchain', 'index.js'))}';

export interface Outcome {
  to53: number;
  to9: number;
  key: ProtoKey;
  count: bigint | undefined;
  entries: [ProtoKey, bigint][];
  dropped: bigint;
  port: number;
  verdict: number;
  runs: bigint;
  lastLen: number;
  dataCounter: bigint;
  greeting: string;
  configTag: string;
  afterSet: bigint;
}

export async function run(): Promise<Outcome> {
  const tc = await Tc.load({ rodata: { drop_udp_port: 53 }, programs: ['tc_drop_udp'] });
  const g = await Globals.load({ rodata: { xdp_verdict: 1 }, data: { data_counter: 500n } });
  try {
    const to53 = tc.programs.tc_drop_udp.run({ data: udpPacket({ dport: 53 }) }).retval;
    const to9 = tc.programs.tc_drop_udp.run({ data: udpPacket({ dport: 9 }) }).retval;
    const key: ProtoKey = { h_proto: 0x0800, ip_proto: 17, hook: 3 };
    const count: bigint | undefined = tc.maps.proto_counts.get(key);
    const verdict = g.programs.xdp_globals.run({ data: new Uint8Array(60) }).retval;
    const out: Outcome = {
      to53,
      to9,
      key,
      count,
      entries: tc.maps.proto_counts.entries(),
      dropped: tc.bss.dropped,
      port: tc.rodata.drop_udp_port,
      verdict,
      runs: g.bss.runs,
      lastLen: g.bss.last_len,
      dataCounter: g.data.data_counter,
      greeting: g.data.greeting,
      configTag: g.rodata.config_tag,
      afterSet: 0n,
    };
    g.bss.runs = 40n;
    g.programs.xdp_globals.run({ data: new Uint8Array(60) });
    out.afterSet = g.bss.runs;
    return out;
  } finally {
    tc.close();
    g.close();
  }
}
`;

test('generated bindings load, configure, run and read typed values', async () => {
  const engine = relativeSpecifier(tmp, path.join(COMPILED, 'src', 'bpf', 'index.js'));
  writeBindings({ object: corpusObject('tc'), out: path.join(tmp, 'tc.ts'), importFrom: engine });
  writeBindings({
    object: corpusObject('globals'),
    out: path.join(tmp, 'globals.ts'),
    importFrom: engine,
    embed: true,
  });
  fs.writeFileSync(path.join(tmp, 'use.ts'), USE);
  fs.writeFileSync(
    path.join(tmp, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: true,
        types: ['node'],
      },
      files: ['tc.ts', 'globals.ts', 'use.ts'],
    }),
  );
  const r = spawnSync('npx', ['tsc', '-p', tmp], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `tsc: ${r.stdout}${r.stderr}`);

  const mod = (await import(pathToFileURL(path.join(tmp, 'use.js')).href)) as {
    run: () => Promise<Record<string, unknown>>;
  };
  const o = await mod.run();
  assert.equal(o.to53, 2, 'TC_ACT_SHOT for the port set in .rodata');
  assert.equal(o.to9, 0, 'port 9 (the default) no longer dropped');
  assert.equal(o.count, 2n);
  assert.deepEqual(o.entries, [[{ h_proto: 2048, ip_proto: 17, hook: 3 }, 2n]]);
  assert.equal(o.dropped, 1n);
  assert.equal(o.port, 53);
  assert.equal(o.verdict, 1, 'XDP_DROP from .rodata xdp_verdict');
  assert.equal(o.runs, 1n);
  assert.equal(o.lastLen, 60);
  assert.equal(o.dataCounter, 501n);
  assert.equal(o.greeting, 'iovisor');
  assert.equal(o.configTag, 'corpus-v1');
  assert.equal(o.afterSet, 41n, '.bss written live before the next run');
});
