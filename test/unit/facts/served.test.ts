// A member serves the certificate on its disk, or it has not restarted since the file changed (src/facts/served.ts), and
// the etcd query's served-leaf section is read back exactly (src/facts/etcd-facts.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { etcdFactsScript, hostPortOf, parseServed } from '../../../src/facts/etcd-facts.js';
import { describeServedMismatch, servedMismatches } from '../../../src/facts/served.js';
import type { FleetFacts, HostFacts } from '../../../src/facts/types.js';
import { makeCa, makeLeaf, read } from '../check/openssl-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'certroll-served-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ca = makeCa(dir, 'ca', 'etcd-ca', 30);
const oldLeaf = read(makeLeaf(dir, 'old', 'etcd', ca, 10, 'DNS:m1').cert);
const newLeaf = read(makeLeaf(dir, 'new', 'etcd', ca, 300, 'DNS:m1,DNS:m2').cert);
const other = read(makeLeaf(dir, 'other', 'etcd-server', ca, 300).cert);

const host = (name: string, cert: string | null) => ({ host: name, pems: { cert } }) as unknown as HostFacts;
function facts(served: Record<string, string | null> | undefined, files: Record<string, string | null>): FleetFacts {
  return {
    gatheredAt: 'now',
    hosts: Object.fromEntries(Object.entries(files).map(([h, c]) => [h, host(h, c)])),
    unreachable: [],
    etcd: { queriedFrom: 'm1', members: [], statuses: [], health: [], memberOfHost: {}, ...(served ? { served } : {}) },
  };
}
const members = [{ host: 'm1', endpoint: 'https://10.0.0.1:2379' }, { host: 'm2', endpoint: 'https://10.0.0.2:2379' }];

describe('served certificates', () => {
  it('a member serving its file is fine; one serving an older version of it has not restarted', () => {
    const f = facts({ 'https://10.0.0.1:2379': newLeaf, 'https://10.0.0.2:2379': oldLeaf }, { m1: newLeaf, m2: newLeaf });
    const m = servedMismatches(members, f);
    expect(m.map((x) => x.host)).toEqual(['m2']);
    expect(describeServedMismatch(m[0]!, 'etcd.pem')).toMatch(/^m2: etcd at https:\/\/10\.0\.0\.2:2379 serves a certificate \(serial [0-9A-F]+, valid to \d{4}-\d\d-\d\d\) other than its etcd\.pem .*has not restarted since the file changed$/);
  });

  it('claims nothing when it cannot know: no openssl, member down, file missing, or another certificate altogether', () => {
    expect(servedMismatches(members, facts(undefined, { m1: newLeaf, m2: newLeaf }))).toEqual([]);
    expect(servedMismatches(members, facts({ 'https://10.0.0.1:2379': null, 'https://10.0.0.2:2379': oldLeaf }, { m1: newLeaf, m2: null }))).toEqual([]);
    // etcd configured with a server certificate the playbook does not manage (another subject): not a renewal left half done.
    expect(servedMismatches(members, facts({ 'https://10.0.0.1:2379': other, 'https://10.0.0.2:2379': 'garbage' }, { m1: newLeaf, m2: newLeaf }))).toEqual([]);
  });

  it('the etcd query prints each endpoint\'s served leaf between markers, and parses back by endpoint', () => {
    const script = etcdFactsScript('etcdctl', 'https://10.0.0.1:2379,https://[fd00::2]:2379', { served: true });
    expect(script).toContain("openssl s_client -connect '10.0.0.1:2379'");
    expect(script).toContain("openssl s_client -connect '[fd00::2]:2379'");
    expect(etcdFactsScript('etcdctl', 'https://10.0.0.1:2379')).not.toContain('s_client');
    const out = `@@end\n@@served-tool openssl\n@@served https://10.0.0.1:2379\n${newLeaf}@@served https://[fd00::2]:2379\n@@served-end\n`;
    expect(parseServed(out)).toEqual({ 'https://10.0.0.1:2379': newLeaf, 'https://[fd00::2]:2379': null });
    expect(parseServed('@@end\n@@served-tool none\n@@served https://10.0.0.1:2379\n@@served-end\n')).toBeUndefined();
  });

  it('only a plain host and port reach the shell', () => {
    expect(hostPortOf('https://10.0.0.1:2379')).toBe('10.0.0.1:2379');
    expect(hostPortOf('https://etcd-1.example:4001')).toBe('etcd-1.example:4001');
    expect(hostPortOf("https://a'b:1")).toBeUndefined();
    expect(hostPortOf('not a url')).toBeUndefined();
  });
});
