/** Paths and expectations of the eBPF test corpus (testdata/corpus), shared by tests. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/...). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The built object of corpus program `name`; fails loudly when the corpus was not built. */
export function corpusObject(name: string): string {
  const p = path.join(ROOT, 'testdata', 'corpus', 'build', `${name}.o`);
  if (!existsSync(p))
    throw new Error(`corpus object ${p} missing: run 'bash scripts/build-testdata.sh'`);
  return p;
}

/** testdata/corpus/expect.json, parsed. */
export function corpusExpect(): {
  packets: Record<string, { hex: string; length: number }>;
  objects: Record<string, Record<string, unknown>>;
} {
  return JSON.parse(readFileSync(path.join(ROOT, 'testdata', 'corpus', 'expect.json'), 'utf8'));
}

/**
 * The compiled CLI next to this compiled helper, so a test run from any output directory
 * (dist/ or a private one, see docs/dev/helpers.md) exercises the code it was built with.
 */
export const CLI = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'src',
  'cli',
  'main.js',
);

/**
 * The bpf_conformance tests from the shared folder beside the repository (CI clones the repo
 * with shared/ next to it); BPF_CONFORMANCE_TESTS overrides.
 */
export const CONFORMANCE_DIR =
  process.env['BPF_CONFORMANCE_TESTS'] ??
  path.join(ROOT, '..', 'shared', 'conformance', 'bpf_conformance', 'tests');
