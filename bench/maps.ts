/**
 * Map operations per second from TypeScript (iovisor's BpfMap) vs a C program using libbpf
 * (bench/c/map_bench.c), in one run on the same map shape: BPF_MAP_TYPE_HASH, u32 key, u64
 * value. Single-element update/lookup and batch update/lookup.
 *
 * The two run in alternating rounds (ours in this process, then the peer as a fresh process),
 * each round on its own map with the same operation counts. This host's slow spells last
 * seconds and shift either side's throughput by up to 2x, so each round's ratio is taken
 * against the peer round run right after it, and the reported ratio is the median of those
 * (with their range); the rates shown are the medians of each side's rounds.
 *
 *   node dist/bench/maps.js [entries=65536] [iterations=300000] [rounds=7]
 */
import '../src/sys/index.js';
import { BpfMap, MapType } from '../src/bpf/index.js';
import { cPeer, machine, median, runPeer, table } from './common.js';

interface Result {
  update_ops_per_sec: number;
  lookup_ops_per_sec: number;
  batch_update_ops_per_sec: number;
  batch_lookup_ops_per_sec: number;
}

const entries = Number(process.argv[2] ?? 65536);
const iterations = Number(process.argv[3] ?? 300_000);
const rounds = Number(process.argv[4] ?? 7);

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
const keys = [
  'update_ops_per_sec',
  'lookup_ops_per_sec',
  'batch_update_ops_per_sec',
  'batch_lookup_ops_per_sec',
] as const;
ours(); // warm-up: the JIT's first pass over the element path, not measured
const oursRounds: Result[] = [];
const theirsRounds: Result[] = [];
for (let r = 0; r < rounds; r++) {
  oursRounds.push(ours());
  theirsRounds.push(runPeer<Result>(bin, [String(entries), String(iterations), String(entries)]));
}
const med = (rs: Result[], k: keyof Result): number => median(rs.map((x) => x[k]));
const pairRatios = (k: keyof Result): number[] =>
  oursRounds.map((o, i) => o[k] / theirsRounds[i]![k]);

const rows: [string, keyof Result, number][] = [
  ['single update', 'update_ops_per_sec', 0.5],
  ['single lookup', 'lookup_ops_per_sec', 0.5],
  ['batch update', 'batch_update_ops_per_sec', 0.8],
  ['batch lookup', 'batch_lookup_ops_per_sec', 0.8],
];
console.log(`machine: ${machine()}`);
console.log(
  `hash map, ${entries} entries, ${iterations} single ops per kind per round, batch = whole map per call, ${rounds} alternating rounds\n`,
);
table(
  ['operation', 'iovisor (TS) ops/s', 'libbpf (C) ops/s', 'ratio', 'per round', 'target'],
  rows.map(([name, k, target]) => {
    const pr = pairRatios(k);
    return [
      name,
      Math.round(med(oursRounds, k)).toLocaleString('en'),
      Math.round(med(theirsRounds, k)).toLocaleString('en'),
      median(pr).toFixed(2),
      `${Math.min(...pr).toFixed(2)}-${Math.max(...pr).toFixed(2)}`,
      `>= ${target}`,
    ];
  }),
);
console.log(
  JSON.stringify({
    bench: 'maps',
    entries,
    iterations,
    rounds,
    iovisor: Object.fromEntries(keys.map((k) => [k, Math.round(med(oursRounds, k))])),
    libbpf: Object.fromEntries(keys.map((k) => [k, Math.round(med(theirsRounds, k))])),
    ratio: Object.fromEntries(keys.map((k) => [k, +median(pairRatios(k)).toFixed(3)])),
    ratio_rounds: Object.fromEntries(keys.map((k) => [k, pairRatios(k).map((x) => +x.toFixed(3))])),
  }),
);
