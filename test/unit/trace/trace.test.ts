/**
 * The tracing library's pure parts: histogram buckets and drawing, address parsing and
 * formatting, symbolization from kallsyms/maps text, syscall names, program rates, packet
 * filters, and the record layouts the decoders assume checked against the objects' BTF.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadCollectionSpec } from '../../../src/bpf/elf/reader.js';
import { BtfKind } from '../../../src/bpf/btf/types.js';
import {
  drawLog2,
  emptyHist,
  filterVariables,
  formatAddr,
  KernelSymbols,
  mergeHist,
  objectPath,
  packetFilterVariables,
  parseAddr,
  parseKallsyms,
  parseMaps,
  progRates,
  slotRange,
  syscallName,
  syscallNumber,
} from '../../../src/trace/index.js';

describe('trace: histograms', () => {
  it('labels slots as bcc does', () => {
    assert.deepEqual(slotRange(0), [0, 1]);
    assert.deepEqual(slotRange(1), [2, 3]);
    assert.deepEqual(slotRange(9), [512, 1023]);
  });
  it('draws up to the last non-empty slot with 40-column bars', () => {
    const h = emptyHist('usecs');
    h.slots[0] = 2;
    h.slots[2] = 4;
    assert.equal(
      drawLog2(h),
      [
        '     usecs               : count    distribution',
        '         0 -> 1          : 2        |********************                    |',
        '         2 -> 3          : 0        |                                        |',
        '         4 -> 7          : 4        |****************************************|',
      ].join('\n'),
    );
    assert.equal(drawLog2(emptyHist('usecs')), '');
    assert.deepEqual(mergeHist(h, h).slots.slice(0, 3), [4, 0, 8]);
  });
});

describe('trace: addresses and filters', () => {
  it('parses and formats IPv4 and IPv6', () => {
    const a = parseAddr('198.18.1.2');
    assert.equal(a.family, 4);
    assert.equal(formatAddr(4, a.bytes), '198.18.1.2');
    const b = parseAddr('2001:db8::1');
    assert.equal(b.family, 6);
    assert.equal(formatAddr(10, b.bytes), '2001:db8::1');
    assert.equal(formatAddr(10, parseAddr('2001:db8:0:1:0:0:0:2').bytes), '2001:db8:0:1::2');
    assert.throws(() => parseAddr('300.1.1.1'), /invalid IPv4/);
    assert.throws(() => parseAddr('nope'), /invalid IP/);
  });
  it('maps common options to .rodata filters and rejects bad ones', () => {
    assert.deepEqual(filterVariables({ pid: 5, comm: 'sh' }), {
      targ_tgid: 5,
      targ_comm: 'sh',
      filter_comm: 1,
    });
    assert.throws(() => filterVariables({ comm: 'x'.repeat(16) }), /longer than 15/);
    assert.throws(() => filterVariables({ pid: -1 }), /invalid pid/);
  });
  it('builds packet filters', () => {
    const v = packetFilterVariables({ host: '198.18.0.1', proto: 'icmp', port: 53 });
    assert.equal(v.filter_host_set, 1);
    assert.equal(v.filter_family, 4);
    assert.equal(v.filter_l4proto, 1);
    assert.equal(v.filter_port, 53);
    assert.throws(() => packetFilterVariables({ proto: 'bogus' }), /unknown protocol/);
    assert.throws(() => packetFilterVariables({ host: '2001:db8::1', family: 4 }), /not IPv4/);
  });
});

describe('trace: symbols and names', () => {
  it('resolves kernel addresses from kallsyms text', () => {
    const k = new KernelSymbols(
      'ffffffff81000000 T _stext\nffffffff81000100 t do_thing\nffffffff81000200 D data_sym\nffffffff81000300 T other\t[mod]\n',
    );
    assert.equal(k.resolve(0xffffffff81000150n), 'do_thing');
    assert.equal(k.resolve(0xffffffff81000250n), 'do_thing', 'data symbols are skipped');
    assert.equal(k.resolve(0xffffffff81000301n, true), 'other+0x1');
    assert.equal(parseKallsyms('0000000000000000 T x\n').length, 1);
    assert.throws(() => new KernelSymbols('0000000000000000 T x\n'), /zero addresses/);
  });
  it('keeps executable file mappings from /proc/PID/maps', () => {
    const m = parseMaps(
      [
        '55d0c0000000-55d0c0001000 r--p 00000000 fe:00 123 /usr/bin/x',
        '55d0c0001000-55d0c0002000 r-xp 00001000 fe:00 123 /usr/bin/x',
        '7ffc00000000-7ffc00001000 r-xp 00000000 00:00 0 [vdso]',
      ].join('\n'),
    );
    assert.deepEqual(
      m.map((x) => [x.path, x.pgoff]),
      [
        ['/usr/bin/x', 0x1000n],
        ['[vdso]', 0n],
      ],
    );
  });
  it('names syscalls', () => {
    if (process.arch !== 'x64') return;
    assert.equal(syscallName(0), 'read');
    assert.equal(syscallName(257), 'openat');
    assert.equal(syscallName(100000), 'syscall_100000');
    assert.equal(syscallNumber('getppid'), 110);
    assert.equal(syscallNumber('syscall_7'), 7);
  });
  it('computes per-second rates between snapshots', () => {
    const a = [{ id: 1, name: 'p', type: 'xdp', runCount: 10n, runTimeNs: 1000n }];
    const b = [
      { id: 1, name: 'p', type: 'xdp', runCount: 30n, runTimeNs: 5000n },
      { id: 2, name: 'q', type: 'xdp', runCount: 4n, runTimeNs: 40n },
    ];
    const r = progRates(a, b, 2);
    assert.deepEqual(
      r.map((x) => [x.id, x.runsPerSec, x.runTimeNsPerSec, x.avgNs]),
      [
        [1, 10, 2000, 200],
        [2, 2, 20, 10],
      ],
    );
  });
});

/** Byte offsets of a struct's members from an object's BTF. */
function layout(tool: string, struct: string): Record<string, number> {
  const spec = loadCollectionSpec(objectPath(tool));
  const btf = spec.btf!;
  const [id] = btf.findByName(struct, BtfKind.Struct);
  assert.ok(id !== undefined, `${tool}: struct ${struct}`);
  const t = btf.type(id);
  assert.ok(t.kind === BtfKind.Struct);
  const out: Record<string, number> = { $size: t.size };
  for (const m of t.members) out[m.name] = m.bitOffset / 8;
  return out;
}

