/**
 * Maps without an object file: create a hash map and a per-CPU array straight from a MapSpec,
 * write, read, iterate, batch-update, batch-read and batch-delete them, pin one in bpffs and
 * open the pin again. Everything is closed and unpinned at the end.
 *
 *   sudo node dist/examples/map-basics/main.js [--json]
 *
 * The map has no BTF, so 4- and 8-byte keys and values are plain numbers (bigint above 2^53).
 */
import { existsSync, rmSync } from 'node:fs';
import { BpfMap, MapType, UpdateFlags, type MapSpec } from '../../src/bpf/index.js';
import { possibleCpus } from '../../src/sys/index.js';

/** A MapSpec with the defaults an object file would otherwise supply. */
function mapSpec(
  name: string,
  type: MapType,
  keySize: number,
  valueSize: number,
  maxEntries: number,
): MapSpec {
  return {
    name,
    type,
    keySize,
    valueSize,
    maxEntries,
    flags: 0,
    mapExtra: 0n,
    pinning: 'none',
    contents: [],
    freeze: false,
  };
}

const json = process.argv.includes('--json');
const out: Record<string, unknown> = {};
const say = (label: string, value: unknown): void => {
  out[label] = value;
  if (!json)
    console.log(
      `${label}: ${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`,
    );
};

const pinPath = `/sys/fs/bpf/iovisor-example-map-${process.pid}`;
const hash = BpfMap.create(mapSpec('ex_hash', MapType.Hash, 4, 8, 1024));
const percpu = BpfMap.create(mapSpec('ex_percpu', MapType.PerCPUArray, 4, 8, 4));
try {
  // Single-element operations: BPF_MAP_UPDATE_ELEM / LOOKUP_ELEM / DELETE_ELEM.
  hash.set(1, 100);
  hash.set(2, 200);
  hash.set(3, 300);
  say('get 2', hash.get(2));
  say('get 42 (missing)', hash.get(42));
  try {
    hash.set(1, 111, UpdateFlags.NoExist);
  } catch (err) {
    say('set NoExist on key 1', (err as Error).message);
  }
  say('delete 3', hash.delete(3));
  say('delete 3 again', hash.delete(3));

  // Iteration walks keys with BPF_MAP_GET_NEXT_KEY; order is the kernel's hash order.
  say(
    'entries',
    [...hash.entries()].sort((a, b) => Number(a[0]) - Number(b[0])),
  );

  // Batch ops: one syscall for many elements.
  const written = hash.setBatch([
    [10, 1000],
    [11, 1100],
    [12, 1200],
  ]);
  say('setBatch wrote', written);
  say(
    'dump (lookup batch)',
    hash.dump().sort((a, b) => Number(a[0]) - Number(b[0])),
  );
  const keys = new Uint8Array(8);
  keys.set(hash.encodeKey(10), 0);
  keys.set(hash.encodeKey(11), 4);
  say('deleteBatchBytes removed', hash.deleteBatchBytes(keys, 2));
  say(
    'keys left',
    [...hash.entries()].map(([k]) => Number(k)).sort((a, b) => a - b),
  );

  // Per-CPU maps: one value per possible CPU. A single value is written to every CPU.
  percpu.set(0, 7);
  const cpus = possibleCpus();
  percpu.set(
    1,
    Array.from({ length: cpus }, (_, i) => i),
  );
  say('possible CPUs', cpus);
  // 8-byte values are bigint (as through BTF); one per possible CPU.
  say('percpu[0]', (percpu.get(0) as bigint[]).map(Number));
  say('percpu[1] summed', Number((percpu.get(1) as bigint[]).reduce((a, b) => a + b, 0n)));

  // Pinning: the map outlives this fd; anyone can open the pin (BPF_OBJ_GET).
  hash.pin(pinPath);
  const again = BpfMap.openPinned(pinPath);
  try {
    const info = again.info();
    say('pinned map info', {
      name: info.name,
      type: info.typeName,
      keySize: info.keySize,
      valueSize: info.valueSize,
      maxEntries: info.maxEntries,
    });
    say('same map through the pin', again.get(12));
  } finally {
    again.close();
  }
} finally {
  if (existsSync(pinPath)) rmSync(pinPath);
  hash.close();
  percpu.close();
}
if (json)
  // JSON has no bigint: safe integers become numbers, larger ones strings.
  console.log(
    JSON.stringify(out, (_k, v: unknown) =>
      typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v,
    ),
  );
