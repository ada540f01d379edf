import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { iovisor } from '../../helpers/cli.js';

// `iovisor init demo && cd demo && npm install && npm test` on this machine: the project builds
// its C source with iovisor build, generates bindings, type-checks and runs its packet test.
// iovisor comes from this checkout by a file: dependency; only the npm registry (or cache) is
// used for typescript and @types/node.

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `init-${process.pid}-`));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(cmd: string, args: string[], cwd: string): { status: number; out: string } {
  // The project's own `node --test` must not think it runs inside this test runner.
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT'];
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 600_000 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, out: `${r.stdout}\n${r.stderr}` };
}

test('iovisor init demo: the new project installs, builds and passes its test', () => {
  const init = spawnSync(
    process.execPath,
    [
      path.join(
        path.dirname(new URL(import.meta.url).pathname),
        '..',
        '..',
        '..',
        'src',
        'cli',
        'main.js',
      ),
      'init',
      'demo',
    ],
    {
      cwd: tmp,
      encoding: 'utf8',
    },
  );
  assert.equal(init.status, 0, init.stderr);
  const dir = path.join(tmp, 'demo');
  for (const f of [
    'package.json',
    'bpf/demo.bpf.c',
    'test/demo.test.ts',
    'README.md',
    'tsconfig.json',
  ])
    assert.ok(fs.existsSync(path.join(dir, f)), f);
  const pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    scripts: Record<string, string>;
  };
  assert.match(pj.dependencies['iovisor']!, /^file:\//);
  assert.match(pj.scripts['build']!, / build bpf\/demo\.bpf\.c .*--ts src\/demo\.ts/);

  const install = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], dir);
  assert.equal(install.status, 0, install.out);
  const t = run('npm', ['test'], dir);
  assert.equal(t.status, 0, t.out);
  assert.match(t.out, /# pass 1/);
  assert.match(t.out, /# fail 0/);
  assert.ok(fs.existsSync(path.join(dir, 'build', 'demo.o')));
  assert.match(fs.readFileSync(path.join(dir, 'src', 'demo.ts'), 'utf8'), /export class Demo \{/);
  const ts = run('tshark', ['-r', path.join(dir, 'out', 'passed.pcap')], dir);
  assert.equal(ts.status, 0, ts.out);
  assert.match(ts.out, /TCP/);
});

test('init refuses bad names and non-empty directories', () => {
  const bad = iovisor('init', 'Bad Name', '--dir', path.join(tmp, 'x'));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /bad project name/);
  fs.mkdirSync(path.join(tmp, 'full'));
  fs.writeFileSync(path.join(tmp, 'full', 'f'), '');
  const full = iovisor('init', 'full', '--dir', path.join(tmp, 'full'));
  assert.equal(full.status, 1);
  assert.match(full.stderr, /exists and is not empty/);
});
