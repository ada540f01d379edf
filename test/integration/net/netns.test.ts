import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, readlinkSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import {
  createNetns,
  deleteNetns,
  getSysctl,
  listLinks,
  listNetns,
  netnsExists,
  openNetnsFd,
  setSysctl,
  withNetns,
} from '../../../src/net/index.js';
import { isErrno } from '../../../src/sys/index.js';
import { uniqueNsName } from '../../helpers/netns.js';

const made: string[] = [];
function fresh(): string {
  const n = uniqueNsName();
  made.push(n);
  return n;
}
const here = (): string => readlinkSync('/proc/thread-self/ns/net');

describe('named network namespaces', () => {
  after(() => {
    for (const n of made) if (netnsExists(n)) deleteNetns(n);
    const left = listNetns().filter((n) => made.includes(n));
    assert.deepEqual(left, [], 'every namespace created here is gone');
  });

  it('creates, lists, finds and deletes a namespace like ip netns', () => {
    const home = here();
    const n = fresh();
    createNetns(n);
    assert.equal(here(), home, 'the thread is back in its own namespace');
    assert.ok(netnsExists(n));
    assert.ok(listNetns().includes(n));
    assert.match(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(n));
    // ip sees a fresh namespace: only lo inside.
    const links = execFileSync('ip', ['netns', 'exec', n, 'ip', '-o', 'link'], {
      encoding: 'utf8',
    });
    assert.deepEqual(
      links
        .trim()
        .split('\n')
        .map((l) => l.split(': ')[1]),
      ['lo'],
    );
    assert.deepEqual(
      listLinks({ netns: n }).map((l) => l.name),
      ['lo'],
    );
    deleteNetns(n);
    assert.equal(netnsExists(n), false);
    assert.ok(!listNetns().includes(n));
  });

  it('refuses a duplicate name with EEXIST and a missing one with ENOENT', () => {
    const n = fresh();
    createNetns(n);
    assert.throws(
      () => createNetns(n),
      (e: unknown) => isErrno(e, 'EEXIST'),
    );
    assert.ok(netnsExists(n), 'the failed create did not remove the existing namespace');
    deleteNetns(n);
    assert.throws(
      () => openNetnsFd(n),
      (e: unknown) => isErrno(e, 'ENOENT'),
    );
    assert.throws(
      () => deleteNetns(n),
      (e: unknown) => isErrno(e, 'ENOENT'),
    );
  });

  it('withNetns runs inside and always comes back, even when fn throws', () => {
    const home = here();
    const n = fresh();
    createNetns(n);
    const fd = openNetnsFd(n);
    try {
      const inside = withNetns(n, () => here());
      assert.notEqual(inside, home);
      assert.equal(
        withNetns(fd, () => here()),
        inside,
        'an fd works like the name',
      );
      assert.throws(
        () =>
          withNetns(n, () => {
            throw new Error('boom');
          }),
        /boom/,
      );
      assert.equal(here(), home);
      // Nested use returns to the outer namespace, then home.
      const m = fresh();
      createNetns(m);
      try {
        withNetns(n, () => {
          assert.notEqual(
            withNetns(m, () => here()),
            inside,
          );
          assert.equal(here(), inside);
        });
      } finally {
        deleteNetns(m);
      }
      assert.equal(here(), home);
      assert.throws(() => withNetns(n, async () => 1), /must be synchronous/);
      assert.equal(here(), home);
    } finally {
      closeSync(fd);
      deleteNetns(n);
    }
  });

  it('sets namespace-scoped sysctls without touching ours', () => {
    const n = fresh();
    createNetns(n);
    try {
      const ours = getSysctl('net.ipv4.ip_forward');
      setSysctl('net.ipv4.ip_forward', 1, { netns: n });
      assert.equal(getSysctl('net.ipv4.ip_forward', { netns: n }), '1');
      assert.equal(getSysctl('net.ipv4.ip_forward'), ours);
      const seen = execFileSync(
        'ip',
        ['netns', 'exec', n, 'cat', '/proc/sys/net/ipv4/ip_forward'],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(seen.trim(), '1');
      setSysctl('net/ipv4/ip_forward', 0, { netns: n });
      assert.equal(getSysctl('net.ipv4.ip_forward', { netns: n }), '0');
    } finally {
      deleteNetns(n);
    }
  });
});
