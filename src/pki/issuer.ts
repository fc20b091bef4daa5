// Load a CA certificate with its private key and refuse, with a clear message, a key that does not belong to it or a certificate that is not a CA.
import type { KeyObject } from 'node:crypto';
import type { Secret } from '../secret.js';
import { encodeDer } from './der.js';
import { PkiError } from './errors.js';
import { spkiDer } from './keys.js';
import { parsePrivateKey, readFirstCertificate, type RawCert } from './parse.js';

export interface IssuerInput {
  caCertPem: string;
  caKeyPem: Secret<string>;
  caKeyPassphrase?: Secret<string>;
  /** Labels for messages, e.g. `tos-1:/srv/kubernetes/etcd-ca.pem`. */
  caCertSource?: string;
  caKeySource?: string;
}

export interface Issuer {
  cert: RawCert;
  key: KeyObject;
}

export function loadIssuer(input: IssuerInput): Issuer {
  const certSource = input.caCertSource ?? 'CA certificate';
  const keySource = input.caKeySource ?? 'CA key';
  const cert = readFirstCertificate(input.caCertPem, certSource);
  const key = parsePrivateKey(input.caKeyPem, input.caKeyPassphrase, keySource).key.reveal();
  if (!spkiDer(key).equals(encodeDer(cert.spki))) {
    throw new PkiError(
      'key-mismatch',
      `the CA key does not match the CA certificate "${cert.parsed.subject.text}" (certificate public key ${cert.parsed.publicKey.spkiSha256.slice(0, 23)}…): ` +
        'check that etcd-ca-key.pem is the key of this etcd-ca.pem (compare `openssl x509 -noout -pubkey` with `openssl pkey -pubout`)',
      keySource,
    );
  }
  if (!cert.parsed.isCa) {
    throw new PkiError(
      'not-a-ca',
      `"${cert.parsed.subject.text}" is not a CA certificate (basicConstraints CA:TRUE is missing): pick the CA file, not a leaf`,
      certSource,
    );
  }
  return { cert, key };
}
