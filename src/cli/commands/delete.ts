/** `iovisor delete -f FILE`: remove what a topology file describes, through iovisord. */
import type { ChangeResult } from '../../daemon/index.js';
import {
  callApi,
  daemonClient,
  printChanges,
  readTopologyFile,
  toDaemonTopology,
} from './apply.js';

/** Usage text. */
export const deleteUsage = `iovisor delete -f FILE [--socket PATH] [--json]
    remove a topology's modules (with their links), links and hosts (namespaces included)`;

/** Runs `delete`. */
export async function deleteCommand(argv: string[]): Promise<void> {
  const { topo, parsed } = readTopologyFile(argv, 'delete');
  const r = await callApi<ChangeResult>(
    daemonClient(parsed),
    'POST',
    '/api/v1/topology/delete',
    toDaemonTopology(topo),
  );
  printChanges(r, parsed.flags.json === true, 'nothing to delete');
}
