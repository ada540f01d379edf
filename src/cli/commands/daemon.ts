/**
 * `iovisor daemon`: the first form of iovisord. Owns a data plane (its namespace, pins under
 * /sys/fs/bpf/iovisor/NAME, instances, controllers and slow paths) and serves the CLI on a
 * unix socket until SIGINT/SIGTERM, then tears everything down.
 */
import { Dataplane, DEFAULT_SOCKET, serveDataplane } from '../../dataplane/index.js';
import { builtinModules } from '../../../modules/index.js';
import { parseArgs } from '../args.js';

/** Usage text. */
export const daemonUsage = `iovisor daemon [--socket PATH] [--name NAME] [--netns NS] [--bpffs DIR] [--verbose]
    run iovisord: own the data plane and serve apply/delete/topology (default socket ${DEFAULT_SOCKET})`;

/** Runs the daemon until a signal. */
export async function daemonCommand(argv: string[]): Promise<void> {
  const p = parseArgs(
    argv,
    { socket: 'string', name: 'string', netns: 'string', bpffs: 'string', verbose: 'boolean' },
    'daemon',
  );
  const socket = (p.flags.socket as string | undefined) ?? DEFAULT_SOCKET;
  const verbose = p.flags.verbose === true;
  const dp = Dataplane.open({
    types: builtinModules,
    ...(p.flags.name ? { name: p.flags.name as string } : {}),
    ...(p.flags.netns ? { netns: p.flags.netns as string } : {}),
    ...(p.flags.bpffs ? { bpffsRoot: p.flags.bpffs as string } : {}),
    log: (m) => {
      if (verbose) process.stderr.write(`iovisord: ${m}\n`);
    },
  });
  let server;
  try {
    server = await serveDataplane(dp, socket);
  } catch (err) {
    dp.close();
    throw new Error(`daemon: listen on ${socket}: ${(err as Error).message}`, { cause: err });
  }
  process.stderr.write(
    `iovisord: data plane ${dp.name} (netns ${dp.netns}) serving on ${socket}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  server.close();
  dp.close();
  process.stderr.write('iovisord: stopped, data plane removed\n');
}
