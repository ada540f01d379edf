import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FakeSys, SysError, errnoValue, isErrno, setSys } from '../../../src/sys/index.js';
import { CLONE_NEWNET, openNetnsFd, withNetns } from '../../../src/net/netns.js';

/** Records setns calls; fails the ones whose fd is in `refuse`. */
class NsFake extends FakeSys {
  readonly setnsCalls: Array<[number, number]> = [];
  readonly refuse = new Set<number>();
  override setns(...args: number[]): void {
    const [fd, type] = args as [number, number];
    this.setnsCalls.push([fd, type]);
    if (this.refuse.has(fd)) throw new SysError('setns', errnoValue('EINVAL'));
  }
}

describe('withNetns (fake setns)', () => {
  let fake: NsFake;
  let restore: () => void;
  beforeEach(() => {
    fake = new NsFake();
    restore = setSys(fake);
  });
  afterEach(() => restore());

  it('enters the target, runs fn, and returns home', () => {
    assert.equal(
      withNetns(4242, () => 'done'),
      'done',
    );
    assert.equal(fake.setnsCalls.length, 2);
    assert.deepEqual(fake.setnsCalls[0], [4242, CLONE_NEWNET]);
    assert.notEqual(fake.setnsCalls[1]![0], 4242, 'second setns goes back to the saved namespace');
  });

  it('returns home when fn throws and rethrows the error', () => {
    assert.throws(
      () =>
        withNetns(4242, () => {
          throw new Error('inner');
        }),
      /inner/,
    );
    assert.equal(fake.setnsCalls.length, 2);
  });

  it('rejects an async fn after returning home', () => {
    assert.throws(() => withNetns(4242, async () => 1), /must be synchronous/);
    assert.equal(fake.setnsCalls.length, 2);
  });

  it('does not run fn when entering fails', () => {
    fake.refuse.add(4242);
    let ran = false;
    assert.throws(
      () =>
        withNetns(4242, () => {
          ran = true;
        }),
      (e: unknown) => isErrno(e, 'EINVAL'),
    );
    assert.equal(ran, false);
    assert.equal(fake.setnsCalls.length, 1);
  });

  it('names a missing namespace with ENOENT', () => {
    assert.throws(
      () => openNetnsFd(`iovt-unit-missing-${process.pid}`),
      (e: unknown) =>
        isErrno(e, 'ENOENT') && /open \/run\/netns\/iovt-unit-missing/.test((e as Error).message),
    );
  });
});
