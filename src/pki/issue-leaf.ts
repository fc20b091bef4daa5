// Issue the etcd certificate: a new key, signed by the CA, subject from the old leaf, server+client auth, the CA's key id, exactly the SANs given.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Secret } from '../secret.js';
import {
  type Asn1,
  type SubjectSpec,
  buildName,
  implicitPrimitive,
  namedBitString,
  octets,
  oid,
  parseDer,
  seq,
  toBinary,
} from './der.js';
import { PkiError } from './errors.js';
import { loadIssuer, type IssuerInput } from './issuer.js';
import { type KeyEncoding, type KeyType, KEY_TYPES, generateKey, keyIdentifier, privateKeyPem, spkiDer } from './keys.js';
import { KEY_USAGE_BITS, OID, type ParsedCert, readCertificate, readFirstCertificate } from './parse.js';
import { type San, SanSyntaxError, formatSan, ipTextToBytes, unionSans } from './sans.js';
import { extension, newSerial, signCertificate } from './sign.js';
import { validityWindow, type ValidityOptions } from './validity.js';
import { verifyIssuedBy } from './verify.js';

export interface IssueLeafOptions extends IssuerInput, ValidityOptions {
  /** The certificate being replaced: its subject is reused (byte for byte) unless `subject` is given. It must be issued by this CA. */
  template?: string;
  /** Subject of the new certificate, e.g. `{ C: 'CN', O: 'k8s', CN: 'etcd' }` (in that order). */
  subject?: SubjectSpec;
  /** Exactly the SANs the certificate gets (use etcdLeafSans() to compute the union with the old ones). */
  sans: ReadonlyArray<string | San>;
  keyType?: KeyType;
  keyEncoding?: KeyEncoding;
  /** A key generated ahead (e.g. while connecting to the fleet) with generateKey(keyType); made here when absent. */
  key?: Promise<KeyObject>;
}

export interface IssueLeafResult {
  certPem: string;
  /** The new private key, PEM, in memory only. */
  keyPem: Secret<string>;
  cert: ParsedCert;
}

export const issueLeafDefaults = {
  days: 36500,
  backdateSeconds: 0,
  keyType: 'rsa2048' as KeyType,
  keyEncoding: 'traditional' as KeyEncoding,
};

/** Issue a server+client certificate for etcd. Generates the key natively (never on disk); the result holds the key as a Secret. */
export async function issueLeaf(opts: IssueLeafOptions): Promise<IssueLeafResult> {
  const source = opts.caCertSource ?? 'CA certificate';
  const keyType = opts.keyType ?? issueLeafDefaults.keyType;
  if (!KEY_TYPES.includes(keyType)) {
    throw new PkiError('unsupported-key', `key type "${String(keyType)}" is not one of ${KEY_TYPES.join(', ')}`, source);
  }
  const { cert: ca, key: caKey } = loadIssuer(opts);
  const { notBefore, notAfter } = validityWindow(opts, issueLeafDefaults, source);

  let subject: Asn1;
  if (opts.subject) {
    try {
      subject = buildName(opts.subject);
    } catch (e) {
      throw new PkiError('no-subject', `bad subject: ${(e as Error).message}`, source);
    }
  } else if (opts.template) {
    const old = readFirstCertificate(opts.template, 'old certificate');
    const v = verifyIssuedBy(opts.template, opts.caCertPem);
    if (!v.ok) {
      throw new PkiError(
        'not-issued-by',
        `the old certificate "${old.parsed.subject.text}" was not issued by the CA "${ca.parsed.subject.text}": ${v.reason}. ` +
          'Check that the CA and the certificate come from the same cluster',
        'old certificate',
      );
    }
    subject = old.subject;
  } else {
    throw new PkiError('no-subject', 'no subject: give the old certificate as template, or a subject', source);
  }

  let sans: San[];
  try {
    sans = unionSans(opts.sans);
  } catch (e) {
    if (e instanceof SanSyntaxError) throw new PkiError('bad-san', e.message, source);
    throw e;
  }
  if (sans.length === 0) {
    throw new PkiError('no-sans', 'no SANs: etcd clients (Go ≥ 1.15) ignore the CN, so the certificate needs its hostnames and IPs as SANs', source);
  }
  const other = sans.find((s) => s.type === 'other');
  if (other) throw new PkiError('bad-san', `cannot re-encode SAN ${formatSan(other)}: only DNS, IP, email and URI SANs are supported`, source);

  const key = await (opts.key ?? generateKey(keyType));
  const spkiBuf = spkiDer(key);
  const spki = parseDer(spkiBuf);
  const caKid = ca.parsed.subjectKeyIdentifier
    ? toBinary(Buffer.from(ca.parsed.subjectKeyIdentifier.replace(/:/g, ''), 'hex'))
    : toBinary(keyIdentifier(ca.spki));
  const isRsa = createPublicKey(key).asymmetricKeyType === 'rsa';
  // keyEncipherment only means something for RSA key transport; an EC key gets digitalSignature alone (RFC 5480 §3).
  const usages = isRsa ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'];

  const extensions: Asn1[] = [
    extension(OID.keyUsage, true, namedBitString(usages.map((u) => KEY_USAGE_BITS.indexOf(u as (typeof KEY_USAGE_BITS)[number])))),
    extension(OID.extKeyUsage, false, seq([oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2')])),
    // CA:FALSE is the empty SEQUENCE in DER (the default value is omitted).
    extension(OID.basicConstraints, true, seq([])),
    extension(OID.subjectKeyIdentifier, false, octets(toBinary(keyIdentifier(spki)))),
    extension(OID.authorityKeyIdentifier, false, seq([implicitPrimitive(0, caKid)])),
    extension(OID.subjectAltName, false, seq(sans.map(generalName))),
  ];
  const { der, pem } = signCertificate(
    { version: 3, serial: newSerial(), issuer: ca.subject, notBefore, notAfter, subject, spki, extensions },
    caKey,
    source,
  );
  const issued = readCertificate(der, 0, 'new certificate');
  issued.parsed.pem = pem;
  return { certPem: pem, keyPem: privateKeyPem(key, opts.keyEncoding ?? issueLeafDefaults.keyEncoding), cert: issued.parsed };
}

function generalName(san: San): Asn1 {
  switch (san.type) {
    case 'dns':
      return implicitPrimitive(2, san.value);
    case 'ip':
      return implicitPrimitive(7, toBinary(ipTextToBytes(san.value)));
    case 'email':
      return implicitPrimitive(1, san.value);
    case 'uri':
      return implicitPrimitive(6, san.value);
    default:
      throw new Error(`unsupported SAN type ${san.type}`);
  }
}