describe('trace: record layouts match the decoders', () => {
  it('objects are built (scripts/build-trace.sh)', () => {
    assert.ok(existsSync(objectPath('execsnoop')));
  });
  const cases: [string, string, Record<string, number>][] = [
    [
      'execsnoop',
      'exec_event',
      { pid: 8, ppid: 16, retval: 24, args_size: 32, truncated: 36, comm: 40, args: 56 },
    ],
    [
      'exitsnoop',
      'exit_event',
      { start_time: 8, exit_time: 16, pid: 24, sig: 36, exit_code: 40, comm: 48, $size: 64 },
    ],
    ['opensnoop', 'open_event', { ret: 20, flags: 24, mode: 32, nr: 40, comm: 48, fname: 64 }],
    [
      'tcpconnect',
      'connect_event',
      {
        latency_ns: 8,
        pid: 16,
        family: 28,
        sport: 30,
        dport: 32,
        newstate: 34,
        saddr: 40,
        daddr: 56,
        comm: 72,
      },
    ],
    [
      'tcpaccept',
      'accept_event',
      { fd: 20, family: 24, lport: 26, rport: 28, laddr: 32, raddr: 48, comm: 64 },
    ],
    [
      'tcplife',
      'life_event',
      {
        span_ns: 8,
        rx_b: 16,
        tx_b: 24,
        pid: 32,
        family: 40,
        sport: 42,
        dport: 44,
        saddr: 48,
        daddr: 64,
        comm: 80,
      },
    ],
    ['runqlat', 'hist', { count: 112, sum: 120, comm: 128, $size: 144 }],
    ['syscount', 'data_t', { count: 0, total_ns: 8, errors: 16, comm: 24 }],
    ['profile', 'key_t', { pid: 0, tid: 4, user_stack_id: 8, kern_stack_id: 12, comm: 16 }],
    [
      'packets',
      'pkt_event',
      {
        skb: 8,
        hook: 24,
        ifindex: 28,
        netns: 32,
        len: 36,
        reason: 40,
        pid: 44,
        cpu: 48,
        mark: 52,
        l3proto: 56,
        l4proto: 58,
        family: 59,
        sport: 60,
        dport: 62,
        saddr: 64,
        daddr: 80,
        icmp_type: 96,
        icmp_seq: 100,
        dev: 104,
        comm: 120,
        $size: 136,
      },
    ],
  ];
  for (const [tool, struct, want] of cases) {
    it(`${tool}: struct ${struct}`, () => {
      const got = layout(tool, struct);
      for (const [k, v] of Object.entries(want)) assert.equal(got[k], v, `${struct}.${k}`);
    });
  }
});
