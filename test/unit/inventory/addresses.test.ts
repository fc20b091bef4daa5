// Inventory addresses: normalised before the duplicate check, unusable ones (unspecified, broadcast, multicast) refused,
// and whatever was typed echoed at a sane length.
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../../src/inventory/load.js';
import { formatInputIssue, InputError } from '../../../src/errors.js';
import { addressKey, normalizeIp, unusableIpReason } from '../../../src/yaml/validate.js';

function issues(text: string): string[] {
  try {
    parseInventory(text, 'inv.yaml', { home: '/h' });
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as InputError).issues.map(formatInputIssue);
  }
  return [];
}
const inv = (a: string, b: string, extra = '') => `hosts:\n  a: { address: "${a}" }\n  b: { address: "${b}" }\n${extra}groups:\n  master: [a, b]\n`;

describe('address normalisation', () => {
  it('one spelling per address', () => {
    expect(normalizeIp('::1')).toBe('0:0:0:0:0:0:0:1');
    expect(normalizeIp('0:0:0:0:0:0:0:1')).toBe('0:0:0:0:0:0:0:1');
    expect(normalizeIp('0000:0000::0001')).toBe('0:0:0:0:0:0:0:1');
    expect(normalizeIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeIp('::FFFF:7f00:1')).toBe('127.0.0.1');
    expect(normalizeIp('FE80::1%eth0')).toBe('fe80:0:0:0:0:0:0:1');
    expect(normalizeIp('2001:db8::')).toBe('2001:db8:0:0:0:0:0:0');
    expect(normalizeIp('10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeIp('tos-1')).toBeUndefined();
    expect(addressKey('TOS-1.Example.')).toBe('tos-1.example');
  });

  it('two spellings of one address (or name) are one host: refused as a duplicate', () => {
    for (const [a, b] of [['::1', '0:0:0:0:0:0:0:1'], ['::ffff:127.0.0.1', '127.0.0.1'], ['tos.example', 'TOS.example.'], ['fe80::1', 'FE80:0::0:1']])
      expect(issues(inv(a, b)), `${a} / ${b}`).toEqual([expect.stringMatching(new RegExp(`^hosts\\.b\\.address: .* port 22 is also host "a" \\(line 2\\); each host must be a different machine \\(inv\\.yaml:3:`))]);
    expect(issues(inv('::1', '::2'))).toEqual([]);
    // Different ports are different sshds.
    expect(issues(inv('::1', '0::1').replace('"0::1" }', '"0::1", ssh: { port: 2222 } }'))).toEqual([]);
  });

  it('unspecified, broadcast and multicast addresses are refused wherever an address goes', () => {
    const bad: Array<[string, RegExp]> = [
      ['0.0.0.0', /unspecified/],
      ['0.1.2.3', /unspecified/],
      ['::', /unspecified address \(::\)/],
      ['::ffff:0.0.0.0', /unspecified/],
      ['255.255.255.255', /broadcast/],
      ['224.0.0.1', /multicast/],
      ['239.255.255.250', /multicast/],
      ['ff02::1', /multicast address \(ff00::\/8\)/],
    ];
    for (const [a, re] of bad) {
      expect(unusableIpReason(a), a).toMatch(re);
      expect(issues(inv(a, '10.0.0.2'))).toEqual([expect.stringMatching(new RegExp(`^hosts\\.a\\.address: expected the address of a host, got "${a.replace(/\./g, '\\.')}": .*\\(inv\\.yaml:2:`))]);
      expect(issues(inv('10.0.0.1', '10.0.0.2', `vars: { serviceIp: "${a}" }\n`))[0]).toMatch(/^vars\.serviceIp: expected the address of a host/);
      expect(issues(inv('10.0.0.1', '10.0.0.2', `vars: { extraSans: ["${a}"] }\n`))[0]).toMatch(/^vars\.extraSans\[0\]: expected an address a certificate can name/);
      expect(issues(inv('10.0.0.1', '10.0.0.2').replace('address: "10.0.0.2"', `address: "10.0.0.2", ip: "${a}"`))[0]).toMatch(/^hosts\.b\.ip: expected the address of a host/);
    }
    for (const ok of ['10.0.0.1', '127.0.0.1', '::1', '223.255.255.255', '240.0.0.1', 'fe80::1', '2001:db8::1']) expect(unusableIpReason(ok), ok).toBeUndefined();
  });

  it('echoed values are cut to 80 characters with an ellipsis', () => {
    const long = 'x'.repeat(5000);
    for (const text of [inv(`${long};`, '10.0.0.2'), `hosts:\n  a: { address: 10.0.0.1, ${long}: 1 }\ngroups:\n  master: [a]\n`, `hosts:\n  "${long}!": { address: 10.0.0.1 }\ngroups:\n  master: [a]\n`]) {
      const got = issues(text);
      expect(got.length).toBeGreaterThan(0);
      expect(got.some((line) => line.includes('x'.repeat(80) + '…'))).toBe(true);
      for (const line of got) {
        expect(line.length, line.slice(0, 200)).toBeLessThan(600);
        expect(line).not.toContain('x'.repeat(81));
      }
    }
  });
});
