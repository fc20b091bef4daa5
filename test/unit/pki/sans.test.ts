// The SAN set rules: normalisation (DNS case, IPv4/IPv6 spellings), union, diff and the etcd SAN rule.
import { describe, expect, it } from 'vitest';
import {
  etcdLeafSans,
  formatSan,
  missingSans,
  normaliseIp,
  parseSan,
  requiredEtcdSans,
  sanDiff,
  SanSyntaxError,
  unionSans,
} from '../../../src/pki/sans.js';

describe('SAN normalisation', () => {
  it('reads openssl, cfssl and bare spellings', () => {
    expect(parseSan('DNS:Etcd-1.Example.COM.')).toEqual({ type: 'dns', value: 'etcd-1.example.com' });
    expect(parseSan('IP Address:10.0.0.1')).toEqual({ type: 'ip', value: '10.0.0.1' });
    expect(parseSan('IP:10.0.0.1')).toEqual({ type: 'ip', value: '10.0.0.1' });
    expect(parseSan('127.0.0.1')).toEqual({ type: 'ip', value: '127.0.0.1' });
    expect(parseSan('jiujiu-tdh-10')).toEqual({ type: 'dns', value: 'jiujiu-tdh-10' });
    expect(parseSan('*.svc.cluster.local')).toEqual({ type: 'dns', value: '*.svc.cluster.local' });
  });

  it('writes IPv6 in one canonical form whatever the spelling', () => {
    expect(normaliseIp('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(normaliseIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(normaliseIp('2001:0db8:0000:0000:0001:0000:0000:0001')).toBe('2001:db8::1:0:0:1');
    expect(normaliseIp('fe80:0:0:1::')).toBe('fe80:0:0:1::');
    expect(normaliseIp('[::1]')).toBe('::1');
    expect(normaliseIp('::ffff:10.1.2.3')).toBe('::ffff:10.1.2.3');
    expect(normaliseIp('::FFFF:0a01:0203')).toBe('::ffff:10.1.2.3');
    expect(normaliseIp('1:0:0:2:0:0:0:3')).toBe('1:0:0:2::3');
    expect(normaliseIp('not-an-ip')).toBeUndefined();
  });

  it('refuses names that are not DNS names or IPs', () => {
    expect(() => parseSan('IP:10.0.0.256')).toThrow(SanSyntaxError);
    expect(() => parseSan('DNS:bad_name-.x')).toThrow(/not a valid DNS label/);
    expect(() => parseSan('DNS:')).toThrow(SanSyntaxError);
    expect(() => parseSan('has space')).toThrow(SanSyntaxError);
  });
});

describe('SAN sets', () => {
  it('union keeps order and drops duplicates across spellings', () => {
    const u = unionSans(['DNS:M1', 'IP:::1'], ['m1', 'IP Address:0:0:0:0:0:0:0:1', '10.0.0.1']);
    expect(u.map(formatSan)).toEqual(['DNS:m1', 'IP:::1', 'IP:10.0.0.1']);
  });

  it('a DNS name and an IP with the same text are different SANs', () => {
    expect(unionSans([{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }])).toHaveLength(2);
  });

  it('diff reports added and removed, not respellings', () => {
    const d = sanDiff(['DNS:a', 'DNS:B', 'IP:2001:db8::1'], ['dns:b', 'IP:2001:DB8:0::1', 'DNS:c']);
    expect(d.added.map(formatSan)).toEqual(['DNS:c']);
    expect(d.removed.map(formatSan)).toEqual(['DNS:a']);
    expect(d.kept.map(formatSan)).toEqual(['DNS:b', 'IP:2001:db8::1']);
  });

  it('missingSans lists what a certificate lacks', () => {
    expect(missingSans(['IP:127.0.0.1', 'DNS:x'], ['DNS:X']).map(formatSan)).toEqual(['IP:127.0.0.1']);
  });
});

describe('etcd SAN rule', () => {
  const members = [
    { hostname: 'tos-1', ip: '10.1.0.1' },
    { hostname: 'tos-2', ip: '10.1.0.2' },
    { hostname: 'TOS-3' },
  ];

  it('is old SANs ∪ members ∪ 127.0.0.1 ∪ service IP ∪ extra SANs', () => {
    const sans = etcdLeafSans({
      oldSans: ['DNS:old-name', 'IP:10.1.0.1'],
      members,
      serviceIp: '10.10.10.1',
      extraSans: ['etcd.example.com', 'IP:fd00::0:1'],
    });
    expect(sans.map(formatSan)).toEqual([
      'DNS:old-name',
      'IP:10.1.0.1',
      'DNS:tos-1',
      'DNS:tos-2',
      'IP:10.1.0.2',
      'DNS:tos-3',
      'IP:127.0.0.1',
      'IP:10.10.10.1',
      'DNS:etcd.example.com',
      'IP:fd00::1',
    ]);
  });

  it('required SANs do not include the old ones', () => {
    expect(requiredEtcdSans({ members: members.slice(0, 1) }).map(formatSan)).toEqual(['DNS:tos-1', 'IP:10.1.0.1', 'IP:127.0.0.1']);
  });
});
