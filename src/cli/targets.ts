/** Resolving the PROG and MAP arguments: an id, `id N`, `name NAME`, `pinned PATH` or a pin path. */
import { BpfMap, Program, btfFromId, mapInfoByFd, programInfoByFd } from '../bpf/index.js';
import { UsageError } from './args.js';

function pick(
  args: string[],
  what: string,
): { kind: 'id' | 'name' | 'path'; value: string; rest: string[] } {
  const [a, b, ...rest] = args;
  if (a === undefined)
    throw new UsageError(`missing ${what} (an id, "id N", "name NAME" or a pin path)`);
  if (a === 'id' || a === 'name' || a === 'pinned') {
    if (b === undefined) throw new UsageError(`"${a}" needs a value`);
    return { kind: a === 'pinned' ? 'path' : a, value: b, rest };
  }
  if (/^\d+$/.test(a)) return { kind: 'id', value: a, rest: b === undefined ? rest : [b, ...rest] };
  return { kind: 'path', value: a, rest: b === undefined ? rest : [b, ...rest] };
}

/** Opens the program named by the arguments; returns it and the arguments left over. */
export function openProgram(args: string[]): { prog: Program; rest: string[] } {
  const t = pick(args, 'PROG');
  if (t.kind === 'id') return { prog: Program.fromId(Number(t.value)), rest: t.rest };
  if (t.kind === 'path') return { prog: Program.openPinned(t.value), rest: t.rest };
  for (const id of Program.ids()) {
    let p: Program;
    try {
      p = Program.fromId(id);
    } catch {
      continue;
    }
    if (programInfoByFd(p.fd.raw).name === t.value) return { prog: p, rest: t.rest };
    p.close();
  }
  throw new Error(`no program named ${t.value}`);
}

/** Opens the map named by the arguments, with its BTF attached when the kernel has it. */
export function openMap(args: string[]): { map: BpfMap; rest: string[] } {
  const t = pick(args, 'MAP');
  let map: BpfMap | undefined;
  if (t.kind === 'id') map = BpfMap.fromId(Number(t.value));
  else if (t.kind === 'path') map = BpfMap.openPinned(t.value);
  else {
    for (const id of BpfMap.ids()) {
      let m: BpfMap;
      try {
        m = BpfMap.fromId(id);
      } catch {
        continue;
      }
      if (mapInfoByFd(m.fd.raw).name === t.value) {
        map = m;
        break;
      }
      m.close();
    }
    if (!map) throw new Error(`no map named ${t.value}`);
  }
  attachBtf(map);
  return { map, rest: t.rest };
}

/** Gives a map opened from the kernel its BTF key and value types, when it has them. */
export function attachBtf(map: BpfMap): void {
  const info = map.info();
  if (info.btfId === 0) return;
  try {
    map.btf = btfFromId(info.btfId);
    map.keyType = info.btfKeyTypeId || undefined;
    map.valueType = info.btfValueTypeId || undefined;
  } catch {
    // Decoding is a convenience: without BTF, bytes are shown.
  }
}
