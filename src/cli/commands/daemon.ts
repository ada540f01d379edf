/**
 * `iovisor daemon`: runs iovisord (src/daemon) in the foreground — the REST API, event streams,
 * metrics and dashboard on its unix socket (and TCP when asked), over the real data plane,
 * which it adopts if one is already running. SIGTERM/SIGINT stop it and leave the data plane
 * forwarding (unless --teardown-on-exit).
 */
import { DAEMON_USAGE, runDaemon } from '../../daemon/index.js';

/** Usage text. */
export const daemonUsage = `${DAEMON_USAGE.replace(/^usage: /, '')}
    run iovisord; apply, delete and topology talk to it`;

/** Runs the daemon until a signal, then exits with its status. */
export async function daemonCommand(argv: string[]): Promise<void> {
  const code = await runDaemon(argv);
  // The slow-path reader and pinned handles are released; nothing else should keep us alive.
  process.exit(code);
}
