// renewCa against `openssl x509 -signkey`: same subject, key and extensions; new serial; old leaves still verify.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificates, PkiError, renewCa } from '../../../src/pki/index.js';
import { Workdir } from './fixtures.js';

let w: Workdir;

beforeAll(() => {
  w = new Workdir();
  w.cfsslCa('ca');
  w.cfsslLeaf('leaf', 'ca', ['m1', '127.0.0.1']);
  w.cfsslCa('other', 'etcd-ca');
  w.opensslCa('ecca', { ec: true });
});
afterAll(() => w.remove());

/** The "X509v3 extensions" section of `openssl x509 -text`. */
function extensionsText(file: string): string {
  const text = w.run('openssl', ['x509', '-in', file, '-noout', '-text']);
  return text.slice(text.indexOf('X509v3 extensions'), text.indexOf('Signature Algorithm', text.indexOf('X509v3 extensions')));
}

function sameAsOpenssl(ca: string): void {
  const renewed = renewCa({ caCertPem: w.read(`${ca}.pem`), caKeyPem: w.secret(`${ca}-key.pem`), days: 36500 });
  w.write(`${ca}-certroll.pem`, renewed.certPem);
  w.run('openssl', ['x509', '-in', `${ca}.pem`, '-days', '36500', '-signkey', `${ca}-key.pem`, '-out', `${ca}-openssl.pem`]);
  const x509 = (f: string, ...a: string[]) => w.run('openssl', ['x509', '-in', f, '-noout', ...a]);
  for (const flag of ['-subject', '-issuer', '-pubkey']) {
    expect(x509(`${ca}-certroll.pem`, flag)).toBe(x509(`${ca}-openssl.pem`, flag));
  }
  expect(extensionsText(`${ca}-certroll.pem`)).toBe(extensionsText(`${ca}-openssl.pem`));
  expect(extensionsText(`${ca}-certroll.pem`)).toBe(extensionsText(`${ca}.pem`));
  const [old] = parseCertificates(w.read(`${ca}.pem`));
  expect(renewed.cert.serialNumber).not.toBe(old!.serialNumber);
  expect(renewed.cert.subjectKeyIdentifier).toBe(old!.subjectKeyIdentifier);
  expect(renewed.cert.publicKey.spkiSha256).toBe(old!.publicKey.spkiSha256);
  // The renewed CA is a valid self-signed root for openssl.
  expect(w.run('openssl', ['verify', '-CAfile', `${ca}-certroll.pem`, `${ca}-certroll.pem`])).toContain('OK');
}

describe('renewCa', () => {
  it('matches openssl x509 -signkey for a cfssl CA (RSA)', () => sameAsOpenssl('ca'));
  it('matches openssl x509 -signkey for an openssl EC CA (with authority key id)', () => sameAsOpenssl('ecca'));

  it('is valid from now for N days, with a new random serial each time', () => {
    const now = new Date('2030-01-02T03:04:05.678Z');
    const a = renewCa({ caCertPem: w.read('ca.pem'), caKeyPem: w.secret('ca-key.pem'), days: 10, now });
    const b = renewCa({ caCertPem: w.read('ca.pem'), caKeyPem: w.secret('ca-key.pem'), days: 10, now });
    expect(a.cert.notBefore).toBe('2030-01-02T03:04:05.000Z');
    expect(a.cert.notAfter).toBe('2030-01-12T03:04:05.000Z');
    expect(a.cert.serialNumber).not.toBe(b.cert.serialNumber);
    const d = renewCa({ caCertPem: w.read('ca.pem'), caKeyPem: w.secret('ca-key.pem') });
    expect(Date.parse(d.cert.notAfter) - Date.parse(d.cert.notBefore)).toBe(36500 * 86_400_000);
    // 2126 needs GeneralizedTime; openssl reads it back the same.
    w.write('d.pem', d.certPem);
    expect(w.run('openssl', ['x509', '-in', 'd.pem', '-noout', '-enddate', '-dateopt', 'iso_8601']).trim()).toBe(
      `notAfter=${d.cert.notAfter.replace('T', ' ').replace('.000Z', 'Z')}`,
    );
  });

  it('the old leaf verifies against the renewed CA (openssl verify)', () => {
    const renewed = renewCa({ caCertPem: w.read('ca.pem'), caKeyPem: w.secret('ca-key.pem') });
    w.write('renewed.pem', renewed.certPem);
    expect(w.run('openssl', ['verify', '-CAfile', 'renewed.pem', 'leaf.pem']).trim()).toBe('leaf.pem: OK');
  });

  it('refuses a key that is not the CA key', () => {
    expect(() => renewCa({ caCertPem: w.read('ca.pem'), caKeyPem: w.secret('other-key.pem'), caKeySource: 'tos-1:/srv/kubernetes/etcd-ca-key.pem' })).toThrow(
      expect.objectContaining({
        code: 'key-mismatch',
        message: expect.stringMatching(/the CA key does not match the CA certificate ".*CN=etcd-ca".*tos-1:\/srv\/kubernetes\/etcd-ca-key.pem/s),
      }),
    );
  });

  it('refuses a leaf given as the CA, and bad lifetimes', () => {
    expect(() => renewCa({ caCertPem: w.read('leaf.pem'), caKeyPem: w.secret('leaf-key.pem') })).toThrow(
      expect.objectContaining({ code: 'not-a-ca', message: expect.stringMatching(/is not a CA certificate/) }),
    );
    expect(() => renewCa({ caCertPem: w.read('ca.pem'), caKeyPem: w.secret('ca-key.pem'), days: 0 })).toThrow(PkiError);
    expect(() => renewCa({ caCertPem: w.read('ca.pem'), caKeyPem: w.secret('ca-key.pem'), days: 1.5 })).toThrow(/whole number/);
  });
});
