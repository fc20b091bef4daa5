// checkRenewal: the findings the plan prints before anything is distributed (trust both ways, key match, SAN diff, expiry, lifetimes).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRenewal, etcdLeafSans, issueLeaf, parseCertificates, renewCa, requiredEtcdSans, verifyIssuedBy, type Finding } from '../../../src/pki/index.js';
import { Workdir } from './fixtures.js';

let w: Workdir;
let newCa: string;
let newLeaf: Awaited<ReturnType<typeof issueLeaf>>;
const members = [
  { hostname: 'm1', ip: '127.0.77.1' },
  { hostname: 'm2', ip: '127.0.77.2' },
  { hostname: 'm3', ip: '127.0.77.3' },
];

beforeAll(async () => {
  w = new Workdir();
  w.cfsslCa('ca');
  w.cfsslLeaf('leaf', 'ca', ['m1', 'm2', '127.0.0.1', '127.0.77.1', '127.0.77.2', 'old-alias'], { expiry: '8760h' });
  w.cfsslCa('other');
  w.cfsslLeaf('foreign', 'other', ['m1']);
  // One "now" for both, as makeMaterial does: issued a second apart, the leaf would outlive the CA by that second.
  const now = new Date();
  newCa = renewCa({ caCertPem: w.read('ca.pem'), caKeyPem: w.secret('ca-key.pem'), now }).certPem;
  const old = parseCertificates(w.read('leaf.pem'))[0]!;
  newLeaf = await issueLeaf({
    caCertPem: newCa,
    caKeyPem: w.secret('ca-key.pem'),
    template: w.read('leaf.pem'),
    sans: etcdLeafSans({ oldSans: old.sans, members, serviceIp: '10.10.10.1' }),
    now,
  });
});
afterAll(() => w.remove());

const codes = (f: Finding[], level?: Finding['level']) => f.filter((x) => !level || x.level === level).map((x) => x.code);

function base() {
  return {
    oldCaPem: w.read('ca.pem'),
    newCaPem: newCa,
    oldLeafPem: w.read('leaf.pem'),
    newLeafPem: newLeaf.certPem,
    newLeafKeyPem: newLeaf.keyPem,
    requiredSans: requiredEtcdSans({ members, serviceIp: '10.10.10.1' }),
  };
}

