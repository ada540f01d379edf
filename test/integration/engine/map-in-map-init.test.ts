// A map of maps' static slots are written with one BPF_MAP_UPDATE_BATCH per outer map (the
// kernel waits an RCU grace period per update), after the programs, and a kernel that refuses
// the batch gets them one by one. Either way the outer maps must hold the inner maps the C
// source names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfCmd, setSys, SysError, sys, errnoValue, type Sys } from '../../../src/sys/index.js';
import { Collection } from '../../../src/bpf/index.js';
import { corpusObject } from '../../helpers/corpus.js';

/** The real Sys with every bpf() command recorded; `refuse` commands fail with ENOTSUPP. */
function recording(refuse: BpfCmd[] = []): { cmds: BpfCmd[]; restore: () => void } {
  const real = sys();
  const cmds: BpfCmd[] = [];
  const w = Object.create(real) as Sys;
  const check = (cmd: BpfCmd): void => {
    cmds.push(cmd);
    if (refuse.includes(cmd)) throw new SysError(`bpf(BPF_${BpfCmd[cmd]})`, errnoValue('ENOTSUPP'));
  };
  w.bpf = (cmd, attr) => {
    check(cmd);
    return real.bpf(cmd, attr);
  };
  w.bpfAt = (cmd, at, size) => {
    check(cmd);
    return real.bpfAt(cmd, at, size);
  };
  return { cmds, restore: setSys(w) };
}

/** Outer map slots as inner map ids, and the ids of inner_a and inner_b. */
function slots(c: Collection): { array: unknown; hash: unknown; a: number; b: number } {
  return {
    array: c.map('outer_array').dump(),
    hash: c.map('outer_hash').dump(),
    a: c.map('inner_a').info().id,
    b: c.map('inner_b').info().id,
  };
}

/** Loads map_in_map.o with bpf() recorded (and `refuse` commands failing); counts by command. */
function loadRecorded(refuse: BpfCmd[] = []): {
  c: Collection;
  cmds: BpfCmd[];
  count: (cmd: BpfCmd) => number;
} {
  const rec = recording(refuse);
  try {
    const c = Collection.loadFile(corpusObject('map_in_map'));
    return { c, cmds: rec.cmds, count: (cmd) => rec.cmds.filter((x) => x === cmd).length };
  } finally {
    rec.restore();
  }
}

test('map of maps: static slots go in with one batch update per outer map, last', () => {
  const { c, cmds, count } = loadRecorded();
  try {
    assert.equal(count(BpfCmd.MAP_UPDATE_BATCH), 2);
    assert.equal(count(BpfCmd.MAP_UPDATE_ELEM), 0);
    // The kernel sleeps after each: they come after the program loads, back to back.
    assert.deepEqual(cmds.slice(-2), [BpfCmd.MAP_UPDATE_BATCH, BpfCmd.MAP_UPDATE_BATCH]);
    assert.ok(cmds.includes(BpfCmd.PROG_LOAD));
    const s = slots(c);
    assert.deepEqual(s.array, [
      [0, s.a],
      [1, s.b],
    ]);
    assert.deepEqual(
      (s.hash as [number, number][]).sort((x, y) => x[0] - y[0]),
      [
        [0, s.b],
        [1, s.a],
      ],
    );
  } finally {
    c.close();
  }
});

test('map of maps: a kernel refusing the batch gets the slots one by one', () => {
  const { c, count } = loadRecorded([BpfCmd.MAP_UPDATE_BATCH]);
  try {
    // Refused once, not asked again for the second outer map.
    assert.equal(count(BpfCmd.MAP_UPDATE_BATCH), 1);
    assert.equal(count(BpfCmd.MAP_UPDATE_ELEM), 4);
    const s = slots(c);
    assert.deepEqual(s.array, [
      [0, s.a],
      [1, s.b],
    ]);
  } finally {
    c.close();
  }
});
