/**
 * iovisord as a process: parses the daemon's flags, starts it, and stops it on SIGTERM/SIGINT
 * leaving the data plane's pinned state in place (traffic keeps flowing). `iovisor daemon`
 * calls {@link runDaemon} with its arguments; run directly, this file is the daemon.
 */
import { fileURLToPath } from 'node:url';
import { startDaemon, type Daemon, type DaemonOptions } from './daemon.js';
import { FakeDataplane } from './fake-dataplane.js';

/** Usage text of the daemon's flags. */
export const DAEMON_USAGE = `usage: iovisor daemon [flags]
  --state-dir DIR        desired state (default /var/lib/iovisor)
  --socket PATH          unix socket, mode 0600 (default /run/iovisor/iovisord.sock); "none": no socket
  --listen HOST:PORT     also serve TCP (every request needs the bearer token)
  --token-file FILE      bearer token for TCP (created with a random token if missing)
  --tls-cert FILE        PEM certificate: TCP speaks TLS (with --tls-key)
  --tls-key FILE         PEM private key
  --name NAME            data plane name: pin directory and namespace (default iovisor)
  --netns NS             namespace of the port netdevs (default: the name)
  --bpffs DIR            bpffs root (default /sys/fs/bpf/iovisor)
  --bpf-stats            turn on kernel BPF run-time stats: program run time per instance in /metrics
  --reconcile SECONDS    reconcile period (default 10; 0: only at start)
  --teardown-on-exit     remove the data plane when stopped (default: keep it forwarding)
  --fake                 serve a simulated data plane (no root; for demos and UI work)`;

/** Parses daemon flags into options; throws with the usage on a bad flag. */
export function parseDaemonArgs(
  argv: string[],
): DaemonOptions & { teardownOnExit?: boolean; fake?: boolean } {
  const o: DaemonOptions & { teardownOnExit?: boolean; fake?: boolean } = {};
  const flags: Record<string, (v: string) => void> = {
    '--state-dir': (v) => (o.stateDir = v),
    '--socket': (v) => (o.socket = v === 'none' ? false : v),
    '--listen': (v) => (o.listen = v),
    '--token-file': (v) => (o.tokenFile = v),
    '--tls-cert': (v) => (o.tlsCert = v),
    '--tls-key': (v) => (o.tlsKey = v),
    '--name': (v) => (o.dataplaneName = v),
    '--bpffs': (v) => (o.bpffsRoot = v),
    '--netns': (v) => (o.netns = v),
    '--reconcile': (v) => {
      if (!/^\d+(\.\d+)?$/.test(v))
        throw new Error(`--reconcile ${v}: expected seconds\n${DAEMON_USAGE}`);
      o.reconcileMs = Number(v) * 1000;
    },
  };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    let v: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (a === '--teardown-on-exit') o.teardownOnExit = true;
    else if (a === '--fake') o.fake = true;
    else if (a === '--bpf-stats') o.bpfStats = true;
    else if (a === '-h' || a === '--help') throw new Error(DAEMON_USAGE);
    else if (flags[a]) {
      v ??= argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${DAEMON_USAGE}`);
      flags[a](v);
    } else throw new Error(`unknown flag ${a}\n${DAEMON_USAGE}`);
  }
  return o;
}

/** Runs the daemon until SIGTERM/SIGINT; resolves with the exit code. */
export async function runDaemon(argv: string[]): Promise<number> {
  const o = parseDaemonArgs(argv);
  const { teardownOnExit, fake, ...opts } = o;
  if (fake) opts.dataplane = new FakeDataplane(undefined, 500);
  let d: Daemon;
  try {
    d = await startDaemon(opts);
  } catch (err) {
    process.stderr.write(`iovisord: ${(err as Error).message}\n`);
    return 1;
  }
  return new Promise((resolve) => {
    const stop = (sig: string): void => {
      process.stderr.write(
        `iovisord: ${sig}: stopping${teardownOnExit ? ' and tearing down' : ' (data plane keeps forwarding)'}\n`,
      );
      d.close({ teardown: !!teardownOnExit }).then(
        () => resolve(0),
        (err: unknown) => {
          process.stderr.write(`iovisord: stop: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runDaemon(process.argv.slice(2)).then((code) => process.exit(code));
}
