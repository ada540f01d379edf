/**
 * The clang driver behind `iovisor build`: compiles a `*.bpf.c` file into a BPF object with the
 * flags libbpf users expect, writes `vmlinux.h` from the running kernel's BTF with our own C
 * writer when the source wants it, and caches objects by a hash of everything that affects the
 * output (source, local headers, flags, compiler version, generated vmlinux.h), so an unchanged
 * module rebuilds instantly.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { Btf } from '../bpf/index.js';
import { writeCHeader } from '../bpf/btf/index.js';

/** What to install when the BPF toolchain is missing (Debian/Ubuntu). */
export const INSTALL_HINT = 'apt-get install clang llvm libbpf-dev';

/** A required tool or header is missing; the message says what to install. */
export class ToolMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolMissingError';
  }
}

/** The compiler rejected the source; `message` and `output` are its diagnostics verbatim. */
export class BuildError extends Error {
  constructor(
    readonly output: string,
    readonly status: number,
  ) {
    super(output.trimEnd() || `clang exited with status ${status}`);
    this.name = 'BuildError';
  }
}

/** Options for {@link buildObject}. */
export interface BuildOptions {
  /** Output object (default: the source's name with `.bpf.c`/`.c` replaced by `.o`). */
  out?: string;
  /** Extra compiler flags, appended after ours. */
  cflags?: string[];
  /** The clang binary (default: $CLANG, else the first of clang, clang-19 ... clang-14 on PATH). */
  clang?: string;
  /** Cache directory (default: $XDG_CACHE_HOME/iovisor, else `.build-cache` in the cwd). */
  cacheDir?: string;
  /** Skip the cache (always compile; the result is still stored). */
  noCache?: boolean;
  /** Progress lines, e.g. for stderr. */
  onProgress?: (line: string) => void;
}

/** The outcome of a build. */
export interface BuildResult {
  source: string;
  out: string;
  /** True when the object came from the cache. */
  cached: boolean;
  /** The cache key (sha256 hex). */
  key: string;
  /** The full clang command line (empty for cache hits). */
  command: string[];
  /** Compiler warnings (stderr of a successful compile). */
  warnings: string;
  /** The generated vmlinux.h, when the source includes it. */
  vmlinuxH?: string;
}

function run(cmd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { status: -1, stdout: '', stderr: `${cmd}: not found` };
    throw new Error(`run ${cmd}: ${r.error.message}`, { cause: r.error });
  }
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Finds clang; throws a {@link ToolMissingError} naming the packages to install. */
export function findClang(explicit?: string): { path: string; version: string } {
  const candidates = explicit
    ? [explicit]
    : process.env.CLANG
      ? [process.env.CLANG]
      : ['clang', 'clang-19', 'clang-18', 'clang-17', 'clang-16', 'clang-15', 'clang-14'];
  for (const c of candidates) {
    const r = run(c, ['--version']);
    if (r.status === 0) return { path: c, version: r.stdout.split('\n')[0]!.trim() };
  }
  throw new ToolMissingError(
    `clang not found (tried ${candidates.join(', ')}): install it with '${INSTALL_HINT}'`,
  );
}

/** The multiarch include directory (`/usr/include/x86_64-linux-gnu`), for asm/types.h. */
export function multiarchInclude(clang: string): string | undefined {
  for (const [cmd, args] of [
    ['gcc', ['-print-multiarch']],
    [clang, ['-print-multiarch']],
  ] as const) {
    const r = run(cmd, [...args]);
    const t = r.stdout.trim();
    if (r.status === 0 && t !== '') return `/usr/include/${t}`;
  }
  const guess = { x64: 'x86_64', arm64: 'aarch64' }[process.arch as string];
  return guess ? `/usr/include/${guess}-linux-gnu` : undefined;
}

/** `-D__TARGET_ARCH_x86` and friends, as libbpf's bpf_tracing.h wants them. */
export function targetArchDefine(): string {
  const arch: Record<string, string> = {
    x64: 'x86',
    arm64: 'arm64',
    arm: 'arm',
    s390x: 's390',
    ppc64: 'powerpc',
    riscv64: 'riscv',
    loong64: 'loongarch',
  };
  return `-D__TARGET_ARCH_${arch[process.arch] ?? 'x86'}`;
}

/** The default cache directory. */
export function defaultCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return xdg ? path.join(xdg, 'iovisor') : path.resolve('.build-cache');
}

const INCLUDE_RE = /^\s*#\s*include\s*"([^"]+)"/gm;

/**
 * Local headers a source pulls in through `#include "..."`, found next to the including file or
 * in `-I` directories, recursively. System headers (`<...>`) are covered by the compiler version.
 */
