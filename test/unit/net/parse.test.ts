import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIp, parseIp, parsePrefix } from '../../../src/net/addr.js';
import { formatMac, parseMac } from '../../../src/net/link.js';
import { clsactParent } from '../../../src/net/tc.js';
import { netnsPath } from '../../../src/net/netns.js';

describe('address parsing', () => {
  it('parses IPv4 and IPv6 addresses', () => {
    assert.deepEqual(Array.from(parseIp('198.18.1.10').bytes), [198, 18, 1, 10]);
    assert.equal(parseIp('198.18.1.10').family, 2);
    const v6 = parseIp('2001:db8::1');
    assert.equal(v6.family, 10);
    assert.equal(Buffer.from(v6.bytes).toString('hex'), '20010db8000000000000000000000001');
    assert.equal(Buffer.from(parseIp('::').bytes).toString('hex'), '0'.repeat(32));
    assert.equal(
      Buffer.from(parseIp('::ffff:198.18.0.1').bytes).toString('hex'),
      '00000000000000000000ffffc6120001',
    );
    assert.equal(
      Buffer.from(parseIp('2001:db8:1:2:3:4:5:6').bytes).toString('hex'),
      '20010db8000100020003000400050006',
    );
    assert.throws(() => parseIp('198.18.1'), /invalid IP/);
    assert.throws(() => parseIp('nope'), /invalid IP/);
  });

  it('formats addresses in short form', () => {
    for (const s of [
      '198.18.0.1',
      '2001:db8::1',
      '::',
      '::1',
      'fe80::1:2',
      '2001:db8:0:1::',
      '1:2:3:4:5:6:7:8',
    ]) {
      assert.equal(formatIp(parseIp(s).bytes), s);
    }
    assert.equal(formatIp(parseIp('2001:0db8:0:0:1:0:0:1').bytes), '2001:db8::1:0:0:1');
  });

  it('parses prefixes and rejects bad lengths', () => {
    assert.equal(parsePrefix('198.18.1.10/24').prefixLen, 24);
    assert.equal(parsePrefix('198.18.1.10').prefixLen, 32);
    assert.equal(parsePrefix('2001:db8::/32').prefixLen, 32);
    assert.throws(() => parsePrefix('198.18.1.10/33'), /prefix length/);
    assert.throws(() => parsePrefix('198.18.1.10/'), /prefix length/);
    assert.throws(() => parsePrefix('198.18.1.10/x'), /prefix length/);
  });

  it('parses and formats MAC addresses', () => {
    assert.equal(formatMac(parseMac('02:AB:cd:0:1:ff')), '02:ab:cd:00:01:ff');
    assert.throws(() => parseMac('02:ab:cd'), /invalid MAC/);
  });
});

describe('tc and netns helpers', () => {
  it('computes clsact filter parents', () => {
    assert.equal(clsactParent('ingress'), 0xfffffff2);
    assert.equal(clsactParent('egress'), 0xfffffff3);
  });

  it('maps namespace names to /run/netns and refuses path tricks', () => {
    assert.equal(netnsPath('a'), '/run/netns/a');
    assert.equal(netnsPath('/proc/1/ns/net'), '/proc/1/ns/net');
    assert.throws(() => netnsPath('..'), /invalid namespace name/);
    assert.throws(() => netnsPath(''), /invalid namespace name/);
  });
});
