import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  encodePcap,
  encodePcapng,
  inetChecksum,
  parseCapture,
  PcapError,
  readCapture,
  tcpPacket,
  udpPacket,
  icmpEchoPacket,
  writeCapture,
  type Packet,
} from '../../../src/toolchain/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `pcap-${process.pid}-`));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const packets: Packet[] = [
  { data: udpPacket({ dport: 53, payload: 'query' }), timestampNs: 1_700_000_000_123_456_000n },
  { data: tcpPacket({ dport: 443 }), timestampNs: 1_700_000_001_000_001_000n },
  { data: icmpEchoPacket({}), timestampNs: 1_700_000_002_000_000_000n },
  {
    data: udpPacket({ src: '2001:db8::1', dst: '2001:db8::2', dport: 9 }),
    timestampNs: 1_700_000_003_000_000_000n,
  },
];

test('pcap round trip keeps bytes and microsecond timestamps', () => {
  const back = parseCapture(encodePcap(packets));
  assert.equal(back.format, 'pcap');
  assert.equal(back.packets.length, packets.length);
  back.packets.forEach((p, i) => {
    assert.deepEqual(p.data, packets[i]!.data);
    assert.equal(p.timestampNs, packets[i]!.timestampNs);
    assert.equal(p.linkType, 1);
  });
});

test('pcapng round trip keeps bytes, nanosecond timestamps and comments', () => {
  const withComments = packets.map((p, i) => ({ ...p, comment: `packet ${i}` }));
  const back = parseCapture(encodePcapng(withComments));
  assert.equal(back.format, 'pcapng');
  back.packets.forEach((p, i) => {
    assert.deepEqual(p.data, packets[i]!.data);
    assert.equal(p.timestampNs, packets[i]!.timestampNs);
    assert.equal(p.comment, `packet ${i}`);
  });
});

test('big-endian nanosecond pcap is read', () => {
  const le = encodePcap(packets.slice(0, 1));
  const be = new Uint8Array(le.byteLength);
  const s = new DataView(le.buffer);
  const d = new DataView(be.buffer);
  d.setUint32(0, 0xa1b23c4d);
  d.setUint16(4, 2);
  d.setUint16(6, 4);
  d.setUint32(16, s.getUint32(16, true));
  d.setUint32(20, 1);
  d.setUint32(24, s.getUint32(24, true));
  d.setUint32(28, 5);
  d.setUint32(32, s.getUint32(32, true));
  d.setUint32(36, s.getUint32(36, true));
  be.set(le.subarray(40), 40);
  const p = parseCapture(be).packets[0]!;
  assert.deepEqual(p.data, packets[0]!.data);
  assert.equal(p.timestampNs, BigInt(s.getUint32(24, true)) * 1_000_000_000n + 5n);
});

test('malformed captures give errors with offsets', () => {
  assert.throws(() => parseCapture(new Uint8Array(3)), PcapError);
  assert.throws(() => parseCapture(new Uint8Array(24)), /bad magic/);
  const cut = encodePcap(packets).subarray(0, 60);
  assert.throws(() => parseCapture(cut), /offset 24: record of \d+ bytes runs past the end/);
  const ng = encodePcapng(packets);
  const bad = ng.slice();
  new DataView(bad.buffer).setUint32(4, 13, true);
  assert.throws(() => parseCapture(bad), /offset 0: bad block length 13/);
});

test('checksums of generated packets verify to zero', () => {
  const p = udpPacket({ dport: 9 });
  assert.equal(inetChecksum(p.subarray(14, 34)), 0);
});

test('tshark reads what the writers write and dissects the packets', () => {
  for (const file of ['a.pcap', 'a.pcapng']) {
    const f = path.join(tmp, file);
    writeCapture(f, packets);
    assert.equal(readCapture(f).packets.length, packets.length);
    const out = execFileSync(
      'tshark',
      [
        '-r',
        f,
        '-o',
        'udp.check_checksum:TRUE',
        '-o',
        'tcp.check_checksum:TRUE',
        '-T',
        'fields',
        '-e',
        'frame.protocols',
        '-e',
        '_ws.expert.message',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines = out.trim().split('\n');
    assert.equal(lines.length, packets.length, out);
    assert.match(lines[0]!, /eth:ethertype:ip:udp/);
    assert.match(lines[1]!, /eth:ethertype:ip:tcp/);
    assert.match(lines[2]!, /eth:ethertype:ip:icmp/);
    assert.match(lines[3]!, /eth:ethertype:ipv6:udp/);
    assert.doesNotMatch(out, /[Bb]ad checksum|incorrect/, out);
  }
});
