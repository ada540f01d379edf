/**
 * BTF-defined maps: the `.maps` section's variables, whose struct members encode attributes as
 * libbpf's `__uint(name, val)` (a pointer to an array of `val` ints) and `__type(name, T)`
 * (a pointer to T) macros.
 */
import type { Btf } from '../btf/btf.js';
import { BtfKind, type BtfMember } from '../btf/types.js';
import { mapSpec, type MapSpec } from '../spec.js';
import { MapType } from '../types.js';

/** A malformed BTF map definition. */
export class MapDefError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MapDefError';
  }
}

/** The value of `__uint(name, val)`: pointer → array with `val` elements. */
function uintAttr(btf: Btf, m: BtfMember, where: string): number {
  const ptr = btf.type(btf.resolve(m.type));
  if (ptr.kind !== BtfKind.Ptr)
    throw new MapDefError(`${where}: attribute ${m.name} is not __uint()`);
  const arr = btf.type(btf.resolve(ptr.type));
  if (arr.kind !== BtfKind.Array)
    throw new MapDefError(`${where}: attribute ${m.name} is not __uint()`);
  return arr.nelems;
}

/** The type of `__type(name, T)`: pointer → T. */
function typeAttr(btf: Btf, m: BtfMember, where: string): number {
  const ptr = btf.type(btf.resolve(m.type));
  if (ptr.kind !== BtfKind.Ptr)
    throw new MapDefError(`${where}: attribute ${m.name} is not __type()`);
  return ptr.type;
}

/** Parses one map definition struct. `valuesOffset` is the byte offset of a `values` member. */
export function parseMapDef(
  btf: Btf,
  name: string,
  structId: number,
  where: string,
): { spec: MapSpec; valuesOffset?: number } {
  const st = btf.type(btf.resolve(structId));
  if (st.kind !== BtfKind.Struct) throw new MapDefError(`${where}: map ${name} is not a struct`);
  const spec = mapSpec({
    name,
    type: MapType.Unspec,
    keySize: 0,
    valueSize: 0,
    maxEntries: 0,
    btf,
  });
  let valuesOffset: number | undefined;
  const w = `${where}: map ${name}`;
  for (const m of st.members) {
    switch (m.name) {
      case 'type':
        spec.type = uintAttr(btf, m, w);
        break;
      case 'max_entries':
        spec.maxEntries = uintAttr(btf, m, w);
        break;
      case 'map_flags':
        spec.flags = uintAttr(btf, m, w);
        break;
      case 'numa_node':
        spec.numaNode = uintAttr(btf, m, w);
        break;
      case 'map_extra':
        spec.mapExtra = BigInt(uintAttr(btf, m, w));
        break;
      case 'key_size':
        spec.keySize = uintAttr(btf, m, w);
        break;
      case 'value_size':
        spec.valueSize = uintAttr(btf, m, w);
        break;
      case 'pinning': {
        const p = uintAttr(btf, m, w);
        if (p > 1) throw new MapDefError(`${w}: unsupported pinning ${p}`);
        spec.pinning = p === 1 ? 'by_name' : 'none';
        break;
      }
      case 'key': {
        const t = typeAttr(btf, m, w);
        spec.keyType = t;
        spec.keySize = btf.sizeof(t);
        break;
      }
      case 'value': {
        const t = typeAttr(btf, m, w);
        spec.valueType = t;
        spec.valueSize = btf.sizeof(t);
        break;
      }
      case 'values': {
        valuesOffset = m.bitOffset / 8;
        const arr = btf.type(btf.resolve(m.type));
        if (arr.kind !== BtfKind.Array) throw new MapDefError(`${w}: values is not an array`);
        const ptr = btf.type(btf.resolve(arr.type));
        if (ptr.kind !== BtfKind.Ptr)
          throw new MapDefError(`${w}: values must be an array of pointers`);
        const target = btf.type(btf.resolve(ptr.type));
        if (target.kind === BtfKind.Struct) {
          spec.innerMap = parseMapDef(btf, `${name}.inner`, ptr.type, where).spec;
          spec.valueSize = 4;
        } else if (target.kind === BtfKind.FuncProto) {
          spec.valueSize = 4;
        } else {
          throw new MapDefError(`${w}: values must point to a map definition or a function`);
        }
        break;
      }
      default:
        throw new MapDefError(`${w}: unknown attribute "${m.name}"`);
    }
  }
  if (
    spec.type === MapType.ProgArray ||
    spec.type === MapType.ArrayOfMaps ||
    spec.type === MapType.HashOfMaps
  ) {
    if (spec.keySize === 0) spec.keySize = 4;
    if (spec.valueSize === 0) spec.valueSize = 4;
    // The kernel takes no BTF value type for these: values are fds.
    spec.valueType = undefined;
  }
  if (spec.type === MapType.RingBuf || spec.type === MapType.UserRingBuf) {
    spec.keyType = undefined;
    spec.valueType = undefined;
  }
  if (spec.type === MapType.PerfEventArray) {
    if (spec.keySize === 0) spec.keySize = 4;
    if (spec.valueSize === 0) spec.valueSize = 4;
    spec.keyType = undefined;
    spec.valueType = undefined;
  }
  return { spec, valuesOffset };
}

/** Parses every map of the `.maps` DATASEC. `offsets` gives each map symbol's section offset. */
export function parseBtfMaps(
  btf: Btf,
  offsets: Map<string, number>,
): { spec: MapSpec; valuesOffset?: number }[] {
  const ids = btf.findByName('.maps', BtfKind.Datasec);
  if (ids.length === 0) throw new MapDefError('section .maps has no BTF DATASEC: compile with -g');
  const ds = btf.type(ids[0]!);
  if (ds.kind !== BtfKind.Datasec) return [];
  const out: { spec: MapSpec; valuesOffset?: number }[] = [];
  for (const v of ds.vars) {
    const vt = btf.type(v.type);
    if (vt.kind !== BtfKind.Var) throw new MapDefError(`.maps: entry ${v.type} is not a variable`);
    if (!offsets.has(vt.name)) throw new MapDefError(`.maps: map ${vt.name} has no symbol`);
    out.push(parseMapDef(btf, vt.name, vt.type, '.maps'));
  }
  return out;
}
