/**
 * The `iovisor` command line. Every command prints one clear line on failure and exits non-zero;
 * set IOVISOR_DEBUG=1 to see the stack and causes.
 */
import '../sys/index.js';
import { UsageError } from './args.js';
import { applyCommand, applyUsage } from './commands/apply.js';
import { attachCommand, attachUsage } from './commands/attach.js';
import { daemonCommand, daemonUsage } from './commands/daemon.js';
import { deleteCommand, deleteUsage } from './commands/delete.js';
import { eventsCommand, eventsUsage } from './commands/events.js';
import { featureCommand, featureUsage } from './commands/feature.js';
import { linkCommand, linkUsage } from './commands/link.js';
import { mapCommand, mapUsage } from './commands/map.js';
import { objectCommand, objectUsage } from './commands/object.js';
import { progCommand, progUsage } from './commands/prog.js';
import { topologyCommand, topologyUsage } from './commands/topology.js';
import { topCommand, topUsage } from './commands/top.js';
import { traceCommand, traceUsage } from './commands/trace.js';
import { buildCommand, buildUsage } from './commands/build.js';
import { conformanceCommand, conformanceUsage } from './commands/conformance.js';
import { disasmCommand, disasmUsage } from './commands/disasm.js';
import { genCommand, genUsage } from './commands/gen.js';
import { initCommand, initUsage } from './commands/init.js';
import { testCommand, testUsage } from './commands/test.js';

const USAGE = `usage: iovisor <command> ...

${objectUsage}

${progUsage}

${mapUsage}

${attachUsage}

${linkUsage}

${eventsUsage}

${featureUsage}

${daemonUsage}

${applyUsage}

${deleteUsage}

${topologyUsage}

${traceUsage}

${topUsage}

${buildUsage}

${genUsage}

${disasmUsage}

${conformanceUsage}

${testUsage}

${initUsage}`;

type Handler = (argv: string[]) => void | Promise<void>;

const COMMANDS: Record<string, Handler> = {
  object: objectCommand,
  prog: progCommand,
  map: mapCommand,
  attach: attachCommand,
  link: linkCommand,
  events: eventsCommand,
  feature: featureCommand,
  daemon: daemonCommand,
  apply: applyCommand,
  delete: deleteCommand,
  topology: topologyCommand,
  trace: traceCommand,
  top: topCommand,
  build: buildCommand,
  gen: genCommand,
  disasm: disasmCommand,
  conformance: conformanceCommand,
  test: testCommand,
  init: initCommand,
};

/** One line (plus causes that add information) for an error, without a stack trace. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  let msg = err.message;
  const log = (err as { log?: string }).log;
  if (log && process.env.IOVISOR_VERBOSE) msg += `\nverifier log:\n${log}`;
  return msg;
}

// `iovisor ... | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE + '\n');
    return cmd === undefined ? 2 : 0;
  }
  const handler = COMMANDS[cmd];
  if (!handler) {
    process.stderr.write(`iovisor: unknown command "${cmd}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    await handler(rest);
    return 0;
  } catch (err) {
    if (process.env.IOVISOR_DEBUG) console.error(err);
    process.stderr.write(`iovisor: ${describeError(err)}\n`);
    // With --json, machine readers get the error as JSON on stdout too (as bpftool -j does).
    if (rest.includes('--json'))
      process.stdout.write(JSON.stringify({ error: describeError(err) }) + '\n');
    return err instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
