/** `iovisor apply -f FILE`: make the running data plane match a topology file (via iovisord). */
import { readFileSync } from 'node:fs';
import { callDaemon, DEFAULT_SOCKET, type ApplyResult } from '../../dataplane/index.js';
import { parseArgs, UsageError } from '../args.js';
import { printJSON } from '../output.js';

/** Usage text. */
export const applyUsage = `iovisor apply -f FILE [--socket PATH] [--json]
    apply a topology (hosts, modules, links) all or nothing; unchanged parts are left alone`;

/** Reads the -f file. */
export function readTopologyFile(
  argv: string[],
  command: string,
): { text: string; socket: string; json: boolean } {
  const norm = argv.map((a) => (a === '-f' ? '--file' : a));
  const p = parseArgs(norm, { file: 'string', socket: 'string', json: 'boolean' }, command);
  const file = p.flags.file as string | undefined;
  if (!file) throw new UsageError(`${command}: -f FILE is required`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${command}: read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return {
    text,
    socket: (p.flags.socket as string | undefined) ?? DEFAULT_SOCKET,
    json: p.flags.json === true,
  };
}

/** Runs `apply`. */
export async function applyCommand(argv: string[]): Promise<void> {
  const { text, socket, json } = readTopologyFile(argv, 'apply');
  const r = await callDaemon<ApplyResult>('POST', '/v1/apply', { topology: text }, socket);
  if (json) return printJSON(r);
  if (!r.changes.length)
    process.stdout.write('nothing to do: the running topology already matches\n');
  for (const c of r.changes) process.stdout.write(`  ${c}\n`);
}
