/**
 * `iovisor apply -f FILE`: make the data plane match a topology file, through iovisord's REST
 * API. The YAML is read here with the data plane's topology parser (so structural errors name
 * their field as written, e.g. `modules.mon1.attach`), checked against the daemon's module
 * schemas, and sent as the desired topology (PUT /api/v1/topology): the daemon applies it all
 * or nothing, and an unchanged file changes nothing.
 */
import { readFileSync } from 'node:fs';
import {
  ApiError,
  DaemonClient,
  DEFAULT_SOCKET,
  type ChangeResult,
  type ModuleTypeInfo,
  type Topology as DaemonTopology,
} from '../../daemon/index.js';
import {
  ConfigError,
  endpointName,
  parseTopology,
  validate,
  type Topology,
} from '../../dataplane/index.js';
import { parseArgs, UsageError, type FlagSpec, type Parsed } from '../args.js';
import { printJSON } from '../output.js';

/** Usage text. */
export const applyUsage = `iovisor apply -f FILE [--socket PATH] [--json]
    apply a topology (hosts, modules, links) all or nothing through iovisord; unchanged parts
    are left alone (socket: --socket, else $IOVISOR_SOCKET, else ${DEFAULT_SOCKET};
    --url URL --token-file FILE for a daemon on TCP)`;

/** Flags every command that talks to iovisord takes. */
export const DAEMON_FLAGS: FlagSpec = {
  socket: 'string',
  url: 'string',
  'token-file': 'string',
  json: 'boolean',
};

/** A client for the daemon the flags (or $IOVISOR_SOCKET) point at. */
export function daemonClient(p: Parsed): DaemonClient {
  const url = p.flags.url as string | undefined;
  const tokenFile = p.flags['token-file'] as string | undefined;
  if (url) return new DaemonClient({ url, keepAlive: false, ...(tokenFile ? { tokenFile } : {}) });
  const socketPath =
    (p.flags.socket as string | undefined) || process.env.IOVISOR_SOCKET || DEFAULT_SOCKET;
  return new DaemonClient({ socketPath, keepAlive: false });
}

/** Calls the daemon; API errors become the daemon's own message ("modules.r1...: ..."). */
export async function callApi<T>(
  client: DaemonClient,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  try {
    return await client.request<T>(method, path, body);
  } catch (err) {
    if (err instanceof ApiError) {
      const msg = (err.body as { error?: string } | undefined)?.error ?? err.message;
      throw new Error(`iovisord: ${msg}`, { cause: err });
    }
    throw err;
  } finally {
    client.close();
  }
}

/** Reads and parses the -f file (structure only; field-named errors). */
export function readTopologyFile(
  argv: string[],
  command: string,
): { topo: Topology; parsed: Parsed } {
  const norm = argv.map((a) => (a === '-f' ? '--file' : a));
  const p = parseArgs(norm, { file: 'string', ...DAEMON_FLAGS }, command);
  const file = p.flags.file as string | undefined;
  if (!file) throw new UsageError(`${command}: -f FILE is required`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${command}: read ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return { topo: parseTopology(text), parsed: p };
  } catch (err) {
    if (err instanceof ConfigError) throw new Error(`${file}: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * The daemon's form of a parsed topology: configs as `config`, every port listed, attachments
 * as lists, links as name pairs.
 */
export function toDaemonTopology(t: Topology): DaemonTopology {
  return {
    hosts: Object.fromEntries(t.hosts.map(({ name, ...cfg }) => [name, cfg])),
    modules: Object.fromEntries(
      t.modules.map((m) => [
        m.name,
        {
          type: m.type,
          ...(Object.keys(m.config).length ? { config: m.config } : {}),
          ...(Object.keys(m.ports).length ? { ports: m.ports } : {}),
          ...(m.attach.length ? { attach: m.attach } : {}),
        },
      ]),
    ),
    links: t.links.map(([a, b]) => [endpointName(a), endpointName(b)]),
  };
}

/** Checks configs against the daemon's module types, naming fields as the file writes them. */
export function checkConfigs(t: Topology, types: ModuleTypeInfo[]): void {
  const byName = new Map(types.map((x) => [x.name, x]));
  for (const m of t.modules) {
    const ty = byName.get(m.type);
    if (!ty)
      throw new ConfigError(
        `modules.${m.name}.type`,
        `unknown module type ${JSON.stringify(m.type)} (known: ${[...byName.keys()].join(', ')})`,
      );
    validate(ty.schema, m.config, `modules.${m.name}`);
    for (const [p, pc] of Object.entries(m.ports))
      if (ty.portSchema) validate(ty.portSchema, pc, `modules.${m.name}.ports.${p}`);
  }
}

/** Prints a change result the way apply and delete report it. */
export function printChanges(r: ChangeResult, json: boolean, none: string): void {
  if (json) return printJSON(r);
  if (!r.changes.length) process.stdout.write(`${none}\n`);
  for (const c of r.changes) process.stdout.write(`  ${c.op} ${c.kind} ${c.name}\n`);
  if (r.changes.length) process.stdout.write(`generation ${r.generation}\n`);
}

/** Runs `apply`. */
export async function applyCommand(argv: string[]): Promise<void> {
  const { topo, parsed } = readTopologyFile(argv, 'apply');
  const client = daemonClient(parsed);
  const types = await callApi<ModuleTypeInfo[]>(
    daemonClient(parsed),
    'GET',
    '/api/v1/module-types',
  );
  checkConfigs(topo, types);
  const r = await callApi<ChangeResult>(client, 'PUT', '/api/v1/topology', toDaemonTopology(topo));
  printChanges(
    r,
    parsed.flags.json === true,
    'nothing to do: the running topology already matches',
  );
}
