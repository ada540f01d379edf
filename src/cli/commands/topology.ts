/** `iovisor topology show|status`: the running graph from iovisord, drawn or as JSON. */
import type { Graph } from '../../daemon/index.js';
import { renderTopology, type TopologyView } from '../../dataplane/index.js';
import { parseArgs, UsageError } from '../args.js';
import { printJSON } from '../output.js';
import { callApi, DAEMON_FLAGS, daemonClient } from './apply.js';

/** Usage text. */
export const topologyUsage = `iovisor topology show [--socket PATH] [--json]
    draw the running data plane: hosts, modules, ports (with stacks and counters), links
iovisor topology status NAME [--socket PATH]
    an instance's live state (MAC table, routes and neighbours, monitor counters) as JSON`;

/** The daemon's running graph in the form renderTopology draws. */
export function graphView(g: Graph): TopologyView {
  return {
    name: g.dataplane?.name ?? 'iovisord',
    netns: g.dataplane?.netns ?? '-',
    pinDir: g.dataplane?.pinDir ?? '-',
    hosts: g.hosts.map((h) => ({
      name: h.name,
      config: h.config,
      ...(h.link ? { link: h.link } : {}),
    })),
    instances: g.instances.map((i) => ({
      name: i.name,
      type: i.type,
      kind: i.kind,
      id: i.slot ?? 0,
      hook: i.hook ?? 'tcx',
      object: '',
      config: i.config,
      ports: i.ports.map((p, index) => ({
        name: p.name,
        index,
        gid: p.gid ?? 0,
        config: p.config,
        mac: p.mac ?? '',
        ...(p.peer ? { peer: p.peer } : {}),
        stack: p.stack,
        stats: p.counters,
      })),
      attachedTo: i.attachedTo,
    })),
    links: g.links,
  };
}

/** Runs `topology`. */
export async function topologyCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const p = parseArgs(rest, DAEMON_FLAGS, `topology ${sub ?? ''}`);
  if (sub === 'show') {
    const g = await callApi<Graph>(daemonClient(p), 'GET', '/api/v1/topology/running');
    if (p.flags.json) return printJSON(g);
    process.stdout.write(renderTopology(graphView(g)) + '\n');
    return;
  }
  if (sub === 'status') {
    const name = p.positionals[0];
    if (!name) throw new UsageError('topology status: NAME is required');
    printJSON(
      await callApi(daemonClient(p), 'GET', `/api/v1/instances/${encodeURIComponent(name)}/status`),
    );
    return;
  }
  throw new UsageError(`topology: unknown subcommand "${sub ?? ''}"\n${topologyUsage}`);
}
