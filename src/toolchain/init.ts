/**
 * `iovisor init`: a new IO module project from `templates/`, wired to this iovisor checkout by a
 * `file:` dependency so it builds and tests offline: C source, build script (clang + typed
 * bindings), a packet test using the harness and the bindings, README and package.json.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { iovisorRoot } from './gen.js';

/** Options for {@link initProject}. */
export interface InitOptions {
  /** Where to create the project (default: ./NAME). */
  dir?: string;
  /** Template to use: a folder under templates/ (default: xdp-counter). */
  template?: string;
}

/** What was created. */
export interface InitResult {
  dir: string;
  files: string[];
}

/** The compiled tree's folder relative to the repository root ("dist/", ".dist-x/" or ""). */
export function compiledDir(root: string): string {
  // This file is <root>/<dist>/src/toolchain/init.js when compiled.
  const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const rel = path.relative(root, top);
  return rel === '' ? '' : rel.split(path.sep).join('/') + '/';
}

function versionOf(root: string, dep: string, fallback: string): string {
  try {
    const pj = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      devDependencies?: Record<string, string>;
    };
    return pj.devDependencies?.[dep] ?? fallback;
  } catch {
    return fallback;
  }
}

function walk(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p, base));
    else out.push(path.relative(base, p));
  }
  return out;
}

/** Creates a module project named `name`. Refuses to write into a non-empty directory. */
export function initProject(name: string, opts: InitOptions = {}): InitResult {
  if (!/^[a-z][a-z0-9_-]{0,63}$/.test(name))
    throw new Error(
      `init: bad project name "${name}": use lower-case letters, digits, '-' and '_', starting with a letter`,
    );
  const root = iovisorRoot();
  if (!root) throw new Error('init: cannot find the iovisor checkout this command runs from');
  const tdir = path.join(root, 'templates', opts.template ?? 'xdp-counter');
  if (!existsSync(tdir)) throw new Error(`init: no template ${tdir}`);
  const dir = path.resolve(opts.dir ?? name);
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new Error(`init: ${dir} exists and is not empty`);
  const cname = name.replace(/-/g, '_');
  const vars: Record<string, string> = {
    NAME: cname,
    CLASS: cname
      .split('_')
      .filter((x) => x !== '')
      .map((x) => x[0]!.toUpperCase() + x.slice(1))
      .join(''),
    IOVISOR_PATH: root,
    IOVISOR_DIST: compiledDir(root),
    TYPESCRIPT_VERSION: versionOf(root, 'typescript', '^5.9.3'),
    TYPES_NODE_VERSION: versionOf(root, '@types/node', '^20.19.43'),
  };
  const fill = (s: string): string =>
    s.replace(/\{\{([A-Z_]+)\}\}/g, (m, k: string) => vars[k] ?? m).replace(/__NAME__/g, cname);
  const files: string[] = [];
  for (const rel of walk(tdir)) {
    let target = fill(rel.replace(/\.tmpl$/, ''));
    // Dot files are stored without their dot so that tools in this repository ignore them.
    if (target === 'npmrc' || target === 'gitignore') target = `.${target}`;
    const dest = path.join(dir, target);
    mkdirSync(path.dirname(dest), { recursive: true });
    writeFileSync(dest, fill(readFileSync(path.join(tdir, rel), 'utf8')));
    files.push(target);
  }
  return { dir, files };
}
