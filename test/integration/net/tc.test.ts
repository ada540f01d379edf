import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import {
  addClsactQdisc,
  attachTcBpf,
  attachXdpNetlink,
  deleteClsactQdisc,
  detachTcBpf,
  detachXdpNetlink,
  listTcBpf,
  xdpInfo,
} from '../../../src/net/index.js';
import { isErrno, sys } from '../../../src/sys/index.js';
import { withTopology, type TestNet } from '../../helpers/netns.js';
import {
  PROG_TYPE_SCHED_CLS,
  PROG_TYPE_XDP,
  TC_ACT_OK,
  TC_ACT_SHOT,
  XDP_DROP,
  XDP_PASS,
  loadReturnProgram,
  progId,
} from './progs.js';

const tcIn = (ns: string, ...args: string[]): string =>
  execFileSync('ip', ['netns', 'exec', ns, 'tc', ...args], { encoding: 'utf8' });

const pair = { hosts: ['a', 'b'], links: [{ a: 'a', b: 'b' }], staticNeighbors: true };

/** Sends 5 datagrams a → b and returns how many arrived (the sender waits for each send). */
async function udpThrough(net: TestNet): Promise<number> {
  const [l] = net.links;
  const rx = await net.udpListen('b', { addr: l!.b.ip4 });
  await net.udpSend('a', l!.b.ip4, rx.port, 5);
  // A ping after the datagrams: once it is answered, anything not dropped has been delivered.
  await net.ping('a', l!.b.ip4);
  return (await rx.stop()).count;
}

describe('TC over netlink', () => {
  it('adds the clsact qdisc idempotently and deletes it', async () => {
    await withTopology(pair, (net) => {
      const a = net.ns('a');
      const ifname = net.links[0]!.a.ifname;
      assert.equal(addClsactQdisc(ifname, { netns: a }), true);
      assert.equal(addClsactQdisc(ifname, { netns: a }), false, 'second add is a no-op');
      assert.match(tcIn(a, 'qdisc', 'show', 'dev', ifname), /qdisc clsact ffff: parent ffff:fff1/);
      assert.equal(deleteClsactQdisc(ifname, { netns: a }), true);
      assert.equal(deleteClsactQdisc(ifname, { netns: a }), false);
      assert.doesNotMatch(tcIn(a, 'qdisc', 'show', 'dev', ifname), /clsact/);
    });
  });

  it('attaches, lists and detaches cls_bpf direct-action filters', async () => {
    const ok = loadReturnProgram(PROG_TYPE_SCHED_CLS, TC_ACT_OK, 'iovt_tc_ok');
    const shot = loadReturnProgram(PROG_TYPE_SCHED_CLS, TC_ACT_SHOT, 'iovt_tc_shot');
    try {
      await withTopology(pair, async (net) => {
        const b = net.ns('b');
        const ifname = net.links[0]!.b.ifname;
        addClsactQdisc(ifname, { netns: b });
        assert.deepEqual(listTcBpf(ifname, 'ingress', { netns: b }), []);

        attachTcBpf(ifname, 'egress', ok, { name: 'ok_egress', netns: b });
        attachTcBpf(ifname, 'ingress', ok, {
          name: 'ok_ingress',
          priority: 5,
          handle: 7,
          netns: b,
        });
        const ing = listTcBpf(ifname, 'ingress', { netns: b });
        assert.deepEqual(
          ing.map((f) => [f.name, f.priority, f.handle, f.progId, f.directAction]),
          [['ok_ingress', 5, 7, progId(ok), true]],
        );
        assert.equal(listTcBpf(ifname, 'egress', { netns: b })[0]?.name, 'ok_egress');
        assert.match(
          tcIn(b, 'filter', 'show', 'dev', ifname, 'ingress'),
          /pref 5 bpf .*handle 0x7 ok_ingress direct-action/,
        );
        assert.equal(await udpThrough(net), 5, 'TC_ACT_OK lets traffic through');

        assert.throws(
          () => attachTcBpf(ifname, 'ingress', shot, { priority: 5, handle: 7, netns: b }),
          (e: unknown) => isErrno(e, 'EEXIST'),
        );
        attachTcBpf(ifname, 'ingress', shot, {
          name: 'shot',
          priority: 5,
          handle: 7,
          replace: true,
          netns: b,
        });
        assert.equal(listTcBpf(ifname, 'ingress', { netns: b })[0]?.progId, progId(shot));
        assert.equal(await udpThrough(net), 0, 'TC_ACT_SHOT drops on ingress');

        detachTcBpf(ifname, 'ingress', { priority: 5, handle: 7, netns: b });
        assert.deepEqual(listTcBpf(ifname, 'ingress', { netns: b }), []);
        assert.equal(await udpThrough(net), 5);
        detachTcBpf(ifname, 'egress', { netns: b });
        assert.deepEqual(listTcBpf(ifname, 'egress', { netns: b }), []);
        deleteClsactQdisc(ifname, { netns: b });
      });
    } finally {
      sys().close(ok);
      sys().close(shot);
    }
  });
});

describe('XDP over netlink', () => {
  for (const mode of ['generic', 'driver'] as const) {
    it(`attaches in ${mode} mode, reports it, replaces atomically and detaches`, async () => {
      const pass = loadReturnProgram(PROG_TYPE_XDP, XDP_PASS, 'iovt_xdp_pass');
      const drop = loadReturnProgram(PROG_TYPE_XDP, XDP_DROP, 'iovt_xdp_drop');
      try {
        await withTopology(pair, async (net) => {
          const b = net.ns('b');
          const ifname = net.links[0]!.b.ifname;
          assert.deepEqual(xdpInfo(ifname, { netns: b }), { mode: 'none', ids: {} });

          attachXdpNetlink(ifname, pass, { mode, netns: b });
          const info = xdpInfo(ifname, { netns: b });
          assert.equal(info.mode, mode);
          assert.equal(info.progId, progId(pass));
          assert.equal(info.ids[mode], progId(pass));
          const shown = execFileSync('ip', ['netns', 'exec', b, 'ip', 'link', 'show', ifname], {
            encoding: 'utf8',
          });
          assert.match(shown, mode === 'generic' ? /xdpgeneric/ : /xdp[^g]/);
          assert.equal(await udpThrough(net), 5);

          assert.throws(
            () => attachXdpNetlink(ifname, drop, { mode, netns: b }),
            (e: unknown) => isErrno(e, 'EBUSY', 'EEXIST'),
            'no silent replacement by default',
          );
          assert.throws(
            () => attachXdpNetlink(ifname, drop, { mode, netns: b, replaceFd: drop }),
            (e: unknown) => isErrno(e, 'EEXIST'),
            'replaceFd must match the attached program',
          );
          attachXdpNetlink(ifname, drop, { mode, netns: b, replaceFd: pass });
          assert.equal(xdpInfo(ifname, { netns: b }).progId, progId(drop));
          assert.equal(await udpThrough(net), 0, 'XDP_DROP drops');

          detachXdpNetlink(ifname, { netns: b });
          assert.equal(xdpInfo(ifname, { netns: b }).mode, 'none');
          assert.equal(await udpThrough(net), 5);
        });
      } finally {
        sys().close(pass);
        sys().close(drop);
      }
    });
  }
});
