/** Running the iovisor CLI from tests. */
import { spawnSync } from 'node:child_process';
import { CLI } from './corpus.js';

/** The outcome of one CLI run. */
export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `iovisor ARGS` and returns its exit status and output. */
export function iovisor(...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `iovisor ARGS --json`, asserts success, and parses the output. */
export function iovisorJSON<T = unknown>(...args: string[]): T {
  const r = iovisor(...args, '--json');
  if (r.status !== 0)
    throw new Error(`iovisor ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch (err) {
    throw new Error(
      `iovisor ${args.join(' ')}: output is not JSON (${(err as Error).message}): stdout=${JSON.stringify(r.stdout.slice(0, 300))} stderr=${JSON.stringify(r.stderr.slice(0, 300))}`,
    );
  }
}
