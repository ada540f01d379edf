import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  icmpEchoPacket,
  readCapture,
  tcpPacket,
  testProgramOnPackets,
  udpPacket,
  writeCapture,
  type Packet,
} from '../../../src/toolchain/index.js';
import { corpusObject } from '../../helpers/corpus.js';
import { iovisor, iovisorJSON } from '../../helpers/cli.js';

// tc.o's tc_drop_udp drops IPv4 UDP to port 9 (TC_ACT_SHOT) and passes everything else
// (TC_ACT_OK); globals.o's xdp_globals returns its .rodata xdp_verdict. tshark must be installed.

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `harness-${process.pid}-`));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const t0 = 1_700_000_000_000_000_000n;
const packets: Packet[] = [
  udpPacket({ dport: 9, payload: 'discard me' }),
  udpPacket({ dport: 7, payload: 'echo' }),
  tcpPacket({ dport: 9 }),
  udpPacket({ dport: 9, sport: 1234 }),
  icmpEchoPacket({}),
  udpPacket({ src: '2001:db8::1', dst: '2001:db8::2', dport: 9 }),
].map((data, i) => ({ data, timestampNs: t0 + BigInt(i) * 1_000_000n }));
const input = path.join(tmp, 'in.pcap');
writeCapture(input, packets);

function tshark(file: string): string[] {
  return execFileSync(
    'tshark',
    [
      '-r',
      file,
      '-T',
      'fields',
      '-e',
      'frame.protocols',
      '-e',
      'udp.dstport',
      '-e',
      'frame.comment',
    ],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
    .trim()
    .split('\n');
}

test('tc_drop_udp over a capture: verdict counts and the passed packets', () => {
  const out = path.join(tmp, 'out.pcap');
  const r = testProgramOnPackets({
    object: corpusObject('tc'),
    program: 'tc_drop_udp',
    pcap: input,
    out,
  });
  assert.equal(r.packets, 6);
  assert.equal(r.programType, 'SchedCls');
  assert.deepEqual(r.verdicts, { TC_ACT_SHOT: 2, TC_ACT_OK: 4 });
  assert.deepEqual(
    r.results.map((x) => x.verdict),
    ['TC_ACT_SHOT', 'TC_ACT_OK', 'TC_ACT_OK', 'TC_ACT_SHOT', 'TC_ACT_OK', 'TC_ACT_OK'],
  );
  assert.equal(r.written, 4);
  const back = readCapture(out).packets;
  assert.deepEqual(
    back.map((p) => p.data),
    [1, 2, 4, 5].map((i) => packets[i]!.data),
  );
  const lines = tshark(out);
  assert.equal(lines.length, 4, lines.join('\n'));
  assert.match(lines[0]!, /eth:ethertype:ip:udp.*\t7\b/);
  assert.match(lines[1]!, /eth:ethertype:ip:tcp/);
  assert.match(lines[2]!, /icmp/);
  assert.match(lines[3]!, /ipv6:udp.*\t9\b/);
});

test('a .rodata setting changes the verdicts (drop port 7)', () => {
  const r = testProgramOnPackets({
    object: corpusObject('tc'),
    program: 'tc_drop_udp',
    packets: packets.map((p) => p.data),
    variables: { drop_udp_port: 7 },
  });
  assert.deepEqual(r.verdicts, { TC_ACT_OK: 5, TC_ACT_SHOT: 1 });
});

test('iovisor test on an XDP program: named XDP verdicts, pcapng with comments for tshark', () => {
  const out = path.join(tmp, 'xdp.pcapng');
  const j = iovisorJSON<{ verdicts: Record<string, number>; written: number }>(
    'test',
    corpusObject('globals'),
    '--prog',
    'xdp_globals',
    '--pcap',
    input,
    '--out',
    out,
    '--set',
    'xdp_verdict=1',
    '--keep-dropped',
  );
  assert.deepEqual(j.verdicts, { XDP_DROP: 6 });
  assert.equal(j.written, 6);
  const lines = tshark(out);
  assert.equal(lines.length, 6);
  for (const l of lines) assert.match(l, /xdp_globals: XDP_DROP/);

  const text = iovisor('test', corpusObject('tc'), '--prog', 'tc_drop_udp', '--pcap', input);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /tc_drop_udp \(SchedCls\) on 6 packets/);
  assert.match(text.stdout, /TC_ACT_SHOT\s+2/);
  assert.match(text.stdout, /TC_ACT_OK\s+4/);

  const bad = iovisor('test', corpusObject('tc'), '--prog', 'nope', '--pcap', input);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /has no program nope \(have: /);
  const usage = iovisor('test', corpusObject('tc'), '--pcap', input);
  assert.equal(usage.status, 2);
});
