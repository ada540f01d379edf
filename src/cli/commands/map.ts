/** `iovisor map list|show|dump|lookup|update|delete`, decoded through BTF when the map has it. */
import { BpfMap, mapInfoByFd, UpdateFlags, type MapInfo } from '../../bpf/index.js';
import { parseValueText } from '../../bpf/btf/codec.js';
import { parseArgs, stringFlag, UsageError } from '../args.js';
import { formatValue, printJSON, printTable } from '../output.js';
import { openMap } from '../targets.js';

/** Usage text. */
export const mapUsage = `iovisor map list [--json]
iovisor map show MAP [--json]
iovisor map dump MAP [--json]
iovisor map lookup MAP --key KEY [--json]
iovisor map update MAP --key KEY --value VALUE [--flags any|noexist|exist]
iovisor map delete MAP --key KEY
  MAP is a map id, "id N", "name NAME", or a pin path. KEY and VALUE are JSON (or a number)
  decoded through the map's BTF, or raw bytes as "hex:01 00 00 00".`;

function infoRow(i: MapInfo): (string | number)[] {
  return [
    i.id,
    i.typeName,
    i.name,
    i.keySize,
    i.valueSize,
    i.maxEntries,
    '0x' + i.flags.toString(16),
  ];
}

function infoJSON(i: MapInfo): Record<string, unknown> {
  return {
    id: i.id,
    type: i.typeName,
    name: i.name,
    key_size: i.keySize,
    value_size: i.valueSize,
    max_entries: i.maxEntries,
    flags: i.flags,
    btf_id: i.btfId,
  };
}

function withMap<T>(args: string[], f: (m: BpfMap) => T): T {
  const { map } = openMap(args);
  try {
    return f(map);
  } finally {
    map.close();
  }
}

/** Parses KEY/VALUE text: "hex:..." bytes, else JSON through BTF, else a plain number. */
export function parseMapInput(map: BpfMap, text: string, which: 'key' | 'value'): unknown {
  if (text.startsWith('hex:')) {
    const hex = text.slice(4).replace(/0x/g, '').replace(/[\s,]/g, '');
    if (!/^([0-9a-fA-F]{2})*$/.test(hex))
      throw new UsageError(`${which}: "${text}" is not hex bytes`);
    return Uint8Array.from(Buffer.from(hex, 'hex'));
  }
  const type = which === 'key' ? map.keyType : map.valueType;
  if (map.btf && type) {
    try {
      if (which === 'value' && map.perCPU) return JSON.parse(text);
      return parseValueText(map.btf, type, text);
    } catch (err) {
      throw new UsageError(`${which}: ${(err as Error).message}`);
    }
  }
  if (/^-?\d+$/.test(text.trim())) return BigInt(text.trim());
  throw new UsageError(`${which}: map ${map.name} has no BTF: give a number or hex:BYTES`);
}

const FLAGS: Record<string, UpdateFlags> = {
  any: UpdateFlags.Any,
  noexist: UpdateFlags.NoExist,
  exist: UpdateFlags.Exist,
};

/** Runs a `map` subcommand. */
export function mapCommand(argv: string[]): void {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'list': {
      const p = parseArgs(rest, { json: 'boolean' }, 'map list');
      const infos: MapInfo[] = [];
      for (const id of BpfMap.ids()) {
        try {
          const m = BpfMap.fromId(id);
          infos.push(mapInfoByFd(m.fd.raw));
          m.close();
        } catch {
          // Maps can vanish between listing and opening.
        }
      }
      if (p.flags.json) return printJSON(infos.map(infoJSON));
      return printTable(['ID', 'TYPE', 'NAME', 'KEY', 'VALUE', 'MAX', 'FLAGS'], infos.map(infoRow));
    }
    case 'show': {
      const p = parseArgs(rest, { json: 'boolean' }, 'map show');
      return withMap(p.positionals, (m) => {
        const i = m.info();
        if (p.flags.json) return printJSON(infoJSON(i));
        printTable(['ID', 'TYPE', 'NAME', 'KEY', 'VALUE', 'MAX', 'FLAGS'], [infoRow(i)]);
      });
    }
    case 'dump': {
      const p = parseArgs(rest, { json: 'boolean' }, 'map dump');
      return withMap(p.positionals, (m) => {
        const entries = m.dump();
        if (p.flags.json) return printJSON(entries.map(([key, value]) => ({ key, value })));
        for (const [k, v] of entries)
          process.stdout.write(`key: ${formatValue(k)}  value: ${formatValue(v)}\n`);
        process.stdout.write(`Found ${entries.length} element${entries.length === 1 ? '' : 's'}\n`);
      });
    }
    case 'lookup': {
      const p = parseArgs(rest, { key: 'string', json: 'boolean' }, 'map lookup');
      return withMap(p.positionals, (m) => {
        const key = parseMapInput(m, stringFlag(p, 'key', 'map lookup', true), 'key');
        const v = m.get(key);
        if (v === undefined)
          throw new Error(
            `map lookup: key ${stringFlag(p, 'key', 'map lookup')} not found in map ${m.name}`,
          );
        if (p.flags.json) return printJSON({ key, value: v });
        process.stdout.write(`key: ${formatValue(key)}  value: ${formatValue(v)}\n`);
      });
    }
    case 'update': {
      const p = parseArgs(
        rest,
        { key: 'string', value: 'string', flags: 'string', json: 'boolean' },
        'map update',
      );
      return withMap(p.positionals, (m) => {
        const key = parseMapInput(m, stringFlag(p, 'key', 'map update', true), 'key');
        const value = parseMapInput(m, stringFlag(p, 'value', 'map update', true), 'value');
        const f = stringFlag(p, 'flags', 'map update') ?? 'any';
        if (!(f in FLAGS))
          throw new UsageError(`map update: --flags must be any, noexist or exist, got ${f}`);
        m.set(key, value, FLAGS[f]);
        if (p.flags.json) printJSON({ updated: true });
      });
    }
    case 'delete': {
      const p = parseArgs(rest, { key: 'string', json: 'boolean' }, 'map delete');
      return withMap(p.positionals, (m) => {
        const key = parseMapInput(m, stringFlag(p, 'key', 'map delete', true), 'key');
        if (!m.delete(key)) throw new Error(`map delete: key not found in map ${m.name}`);
        if (p.flags.json) printJSON({ deleted: true });
      });
    }
    default:
      throw new UsageError(`map: unknown subcommand "${sub ?? ''}"\n${mapUsage}`);
  }
}
