/** `iovisor delete -f FILE`: remove what a topology file describes (via iovisord). */
import { callDaemon, type ApplyResult } from '../../dataplane/index.js';
import { printJSON } from '../output.js';
import { readTopologyFile } from './apply.js';

/** Usage text. */
export const deleteUsage = `iovisor delete -f FILE [--socket PATH] [--json]
    remove a topology's modules, links and hosts (namespaces included)`;

/** Runs `delete`. */
export async function deleteCommand(argv: string[]): Promise<void> {
  const { text, socket, json } = readTopologyFile(argv, 'delete');
  const r = await callDaemon<ApplyResult>('POST', '/v1/delete', { topology: text }, socket);
  if (json) return printJSON(r);
  if (!r.changes.length) process.stdout.write('nothing to delete\n');
  for (const c of r.changes) process.stdout.write(`  ${c}\n`);
}
