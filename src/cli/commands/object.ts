/** `iovisor object load FILE.o --pin DIR`. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  Collection,
  loadCollectionSpec,
  mapTypeName,
  pinName,
  programTypeName,
} from '../../bpf/index.js';
import { parseArgs, positional, stringFlag, UsageError } from '../args.js';
import { printJSON, printTable } from '../output.js';

/** Usage text. */
export const objectUsage = `iovisor object load FILE.o --pin DIR [--program NAME]... [--json]
  Loads every map and program of an object file; pins each program at DIR/<name> and each map
  at DIR/maps/<name>. Maps declared with pinning by name are shared through DIR/maps too.`;

/** Runs an `object` subcommand. */
export function objectCommand(argv: string[]): void {
  const [sub, ...rest] = argv;
  if (sub !== 'load')
    throw new UsageError(`object: unknown subcommand "${sub ?? ''}"\n${objectUsage}`);
  const p = parseArgs(rest, { pin: 'string', json: 'boolean', program: 'list' }, 'object load');
  const file = positional(p, 0, 'FILE.o', 'object load');
  const dir = stringFlag(p, 'pin', 'object load', true);
  if (!existsSync(file)) throw new Error(`object load: ${file}: no such file`);
  const spec = loadCollectionSpec(file);
  const progress = (s: string): void => {
    if (!p.flags.json && process.stderr.isTTY) process.stderr.write(`  ${s}\n`);
  };
  const coll = Collection.load(spec, {
    programs: p.flags.program as string[] | undefined,
    pinPath: path.join(dir, 'maps'),
    onProgress: progress,
  });
  try {
    coll.pinAll(dir);
    const programs = [...coll.programs.entries()].map(([name, prog]) => ({
      name,
      id: prog.info().id,
      type: programTypeName(prog.type),
      section: spec.programs.get(name)!.sectionName,
      pin: path.join(dir, name),
    }));
    const maps = [...coll.maps.entries()].map(([name, m]) => ({
      name,
      id: m.info().id,
      type: mapTypeName(m.type),
      pin: path.join(dir, 'maps', pinName(name)),
    }));
    if (p.flags.json) {
      printJSON({ object: file, programs, maps });
      return;
    }
    printTable(
      ['KIND', 'ID', 'NAME', 'TYPE', 'PIN'],
      [
        ...programs.map((x) => ['prog', x.id, x.name, `${x.type} (${x.section})`, x.pin]),
        ...maps.map((x) => ['map', x.id, x.name, x.type, x.pin]),
      ],
    );
  } finally {
    coll.close();
  }
}
