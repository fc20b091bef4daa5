// Parsing certificates and keys, cross-checked field by field with the openssl CLI; bad inputs give clear errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { classifyPem, parseCertificates, parsePrivateKey, PkiError } from '../../../src/pki/index.js';
import { Secret } from '../../../src/secret.js';
import { Workdir } from './fixtures.js';

let w: Workdir;

beforeAll(() => {
  w = new Workdir();
  w.cfsslCa('ca');
  w.cfsslLeaf('leaf', 'ca', ['jiujiu-tdh-10', 'Jiujiu-TDH-11', '127.0.0.1', '10.10.10.1', '172.22.25.10', '2001:db8::a', '::1']);
  w.opensslCa('ecca', { ec: true });
  w.opensslLeaf('nosan', 'ca');
});
afterAll(() => w.remove());

function openssl(...args: string[]): string {
  return w.run('openssl', args).trim();
}

function expectPkiError(fn: () => unknown, code: string, message: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PkiError);
    expect((e as PkiError).code).toBe(code);
    expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error(`expected PkiError ${code}`);
}

describe('parseCertificates', () => {
  it('reads every field the way openssl does', () => {
    const [c] = parseCertificates(w.read('leaf.pem'));
    expect(c).toBeDefined();
    const cert = c!;
    expect(cert.subject.text).toBe('C=CN, ST=Beijing, L=Beijing, O=k8s, OU=System, CN=etcd');
    expect(cert.issuer.text).toBe('C=CN, ST=Beijing, L=Beijing, O=k8s, OU=System, CN=etcd-ca');
    expect(`serial=${cert.serialNumber}`).toBe(openssl('x509', '-in', 'leaf.pem', '-noout', '-serial'));
    expect(`sha256 Fingerprint=${cert.fingerprintSha256}`).toBe(openssl('x509', '-in', 'leaf.pem', '-noout', '-fingerprint', '-sha256'));
    const dates = openssl('x509', '-in', 'leaf.pem', '-noout', '-dates', '-dateopt', 'iso_8601');
    expect(dates).toContain(`notBefore=${cert.notBefore.replace('T', ' ').replace('.000Z', 'Z')}`);
    expect(dates).toContain(`notAfter=${cert.notAfter.replace('T', ' ').replace('.000Z', 'Z')}`);
    const ext = w.ext('leaf.pem', 'subjectKeyIdentifier,authorityKeyIdentifier');
    expect(ext[1]).toBe(cert.subjectKeyIdentifier);
    expect(ext[3]).toBe(cert.authorityKeyIdentifier);
    expect(cert.keyUsage).toEqual(['digitalSignature', 'keyEncipherment']);
    expect(cert.extendedKeyUsage).toEqual(['serverAuth', 'clientAuth']);
    expect(cert.basicConstraints).toEqual({ ca: false, critical: true });
    expect(cert.isCa).toBe(false);
    expect(cert.hasSanExtension).toBe(true);
    expect(cert.sans).toEqual([
      { type: 'dns', value: 'jiujiu-tdh-10' },
      { type: 'dns', value: 'jiujiu-tdh-11' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '10.10.10.1' },
      { type: 'ip', value: '172.22.25.10' },
      { type: 'ip', value: '2001:db8::a' },
      { type: 'ip', value: '::1' },
    ]);
    expect(cert.publicKey).toMatchObject({ algorithm: 'rsa', bits: 2048 });
    expect(cert.signatureAlgorithm).toBe('sha256WithRSAEncryption');
    // JSON-serialisable: a round trip changes nothing.
    expect(JSON.parse(JSON.stringify(cert))).toEqual(cert);
  });

  it('reads a CA and an EC CA', () => {
    const [ca] = parseCertificates(w.read('ca.pem'));
    expect(ca).toMatchObject({ isCa: true, selfIssued: true, keyUsage: ['keyCertSign', 'cRLSign'], basicConstraints: { ca: true, critical: true } });
    expect(ca!.subjectKeyIdentifier).toBe(w.ext('ca.pem', 'subjectKeyIdentifier')[1]);
    const [ec] = parseCertificates(w.read('ecca.pem'));
    expect(ec).toMatchObject({ isCa: true, publicKey: { algorithm: 'ec', curve: 'prime256v1' }, signatureAlgorithm: 'ecdsa-with-SHA256' });
    expect(ec!.subject.text).toBe('O=certroll-test, CN=test-ca');
  });

  it('reads a bundle of several certificates in order, skipping key blocks', () => {
    const bundle = w.read('leaf.pem') + w.read('leaf-key.pem') + '\r\n' + w.read('ca.pem').replace(/\n/g, '\r\n') + w.read('ecca.pem');
    const certs = parseCertificates(bundle);
    expect(certs.map((c) => [c.index, c.subject.attributes.at(-1)!.value])).toEqual([
      [0, 'etcd'],
      [1, 'etcd-ca'],
      [2, 'test-ca'],
    ]);
    expect(certs[1]!.pem).toBe(w.read('ca.pem'));
  });

  it('a certificate without a SAN extension parses with no SANs and says so', () => {
    const [c] = parseCertificates(w.read('nosan.pem'));
    expect(c).toMatchObject({ hasSanExtension: false, sans: [] });
  });

  it('refuses a truncated PEM with a clear message', () => {
    const pem = w.read('leaf.pem');
    expectPkiError(() => parseCertificates(pem.slice(0, pem.length / 2)), 'truncated-pem', /no "-----END CERTIFICATE-----" line: the file is truncated/);
    const lines = pem.split('\n');
    const cut = [...lines.slice(0, 5), ...lines.slice(10)].join('\n');
    expectPkiError(() => parseCertificates(cut), 'bad-der', /certificate #1 cannot be decoded .*truncated or damaged/);
  });

  it('refuses a DER file and says how to convert it', () => {
    w.run('openssl', ['x509', '-in', 'leaf.pem', '-outform', 'der', '-out', 'leaf.der']);
    const der = readFileSync(w.path('leaf.der'));
    expectPkiError(() => parseCertificates(der, 'leaf.der'), 'der-not-pem', /binary \(DER\) data, not PEM.*openssl x509 -inform der/);
    expectPkiError(() => parseCertificates(der.toString('utf8')), 'der-not-pem', /DER/);
  });

  it('refuses text without a certificate', () => {
    expectPkiError(() => parseCertificates('hello\n', 'x.txt'), 'no-pem', /no PEM block/);
    expectPkiError(() => parseCertificates(w.read('leaf-key.pem'), 'k.pem'), 'no-certificate', /no certificate/);
  });
});

describe('classifyPem', () => {
  it('tells certificates, keys, encrypted keys and the rest apart', () => {
    w.run('openssl', ['pkey', '-in', 'leaf-key.pem', '-aes256', '-passout', 'pass:s3cret', '-out', 'enc8.pem']);
    expect(classifyPem(w.read('leaf.pem'))).toEqual({ kind: 'certificate', labels: ['CERTIFICATE'], certificateCount: 1 });
    expect(classifyPem(w.read('leaf-key.pem')).kind).toBe('private-key');
    expect(classifyPem(w.read('leaf.pem') + w.read('leaf-key.pem'))).toMatchObject({ kind: 'private-key', certificateCount: 1 });
    expect(classifyPem(w.read('enc8.pem')).kind).toBe('encrypted-key');
    expect(classifyPem('{"not":"pem"}')).toMatchObject({ kind: 'other', note: expect.stringMatching(/no PEM/) });
    expect(classifyPem(readFileSync(w.path('leaf.der')))).toMatchObject({ kind: 'other', note: expect.stringMatching(/DER/) });
  });
});

describe('parsePrivateKey', () => {
  it('reads RSA PKCS#1 and PKCS#8, EC SEC1 (with its parameters block) and PKCS#8', () => {
    const certKey = parseCertificates(w.read('leaf.pem'))[0]!.publicKey.spkiSha256;
    const pkcs1 = parsePrivateKey(w.secret('leaf-key.pem'));
    expect(pkcs1).toMatchObject({ algorithm: 'rsa', bits: 2048, encoding: 'pkcs1', encrypted: false, publicKeySpkiSha256: certKey });
    w.run('openssl', ['pkey', '-in', 'leaf-key.pem', '-out', 'leaf-key8.pem']);
    expect(parsePrivateKey(w.secret('leaf-key8.pem'))).toMatchObject({ algorithm: 'rsa', encoding: 'pkcs8', publicKeySpkiSha256: certKey });
    w.run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-out', 'ec-sec1.pem']);
    expect(w.read('ec-sec1.pem')).toMatch(/BEGIN EC PARAMETERS[\s\S]*BEGIN EC PRIVATE KEY/);
    expect(parsePrivateKey(w.secret('ec-sec1.pem'))).toMatchObject({ algorithm: 'ec', curve: 'prime256v1', encoding: 'sec1' });
    const ecCertKey = parseCertificates(w.read('ecca.pem'))[0]!.publicKey.spkiSha256;
    expect(parsePrivateKey(w.secret('ecca-key.pem'))).toMatchObject({ algorithm: 'ec', encoding: 'pkcs8', publicKeySpkiSha256: ecCertKey });
  });

  it('an encrypted key without passphrase asks for it; with it, it loads', () => {
    w.run('openssl', ['rsa', '-in', 'leaf-key.pem', '-aes256', '-passout', 'pass:s3cret', '-traditional', '-out', 'enc1.pem']);
    for (const f of ['enc8.pem', 'enc1.pem']) {
      expectPkiError(() => parsePrivateKey(w.secret(f), undefined, f), 'encrypted-key', /encrypted: give its passphrase/);
      expectPkiError(() => parsePrivateKey(w.secret(f), 'wrong'), 'bad-passphrase', /passphrase does not decrypt/);
      expect(parsePrivateKey(w.secret(f), new Secret('s3cret'))).toMatchObject({ algorithm: 'rsa', encrypted: true });
    }
  });

  it('never shows key material: not in errors, not when printed', () => {
    const pem = w.read('leaf-key.pem');
    const body = pem.split('\n')[3]!;
    const key = parsePrivateKey(new Secret(pem));
    expect(JSON.stringify(key)).not.toContain(body.slice(0, 20));
    expect(inspect(key)).toContain('Secret(***)');
    const lines = pem.split('\n');
    const damaged = [...lines.slice(0, 3), ...lines.slice(8)].join('\n');
    try {
      parsePrivateKey(new Secret(damaged));
      throw new Error('no error');
    } catch (e) {
      expect((e as PkiError).code).toBe('bad-key');
      for (const l of lines.slice(1, -2)) expect((e as Error).message).not.toContain(l.slice(0, 16));
    }
  });
});
