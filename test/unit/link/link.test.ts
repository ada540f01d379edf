import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeSys, setSys, SysError } from '../../../src/sys/index.js';
import {
  anchorFlags,
  attachError,
  ifTarget,
  Link,
  MPROG_FLAGS,
  elfFunctionSymbols,
} from '../../../src/bpf/link/index.js';
import { BpfCmd } from '../../../src/sys/index.js';

describe('link helpers (no root)', () => {
  it('encodes tcx anchors as mprog flags', () => {
    assert.deepEqual(anchorFlags(undefined), { flags: 0, relative: 0 });
    assert.deepEqual(anchorFlags({ kind: 'head' }), { flags: MPROG_FLAGS.BEFORE, relative: 0 });
    assert.deepEqual(anchorFlags({ kind: 'tail' }), { flags: MPROG_FLAGS.AFTER, relative: 0 });
    assert.deepEqual(anchorFlags({ kind: 'after', programId: 7 }), {
      flags: MPROG_FLAGS.AFTER | MPROG_FLAGS.ID,
      relative: 7,
    });
    assert.deepEqual(anchorFlags({ kind: 'before', linkId: 9 }), {
      flags: MPROG_FLAGS.BEFORE | MPROG_FLAGS.ID | MPROG_FLAGS.LINK,
      relative: 9,
    });
  });

  it('names the hook, the target and the kernel reason', () => {
    const e = attachError(
      'tcx ingress',
      ifTarget(7, 'veth0'),
      new SysError('bpf(BPF_LINK_CREATE)', 19),
    );
    assert.equal(e.message, 'attach tcx ingress to ifindex 7 (veth0): ENODEV: no such device');
    assert.equal((e as { code?: string }).code, 'ENODEV');
  });

  it('reads link info and detaches through the sys seam', () => {
    const fake = new FakeSys();
    const restore = setSys(fake);
    try {
      fake.handlers.set(BpfCmd.OBJ_GET_INFO_BY_FD, (attr) => {
        const info = fake.deref(attr.getBigUint64(8, true), 64);
        const dv = new DataView(info.buffer, info.byteOffset, 64);
        dv.setUint32(0, 6, true); // xdp
        dv.setUint32(4, 42, true);
        dv.setUint32(8, 1001, true);
        dv.setUint32(16, 3, true);
        return 0;
      });
      let detached = -1;
      fake.handlers.set(BpfCmd.LINK_DETACH, (attr) => {
        detached = attr.getUint32(0, true);
        return 0;
      });
      const fd = fake.allocFd();
      const l = new Link(fd, 'xdp');
      assert.deepEqual(l.info(), {
        id: 42,
        type: 6,
        typeName: 'xdp',
        progId: 1001,
        details: { ifindex: 3 },
      });
      l.detach();
      assert.equal(detached, fd);
      l.close();
      assert.equal(fake.openFds.has(fd), false);
    } finally {
      restore();
    }
  });

  it('finds function symbols and their file offsets in an ELF binary', () => {
    const syms = elfFunctionSymbols(process.execPath);
    const any = syms.get('main') ?? [...syms.values()][0];
    assert.ok(any, 'node has function symbols');
    assert.ok(any.offset >= 0);
  });
});
