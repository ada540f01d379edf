import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { netnsExists } from '../../../src/net/index.js';
import { CLI } from '../../helpers/corpus.js';
import { iovisor, type CliResult } from '../../helpers/cli.js';
import { ping, uniquePrefix } from './helpers.js';

test('iovisor daemon (iovisord) serves apply, topology show and delete over its unix socket', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'iovd-'));
  const socket = path.join(dir, 'iovisord.sock');
  const px = uniquePrefix();
  const name = `iovt-${process.pid}-d${px}`;
  const daemon = spawn(
    process.execPath,
    [
      CLI,
      'daemon',
      '--socket',
      socket,
      '--name',
      name,
      '--state-dir',
      path.join(dir, 'state'),
      '--reconcile',
      '0',
      '--teardown-on-exit',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  daemon.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((r) => daemon.once('exit', (c) => r(c)));
  try {
    for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(100);
    assert.ok(existsSync(socket), `daemon did not start: ${stderr}`);
    assert.equal(statSync(socket).mode & 0o777, 0o600);

    const file = path.join(dir, 'topo.yaml');
    writeFileSync(
      file,
      `hosts:
  ${px}a: { address: 198.18.1.10/24, gateway: 198.18.1.1 }
  ${px}b: { address: 198.18.2.10/24, gateway: 198.18.2.1 }
modules:
  br1: { type: bridge }
  r1:
    type: router
    ports:
      p1: { address: 198.18.1.1/24 }
      p2: { address: 198.18.2.1/24 }
  mon1: { type: monitor, attach: r1:p2 }
links:
  - [${px}a, br1:p1]
  - [br1:p2, r1:p1]
  - [r1:p2, ${px}b]
`,
    );
    let r = iovisor('apply', '-f', file, '--socket', socket);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /add module r1/);
    assert.match(r.stdout, /add attach mon1 @ r1:p2/);
    // $IOVISOR_SOCKET names the daemon when --socket does not.
    r = iovisorEnv({ IOVISOR_SOCKET: socket }, 'apply', '-f', file);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /nothing to do/);
    assert.equal((await ping(`${px}a`, '198.18.2.10', 2)).code, 0);

    r = iovisor('topology', 'show', '--socket', socket);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /p2\s+═\[mon1\]═ /);
    r = iovisor('topology', 'show', '--socket', socket, '--json');
    const view = JSON.parse(r.stdout) as { instances: { name: string }[]; links: unknown[] };
    assert.deepEqual(view.instances.map((i) => i.name).sort(), ['br1', 'mon1', 'r1']);
    assert.equal(view.links.length, 3);

    r = iovisor('topology', 'status', 'br1', '--socket', socket);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Array.isArray((JSON.parse(r.stdout) as { fdb: unknown[] }).fdb));

    writeFileSync(path.join(dir, 'bad.yaml'), 'modules:\n  br1: { type: bridge, aging: -1 }\n');
    r = iovisor('apply', '-f', path.join(dir, 'bad.yaml'), '--socket', socket);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /modules\.br1\.aging/);
    writeFileSync(path.join(dir, 'bad2.yaml'), 'links:\n  - [h9, br1:p1]\n');
    r = iovisor('apply', '-f', path.join(dir, 'bad2.yaml'), '--socket', socket);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /links\[0\]\[0\]/);
    // Refused files changed nothing.
    r = iovisor('topology', 'show', '--socket', socket, '--json');
    assert.equal((JSON.parse(r.stdout) as { links: unknown[] }).links.length, 3);

    r = iovisor('delete', '-f', file, '--socket', socket);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(netnsExists(`${px}a`), false);

    r = iovisor('topology', 'show', '--socket', path.join(dir, 'nope.sock'));
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /iovisord is not running at .*nope\.sock: start it with `iovisor daemon`/,
    );
    r = iovisorEnv({ IOVISOR_SOCKET: path.join(dir, 'nope.sock') }, 'apply', '-f', file);
    assert.match(r.stderr, /iovisord is not running at .*nope\.sock/);
  } finally {
    daemon.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(netnsExists(name), false, 'the daemon removed its namespace on exit');
});

/** Runs the CLI with extra environment variables. */
function iovisorEnv(env: Record<string, string>, ...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
