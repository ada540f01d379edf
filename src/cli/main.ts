/**
 * The `iovisor` command line. Every command prints one clear line on failure and exits non-zero;
 * set IOVISOR_DEBUG=1 to see the stack and causes.
 */
import '../sys/index.js';
import { UsageError } from './args.js';

type Handler = (argv: string[]) => void | Promise<void>;

/**
 * Commands load on demand: importing every front end (toolchain, data plane, daemon, tracing)
 * for every invocation would add ~100 ms to each `iovisor` run.
 */
const COMMANDS: Record<string, () => Promise<{ run: Handler; usage: string }>> = {
  object: async () => {
    const m = await import('./commands/object.js');
    return { run: m.objectCommand, usage: m.objectUsage };
  },
  prog: async () => {
    const m = await import('./commands/prog.js');
    return { run: m.progCommand, usage: m.progUsage };
  },
  map: async () => {
    const m = await import('./commands/map.js');
    return { run: m.mapCommand, usage: m.mapUsage };
  },
  attach: async () => {
    const m = await import('./commands/attach.js');
    return { run: m.attachCommand, usage: m.attachUsage };
  },
  link: async () => {
    const m = await import('./commands/link.js');
    return { run: m.linkCommand, usage: m.linkUsage };
  },
  events: async () => {
    const m = await import('./commands/events.js');
    return { run: m.eventsCommand, usage: m.eventsUsage };
  },
  feature: async () => {
    const m = await import('./commands/feature.js');
    return { run: m.featureCommand, usage: m.featureUsage };
  },
  daemon: async () => {
    const m = await import('./commands/daemon.js');
    return { run: m.daemonCommand, usage: m.daemonUsage };
  },
  apply: async () => {
    const m = await import('./commands/apply.js');
    return { run: m.applyCommand, usage: m.applyUsage };
  },
  delete: async () => {
    const m = await import('./commands/delete.js');
    return { run: m.deleteCommand, usage: m.deleteUsage };
  },
  topology: async () => {
    const m = await import('./commands/topology.js');
    return { run: m.topologyCommand, usage: m.topologyUsage };
  },
  trace: async () => {
    const m = await import('./commands/trace.js');
    return { run: m.traceCommand, usage: m.traceUsage };
  },
  top: async () => {
    const m = await import('./commands/top.js');
    return { run: m.topCommand, usage: m.topUsage };
  },
  build: async () => {
    const m = await import('./commands/build.js');
    return { run: m.buildCommand, usage: m.buildUsage };
  },
  gen: async () => {
    const m = await import('./commands/gen.js');
    return { run: m.genCommand, usage: m.genUsage };
  },
  disasm: async () => {
    const m = await import('./commands/disasm.js');
    return { run: m.disasmCommand, usage: m.disasmUsage };
  },
  conformance: async () => {
    const m = await import('./commands/conformance.js');
    return { run: m.conformanceCommand, usage: m.conformanceUsage };
  },
  test: async () => {
    const m = await import('./commands/test.js');
    return { run: m.testCommand, usage: m.testUsage };
  },
  init: async () => {
    const m = await import('./commands/init.js');
    return { run: m.initCommand, usage: m.initUsage };
  },
};

async function usage(): Promise<string> {
  const parts = await Promise.all(
    Object.values(COMMANDS).map(async (load) => (await load()).usage),
  );
  return `usage: iovisor <command> ...\n\n${parts.join('\n\n')}`;
}

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
    process.stdout.write((await usage()) + '\n');
    return cmd === undefined ? 2 : 0;
  }
  const load = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!load) {
    process.stderr.write(`iovisor: unknown command "${cmd}"\n\n${await usage()}\n`);
    return 2;
  }
  try {
    await (await load()).run(rest);
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
