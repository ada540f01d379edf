/** `iovisor topology show`: the running graph from iovisord, drawn or as JSON. */
import {
  callDaemon,
  DEFAULT_SOCKET,
  renderTopology,
  type TopologyView,
} from '../../dataplane/index.js';
import { parseArgs, UsageError } from '../args.js';
import { printJSON } from '../output.js';

/** Usage text. */
export const topologyUsage = `iovisor topology show [--socket PATH] [--json]
    draw the running data plane: hosts, modules, ports (with stacks and counters), links
iovisor topology status NAME [--socket PATH]
    an instance's live state (MAC table, routes and neighbours, monitor counters) as JSON`;

/** Runs `topology`. */
export async function topologyCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const p = parseArgs(rest, { socket: 'string', json: 'boolean' }, `topology ${sub ?? ''}`);
  const socket = (p.flags.socket as string | undefined) ?? DEFAULT_SOCKET;
  if (sub === 'show') {
    const v = await callDaemon<TopologyView>('GET', '/v1/topology', undefined, socket);
    if (p.flags.json) return printJSON(v);
    process.stdout.write(renderTopology(v) + '\n');
    return;
  }
  if (sub === 'status') {
    const name = p.positionals[0];
    if (!name) throw new UsageError('topology status: NAME is required');
    printJSON(
      await callDaemon('GET', `/v1/instances/${encodeURIComponent(name)}`, undefined, socket),
    );
    return;
  }
  throw new UsageError(`topology: unknown subcommand "${sub ?? ''}"\n${topologyUsage}`);
}