export function localHeaders(source: string, includeDirs: string[]): string[] {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return;
    }
    for (const m of text.matchAll(INCLUDE_RE)) {
      const name = m[1]!;
      for (const dir of [path.dirname(file), ...includeDirs]) {
        const p = path.resolve(dir, name);
        if (existsSync(p)) {
          if (!seen.has(p)) {
            seen.add(p);
            visit(p);
          }
          break;
        }
      }
    }
  };
  visit(path.resolve(source));
  return [...seen].sort();
}

/** True when the source includes vmlinux.h. */
export function wantsVmlinuxH(sourceText: string): boolean {
  return /^\s*#\s*include\s*[<"]vmlinux\.h[">]/m.test(sourceText);
}

/**
 * Writes vmlinux.h for the running kernel into `dir/vmlinux-<btf hash>/vmlinux.h` (reused when it
 * exists) and returns its path.
 */
export function generateVmlinuxH(dir: string): string {
  const btfPath = '/sys/kernel/btf/vmlinux';
  let raw: Uint8Array;
  try {
    raw = readFileSync(btfPath);
  } catch (err) {
    throw new ToolMissingError(
      `vmlinux.h: cannot read ${btfPath} (${(err as Error).message}): the kernel needs CONFIG_DEBUG_INFO_BTF`,
    );
  }
  const h = createHash('sha256').update(raw).digest('hex').slice(0, 16);
  const out = path.join(dir, `vmlinux-${h}`, 'vmlinux.h');
  if (existsSync(out)) return out;
  mkdirSync(path.dirname(out), { recursive: true });
  const text = writeCHeader(Btf.kernel());
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, out);
  return out;
}

/** The default output path for a source: `x.bpf.c` → `x.o`. */
export function defaultObjectPath(source: string): string {
  return source.replace(/(\.bpf)?\.c$/, '') + '.o';
}

/** Compiles one BPF C source; see the module comment. Throws BuildError with clang's output. */
export function buildObject(source: string, opts: BuildOptions = {}): BuildResult {
  const progress = opts.onProgress ?? (() => {});
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (err) {
    throw new Error(`build ${source}: ${(err as Error).message}`, { cause: err });
  }
  const out = opts.out ?? defaultObjectPath(source);
  const clang = findClang(opts.clang);
  if (!existsSync('/usr/include/bpf/bpf_helpers.h'))
    throw new ToolMissingError(
      `libbpf headers not found (/usr/include/bpf/bpf_helpers.h): install them with '${INSTALL_HINT}'`,
    );
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const flags = ['-O2', '-g', '-target', 'bpf', targetArchDefine()];
  const multi = multiarchInclude(clang.path);
  if (multi) flags.push(`-I${multi}`);
  let vmlinuxH: string | undefined;
  const localVmlinux = path.join(path.dirname(source), 'vmlinux.h');
  if (wantsVmlinuxH(text) && !existsSync(localVmlinux)) {
    progress(`  GEN     vmlinux.h (running kernel's BTF)`);
    vmlinuxH = generateVmlinuxH(cacheDir);
    flags.push(`-I${path.dirname(vmlinuxH)}`);
  }
  const cflags = opts.cflags ?? [];
  const includeDirs = [...flags, ...cflags]
    .filter((f) => f.startsWith('-I') && f.length > 2)
    .map((f) => f.slice(2));
  const hash = createHash('sha256');
  hash.update(`iovisor-build-v1\0${clang.version}\0${[...flags, ...cflags].join('\0')}\0`);
  hash.update(text);
  for (const h of localHeaders(source, includeDirs)) {
    hash.update(`\0${path.basename(h)}\0`);
    hash.update(readFileSync(h));
  }
  const key = hash.digest('hex');
  const cached = path.join(cacheDir, 'objects', `${key}.o`);
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  if (!opts.noCache && existsSync(cached)) {
    copyFileSync(cached, out);
    progress(`  CACHED  ${source} -> ${out}`);
    return { source, out, cached: true, key, command: [], warnings: '', vmlinuxH };
  }
  const args = [...flags, ...cflags, '-c', source, '-o', `${out}.tmp`];
  progress(`  CLANG   ${source} -> ${out}`);
  const r = run(clang.path, args);
  if (r.status !== 0) {
    // Leave no half-written object behind.
    rmSync(`${out}.tmp`, { force: true });
    throw new BuildError(r.stderr || r.stdout, r.status);
  }
  renameSync(`${out}.tmp`, out);
  try {
    mkdirSync(path.dirname(cached), { recursive: true });
    const tmp = `${cached}.${process.pid}.tmp`;
    copyFileSync(out, tmp);
    renameSync(tmp, cached);
  } catch (err) {
    progress(`  warning: could not store in cache ${cacheDir}: ${(err as Error).message}`);
  }
  return {
    source,
    out,
    cached: false,
    key,
    command: [clang.path, ...args],
    warnings: r.stderr,
    vmlinuxH,
  };
}
