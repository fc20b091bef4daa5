// known_hosts parsing and matching: plain, hashed, [host]:port, host lists with wildcards and negation, markers, fingerprints.
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  appendKnownHost,
  checkHostKey,
  fingerprintSha256,
  hostFieldMatches,
  hostKeyAlgorithmsFor,
  knownHostsName,
  entriesFor,
  knownKeyTypes,
  parseKnownHosts,
} from '../../../src/ssh/known-hosts.js';

function blob(type: string, fill: number): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  const body = Buffer.alloc(32, fill);
  const blen = Buffer.alloc(4);
  blen.writeUInt32BE(32);
  return Buffer.concat([len, t, blen, body]);
}
const K1 = blob('ssh-ed25519', 1);
const K2 = blob('ssh-ed25519', 2);
const E1 = blob('ecdsa-sha2-nistp256', 3);
const line = (hosts: string, key: Buffer, type = 'ssh-ed25519') => `${hosts} ${type} ${key.toString('base64')}`;
const hashed = (name: string) => {
  const salt = Buffer.alloc(20, 7);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
};

describe('known_hosts', () => {
  it('names a host the way OpenSSH looks it up', () => {
    expect(knownHostsName('Node-1', 22)).toBe('node-1');
    expect(knownHostsName('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
  });

  it('matches plain, hashed, wildcard and negated patterns', () => {
    expect(hostFieldMatches('node-1,10.0.0.1', '10.0.0.1')).toBe(true);
    expect(hostFieldMatches('[10.0.0.1]:2222', '[10.0.0.1]:2222')).toBe(true);
    expect(hostFieldMatches('10.0.0.1', '[10.0.0.1]:2222')).toBe(false);
    expect(hostFieldMatches('10.0.0.*', '10.0.0.7')).toBe(true);
    expect(hostFieldMatches('10.0.0.?', '10.0.0.17')).toBe(false);
    expect(hostFieldMatches('10.0.0.*,!10.0.0.7', '10.0.0.7')).toBe(false);
    expect(hostFieldMatches(hashed('[10.0.0.1]:2222'), '[10.0.0.1]:2222')).toBe(true);
    expect(hostFieldMatches(hashed('10.0.0.1'), '10.0.0.2')).toBe(false);
    expect(hostFieldMatches('NODE-1', 'node-1')).toBe(true);
  });

  it('parses markers and skips comments and malformed lines', () => {
    const entries = parseKnownHosts(['# c', '', line('a', K1), `@cert-authority *.x ${'ssh-ed25519'} ${K2.toString('base64')}`, `@revoked * ssh-ed25519 ${K2.toString('base64')}`, 'garbage', `b ssh-rsa ${K1.toString('base64')}`, '@weird a ssh-ed25519 AAAA'].join('\n'));
    expect(entries.map((e) => [e.line, e.marker, e.hosts])).toEqual([
      [3, undefined, 'a'],
      [4, 'cert-authority', '*.x'],
      [5, 'revoked', '*'],
    ]);
  });

  it('decides known, unknown, changed and revoked', () => {
    const entries = parseKnownHosts([line('a,[b]:2222', K1), line('c', E1, 'ecdsa-sha2-nistp256'), `@cert-authority d ssh-ed25519 ${K2.toString('base64')}`].join('\n'));
    expect(checkHostKey(entries, 'a', 22, K1).status).toBe('known');
    expect(checkHostKey(entries, 'b', 2222, K1).status).toBe('known');
    expect(checkHostKey(entries, 'b', 22, K1)).toEqual({ status: 'unknown', certAuthorityOnly: false });
    expect(checkHostKey(entries, 'a', 22, K2)).toMatchObject({ status: 'changed' });
    // another key type for a host that has a known key is a change too, never "new"
    expect(checkHostKey(entries, 'c', 22, K1)).toMatchObject({ status: 'changed' });
    expect(checkHostKey(entries, 'd', 22, K1)).toEqual({ status: 'unknown', certAuthorityOnly: true });
    const withRevoked = parseKnownHosts([line('a', K1), `@revoked other ssh-ed25519 ${K1.toString('base64')}`].join('\n'));
    expect(checkHostKey(withRevoked, 'a', 22, K1).status).toBe('revoked');
  });

  it('finds the same entries through its name index as a pass over every line, in file order', () => {
    const entries = parseKnownHosts([
      line('10.0.0.*', E1, 'ecdsa-sha2-nistp256'),
      line('a,10.0.0.1', K1),
      line(hashed('10.0.0.1'), K2),
      line('10.0.0.*,!10.0.0.1', K2),
      line('A', K2),
      `@revoked 10.0.0.1 ssh-ed25519 ${K2.toString('base64')}`,
      line('[10.0.0.1]:2222', K1),
    ].join('\n'));
    for (const name of ['10.0.0.1', '10.0.0.2', 'a', '[10.0.0.1]:2222', 'b']) {
      expect(entriesFor(entries, name).map((e) => e.line), name).toEqual(entries.filter((e) => hostFieldMatches(e.hosts, name)).map((e) => e.line));
    }
    expect(entriesFor(entries, '10.0.0.1').map((e) => e.line)).toEqual([1, 2, 3, 6]);
    expect(knownKeyTypes(entries, '10.0.0.1', 22)).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519']);
    expect(checkHostKey(entries, '10.0.0.1', 22, K2).status).toBe('revoked');
  });

  it('prints fingerprints like ssh-keygen -l', () => {
    const fp = fingerprintSha256(K1);
    expect(fp).toBe('SHA256:' + createHash('sha256').update(K1).digest('base64').replace(/=+$/, ''));
    expect(fp).not.toMatch(/=$/);
  });

  it('offers known key types first', () => {
    const entries = parseKnownHosts([line('a', E1, 'ecdsa-sha2-nistp256'), line('a', K1, 'ssh-rsa')].join('\n').replace(K1.toString('base64'), blob('ssh-rsa', 1).toString('base64')));
    expect(knownKeyTypes(entries, 'a', 22)).toEqual(['ecdsa-sha2-nistp256', 'ssh-rsa']);
    expect(hostKeyAlgorithmsFor(['ssh-rsa'], ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'])).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519']);
  });

  it('appends a new entry once, to a file missing its final newline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kh-'));
    try {
      const f = join(dir, 'known_hosts');
      writeFileSync(f, line('x', K2));
      await Promise.all([appendKnownHost(f, '10.0.0.1', 2222, K1), appendKnownHost(f, '10.0.0.1', 2222, K1)]);
      expect(readFileSync(f, 'utf8')).toBe(`${line('x', K2)}\n[10.0.0.1]:2222 ssh-ed25519 ${K1.toString('base64')}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