describe('checkRenewal', () => {
  it('a good renewal has no error or warning, and lists the SANs added', () => {
    const f = checkRenewal(base());
    expect(codes(f, 'error')).toEqual([]);
    expect(codes(f, 'warning')).toEqual([]);
    expect(f).toContainEqual({ level: 'info', code: 'mixed-trust-ok', message: expect.stringMatching(/one at a time/) });
    expect(f).toContainEqual({ level: 'info', code: 'san-added', message: 'SANs added: DNS:m3, IP:127.0.77.3, IP:10.10.10.1' });
  });

  it('a SAN dropped is an error unless explicitly allowed', async () => {
    const r = await issueLeaf({ caCertPem: newCa, caKeyPem: w.secret('ca-key.pem'), template: w.read('leaf.pem'), sans: etcdLeafSans({ members, serviceIp: '10.10.10.1' }) });
    const input = { ...base(), newLeafPem: r.certPem, newLeafKeyPem: r.keyPem };
    expect(checkRenewal(input)).toContainEqual({ level: 'error', code: 'san-removed', message: expect.stringMatching(/SANs removed: DNS:old-alias.*allow it explicitly/) });
    expect(checkRenewal({ ...input, allowSanRemoval: true })).toContainEqual(expect.objectContaining({ level: 'warning', code: 'san-removed' }));
  });

  it('a required SAN missing is an error', () => {
    const f = checkRenewal({ ...base(), requiredSans: [...base().requiredSans, 'DNS:m4'] });
    expect(f).toContainEqual({ level: 'error', code: 'san-missing', message: 'the new certificate lacks required SANs: DNS:m4' });
  });

  it('a leaf from another CA fails the trust checks with the reason', () => {
    const f = checkRenewal({ ...base(), oldLeafPem: w.read('foreign.pem') });
    expect(codes(f, 'error')).toContain('trust-old-leaf-new-ca');
    expect(f.find((x) => x.code === 'trust-old-leaf-new-ca')!.message).toMatch(/does not verify against the new CA: its authority key id/);
    expect(verifyIssuedBy(w.read('foreign.pem'), newCa)).toMatchObject({ ok: false });
    expect(verifyIssuedBy(w.read('leaf.pem'), newCa)).toEqual({ ok: true });
  });

  it('a CA renewed with another key (a new CA) breaks mixed-state trust and is refused', () => {
    const f = checkRenewal({ ...base(), newCaPem: w.read('other.pem') });
    expect(codes(f, 'error')).toEqual(expect.arrayContaining(['ca-key-changed', 'ca-key-id-changed', 'trust-new-leaf-new-ca', 'trust-old-leaf-new-ca']));
    expect(codes(f)).not.toContain('mixed-trust-ok');
  });

  it('a key that is not the new leaf’s is an error', () => {
    expect(codes(checkRenewal({ ...base(), newLeafKeyPem: w.secret('leaf-key.pem') }), 'error')).toEqual(['new-leaf-key-mismatch']);
  });

  it('an expired old CA and leaf are warned about: the cluster may be down, a rolling restart cannot keep quorum', () => {
    const later = new Date(Date.parse(parseCertificates(w.read('ca.pem'))[0]!.notAfter) + 86_400_000);
    const f = checkRenewal({ ...base(), now: later });
    expect(f).toContainEqual({ level: 'warning', code: 'old-ca-expired', message: expect.stringMatching(/rolling restart cannot keep quorum/) });
    expect(codes(f, 'warning')).toContain('old-leaf-expired');
    const soon = new Date(Date.parse(parseCertificates(w.read('leaf.pem'))[0]!.notAfter) - 10 * 86_400_000);
    expect(checkRenewal({ ...base(), now: soon })).toContainEqual(expect.objectContaining({ level: 'info', code: 'old-leaf-expires-soon' }));
  });

  it('new certificates not yet valid (clock skew) are warned about', () => {
    const before = new Date(Date.parse(newLeaf.cert.notBefore) - 3_600_000);
    const f = checkRenewal({ ...base(), now: before });
    expect(codes(f, 'warning')).toEqual(['new-ca-not-yet-valid', 'new-leaf-not-yet-valid']);
  });

  it('a renewal that shortens a lifetime is an error', async () => {
    const shortCa = renewCa({ caCertPem: w.read('ca.pem'), caKeyPem: w.secret('ca-key.pem'), days: 30 }).certPem;
    const shortLeaf = await issueLeaf({ caCertPem: shortCa, caKeyPem: w.secret('ca-key.pem'), template: w.read('leaf.pem'), sans: newLeaf.cert.sans, days: 30, keyType: 'ecdsa-p256' });
    const f = checkRenewal({ ...base(), newCaPem: shortCa, newLeafPem: shortLeaf.certPem, newLeafKeyPem: shortLeaf.keyPem });
    expect(codes(f, 'error')).toEqual(['ca-lifetime-shortened', 'leaf-lifetime-shortened']);
    expect(f.find((x) => x.code === 'ca-lifetime-shortened')!.message).toMatch(/must not shorten a lifetime/);
  });

  it('an old leaf without SAN extension is a warning and everything it lacks shows as added', () => {
    w.opensslLeaf('nosan', 'ca', { days: 400 });
    const f = checkRenewal({ ...base(), oldLeafPem: w.read('nosan.pem') });
    expect(f).toContainEqual({ level: 'warning', code: 'old-leaf-no-san', message: expect.stringMatching(/has no subjectAltName extension/) });
    expect(codes(f, 'error')).toEqual([]);
  });
});
