import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BuildError,
  buildObject,
  findClang,
  INSTALL_HINT,
  localHeaders,
  ToolMissingError,
  wantsVmlinuxH,
} from '../../../src/toolchain/index.js';
import { loadCollectionSpec } from '../../../src/bpf/index.js';
import { iovisor, iovisorJSON } from '../../helpers/cli.js';

// clang and libbpf headers are required: their absence fails these tests.

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `build-${process.pid}-`));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const cache = path.join(tmp, 'cache');

const SRC = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "config.h"
SEC("xdp") int pass(struct xdp_md *ctx) { return VERDICT; }
char LICENSE[] SEC("license") = "GPL";
`;

test('clang is found', () => {
  const c = findClang();
  assert.match(c.version, /clang version/);
});

test('a missing clang says what to install', () => {
  assert.throws(
    () => findClang('/nonexistent/clang'),
    (e: Error) => e instanceof ToolMissingError && e.message.includes(INSTALL_HINT),
  );
  assert.equal(INSTALL_HINT, 'apt-get install clang llvm libbpf-dev');
});

test('builds, caches by content, and rebuilds when a local header changes', () => {
  const dir = path.join(tmp, 'p');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'x.bpf.c'), SRC);
  fs.writeFileSync(path.join(dir, 'config.h'), '#define VERDICT XDP_PASS\n');
  const lines: string[] = [];
  const a = buildObject(path.join(dir, 'x.bpf.c'), {
    cacheDir: cache,
    onProgress: (l) => lines.push(l),
  });
  assert.equal(a.out, path.join(dir, 'x.o'));
  assert.equal(a.cached, false);
  assert.ok(a.command.includes('-target') && a.command.includes('bpf'));
  assert.ok(
    a.command.some((f) => /^-I\/usr\/include\/.*-linux-gnu$/.test(f)),
    a.command.join(' '),
  );
  assert.ok(a.command.includes('-D__TARGET_ARCH_x86'));
  assert.match(lines.join('\n'), /CLANG/);
  assert.equal(loadCollectionSpec(a.out).programs.get('pass')?.sectionName, 'xdp');
  assert.deepEqual(localHeaders(path.join(dir, 'x.bpf.c'), []), [path.join(dir, 'config.h')]);

  const b = buildObject(path.join(dir, 'x.bpf.c'), { cacheDir: cache });
  assert.equal(b.cached, true);
  assert.equal(b.key, a.key);

  fs.writeFileSync(path.join(dir, 'config.h'), '#define VERDICT XDP_DROP\n');
  const c = buildObject(path.join(dir, 'x.bpf.c'), { cacheDir: cache });
  assert.equal(c.cached, false);
  assert.notEqual(c.key, a.key);

  const d = buildObject(path.join(dir, 'x.bpf.c'), { cacheDir: cache, cflags: ['-DEXTRA=1'] });
  assert.equal(d.cached, false, 'flags are part of the key');
});

test('vmlinux.h is written from kernel BTF by our own writer when included', () => {
  const dir = path.join(tmp, 'v');
  fs.mkdirSync(dir);
  const src = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
SEC("tp_btf/sched_process_exec")
int on_exec(unsigned long long *ctx) { struct task_struct *t = (void *)bpf_get_current_task(); return BPF_CORE_READ(t, pid) > 0; }
char LICENSE[] SEC("license") = "GPL";
`;
  assert.ok(wantsVmlinuxH(src));
  fs.writeFileSync(path.join(dir, 'v.bpf.c'), src);
  const r = buildObject(path.join(dir, 'v.bpf.c'), { cacheDir: cache });
  assert.ok(r.vmlinuxH && fs.existsSync(r.vmlinuxH));
  assert.match(fs.readFileSync(r.vmlinuxH, 'utf8'), /struct task_struct \{/);
  const spec = loadCollectionSpec(r.out);
  assert.ok(spec.programs.get('on_exec')!.coreRelos.length > 0);
});

test('compiler errors are printed verbatim with a non-zero exit', () => {
  const f = path.join(tmp, 'bad.bpf.c');
  fs.writeFileSync(f, 'int broken( {\n');
  assert.throws(
    () => buildObject(f, { cacheDir: cache }),
    (e: Error) => e instanceof BuildError && /bad\.bpf\.c:1:\d+: error:/.test(e.message),
  );
  const r = iovisor('build', f, '--cache-dir', cache);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^.*bad\.bpf\.c:1:\d+: error: expected/m);
  assert.match(r.stderr, /error(s)? generated\./);
  assert.ok(!fs.existsSync(path.join(tmp, 'bad.o')));
});

test('iovisor build -o --ts --json', () => {
  const dir = path.join(tmp, 'cli');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'y.bpf.c'), SRC);
  fs.writeFileSync(path.join(dir, 'config.h'), '#define VERDICT XDP_PASS\n');
  const out = iovisorJSON<{ out: string; cached: boolean; ts: string }>(
    'build',
    path.join(dir, 'y.bpf.c'),
    '-o',
    path.join(dir, 'out', 'y.o'),
    '--ts',
    path.join(dir, 'y.ts'),
    '--cache-dir',
    cache,
    '--cflags',
    '-Wall -Werror',
  );
  assert.equal(out.out, path.join(dir, 'out', 'y.o'));
  assert.ok(fs.existsSync(out.out));
  assert.match(fs.readFileSync(path.join(dir, 'y.ts'), 'utf8'), /export class Y \{/);
});
