/** `iovisor prog list|show|dump|run`: bpftool-like program inspection. */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  programInfoByFd,
  returnCodeName,
  type Program,
  type ProgramInfo,
} from '../../bpf/index.js';
import { parseArgs, stringFlag, UsageError } from '../args.js';
import { printJSON, printTable } from '../output.js';
import { openProgram } from '../targets.js';
import { Program as Prog } from '../../bpf/index.js';
import { dumpProgram } from './prog-dump.js';

/** Usage text. */
export const progUsage = `iovisor prog list [--json]
iovisor prog show PROG [--json]
iovisor prog dump PROG [--json] [--no-source]
iovisor prog run PROG --data-in FILE [--data-out FILE] [--ctx-in FILE] [--repeat N] [--json]
  PROG is a program id, "id N", "name NAME", or a pin path.`;

function infoRow(i: ProgramInfo): (string | number)[] {
  return [i.id, i.typeName, i.name, i.tag, i.xlatedLen, i.mapIds.join(',') || '-'];
}

function infoJSON(i: ProgramInfo): Record<string, unknown> {
  return {
    id: i.id,
    type: i.typeName,
    name: i.name,
    tag: i.tag,
    xlated_bytes: i.xlatedLen,
    jited_bytes: i.jitedLen,
    map_ids: i.mapIds,
    btf_id: i.btfId,
    run_time_ns: i.runTimeNs,
    run_cnt: i.runCount,
    verified_insns: i.verifiedInsns,
  };
}

function withProgram<T>(args: string[], f: (p: Program, rest: string[]) => T): T {
  const { prog, rest } = openProgram(args);
  try {
    return f(prog, rest);
  } finally {
    prog.close();
  }
}

/** Runs a `prog` subcommand. */
export function progCommand(argv: string[]): void {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'list': {
      const p = parseArgs(rest, { json: 'boolean' }, 'prog list');
      const infos: ProgramInfo[] = [];
      for (const id of Prog.ids()) {
        try {
          const prog = Prog.fromId(id);
          infos.push(programInfoByFd(prog.fd.raw));
          prog.close();
        } catch {
          // Programs can vanish between listing and opening.
        }
      }
      if (p.flags.json) return printJSON(infos.map(infoJSON));
      return printTable(['ID', 'TYPE', 'NAME', 'TAG', 'XLATED', 'MAPS'], infos.map(infoRow));
    }
    case 'show': {
      const p = parseArgs(rest, { json: 'boolean' }, 'prog show');
      return withProgram(p.positionals, (prog) => {
        const i = prog.info();
        if (p.flags.json) return printJSON(infoJSON(i));
        printTable(['ID', 'TYPE', 'NAME', 'TAG', 'XLATED', 'MAPS'], [infoRow(i)]);
      });
    }
    case 'dump': {
      const p = parseArgs(rest, { json: 'boolean', 'no-source': 'boolean' }, 'prog dump');
      return withProgram(p.positionals, (prog) =>
        dumpProgram(prog, { json: !!p.flags.json, source: !p.flags['no-source'] }),
      );
    }
    case 'run': {
      const p = parseArgs(
        rest,
        {
          'data-in': 'string',
          'data-out': 'string',
          'ctx-in': 'string',
          'ctx-out': 'string',
          repeat: 'number',
          json: 'boolean',
        },
        'prog run',
      );
      const dataIn = stringFlag(p, 'data-in', 'prog run');
      const ctxIn = stringFlag(p, 'ctx-in', 'prog run');
      if (!dataIn && !ctxIn)
        throw new UsageError('prog run: give --data-in FILE (and/or --ctx-in FILE)');
      const repeat = (p.flags.repeat as number | undefined) ?? 1;
      if (!Number.isInteger(repeat) || repeat < 1)
        throw new UsageError(`prog run: --repeat must be a positive integer, got ${repeat}`);
      const data = dataIn ? readInput(dataIn) : undefined;
      const ctx = ctxIn ? readInput(ctxIn) : undefined;
      return withProgram(p.positionals, (prog) => {
        const r = prog.run({ data, ctx, repeat });
        const name = returnCodeName(prog.type, r.retval);
        const dataOut = stringFlag(p, 'data-out', 'prog run');
        if (dataOut) writeFileSync(dataOut, r.dataOut);
        const ctxOut = stringFlag(p, 'ctx-out', 'prog run');
        if (ctxOut && r.ctxOut) writeFileSync(ctxOut, r.ctxOut);
        if (p.flags.json) {
          return printJSON({
            retval: r.retval | 0,
            retval_name: name ?? null,
            duration_ns: r.duration,
            repeat,
            data_out_size: r.dataOut.byteLength,
          });
        }
        process.stdout.write(
          `Return value: ${r.retval | 0}${name ? ` (${name})` : ''}, duration${repeat > 1 ? ' (average)' : ''}: ${r.duration}ns\n`,
        );
      });
    }
    default:
      throw new UsageError(`prog: unknown subcommand "${sub ?? ''}"\n${progUsage}`);
  }
}

function readInput(file: string): Uint8Array {
  try {
    return readFileSync(file === '-' ? 0 : file);
  } catch (err) {
    throw new Error(`read ${file}: ${(err as Error).message}`, { cause: err });
  }
}
