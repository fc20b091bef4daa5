// Read PEM text: classify a file, parse every certificate in it into plain JSON-safe data, and load a private key into memory.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { Secret } from '../secret.js';
import {
  type Asn1,
  type DistinguishedName,
  Class,
  Type,
  bitStringBits,
  bytesOf,
  children,
  colonHex,
  encodeDer,
  fromBinary,
  oidOf,
  parseDer,
  parseName,
  parseTime,
  scanPem,
} from './der.js';
import { PkiError } from './errors.js';
import { type San, ipBytesToText, normaliseSan } from './sans.js';

export const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
} as const;

export const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsage = (typeof KEY_USAGE_BITS)[number];

export const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
};

const SIGNATURE_NAMES: Record<string, string> = {
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.3.101.112': 'ED25519',
};

export interface PublicKeyInfo {
  algorithm: string;
  /** RSA modulus length. */
  bits?: number;
  /** EC curve (Node's name, e.g. prime256v1). */
  curve?: string;
  /** SHA-256 of the SubjectPublicKeyInfo DER, colon hex: equal for a certificate and its key. */
  spkiSha256: string;
}

/** One certificate, as plain data: JSON-serialisable, no key material. Dates are ISO-8601 strings (UTC). */
export interface ParsedCert {
  /** 0-based position in the PEM text it came from. */
  index: number;
  /** The certificate's own PEM block. */
  pem: string;
  version: number;
  subject: DistinguishedName;
  issuer: DistinguishedName;
  /** Upper-case hex without sign padding, as `openssl x509 -serial` prints it. */
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the DER, colon hex (as `openssl x509 -fingerprint -sha256`). */
  fingerprintSha256: string;
  signatureAlgorithm: string;
  publicKey: PublicKeyInfo;
  subjectKeyIdentifier?: string;
  /** The keyIdentifier of the authority key identifier extension. */
  authorityKeyIdentifier?: string;
  keyUsage?: KeyUsage[];
  /** Short names (serverAuth, clientAuth…) or dotted OIDs. */
  extendedKeyUsage?: string[];
  basicConstraints?: { ca: boolean; pathLength?: number; critical: boolean };
  /** Subject alternative names (normalised); [] when the extension is absent — see hasSanExtension. */
  sans: San[];
  hasSanExtension: boolean;
  /** Issuer name equals subject name (byte for byte). */
  selfIssued: boolean;
  isCa: boolean;
  /** Every extension present: OID, short name when known, criticality. */
  extensions: Array<{ oid: string; name?: string; critical: boolean }>;
}

/** The pieces of a certificate's ASN.1 that building new certificates reuses verbatim (internal). */
export interface RawCert {
  der: Buffer;
  tbs: Asn1;
  version: number;
  serial: Asn1;
  issuer: Asn1;
  subject: Asn1;
  spki: Asn1;
  extensions: RawExtension[];
  parsed: ParsedCert;
}

export interface RawExtension {
  oid: string;
  critical: boolean;
  /** Binary string: the contents of extnValue (the extension's own DER). */
  value: string;
  node: Asn1;
}

const EXTENSION_NAMES: Record<string, string> = {
  [OID.subjectKeyIdentifier]: 'subjectKeyIdentifier',
  [OID.keyUsage]: 'keyUsage',
  [OID.subjectAltName]: 'subjectAltName',
  [OID.basicConstraints]: 'basicConstraints',
  [OID.authorityKeyIdentifier]: 'authorityKeyIdentifier',
  [OID.extKeyUsage]: 'extendedKeyUsage',
  '2.5.29.31': 'crlDistributionPoints',
  '1.3.6.1.5.5.7.1.1': 'authorityInfoAccess',
  '2.5.29.32': 'certificatePolicies',
};

/** Facts about a public key from its SubjectPublicKeyInfo DER. */
export function publicKeyInfo(spkiDer: Buffer): PublicKeyInfo {
  const spkiSha256 = colonHex(createHash('sha256').update(spkiDer).digest());
  try {
    const k = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
    const d = k.asymmetricKeyDetails ?? {};
    return {
      algorithm: k.asymmetricKeyType ?? 'unknown',
      ...(d.modulusLength ? { bits: d.modulusLength } : {}),
      ...(d.namedCurve ? { curve: d.namedCurve } : {}),
      spkiSha256,
    };
  } catch {
    return { algorithm: 'unknown', spkiSha256 };
  }
}

function parseGeneralNames(node: Asn1): San[] {
  const out: San[] = [];
  for (const gn of children(node)) {
    if (gn.tagClass !== Class.CONTEXT_SPECIFIC) continue;
    const raw = typeof gn.value === 'string' ? gn.value : '';
    switch (gn.type) {
      case 2:
        out.push(safeNormalise({ type: 'dns', value: raw }));
        break;
      case 7:
        out.push({ type: 'ip', value: ipBytesToText(fromBinary(raw)) });
        break;
      case 1:
        out.push({ type: 'email', value: raw });
        break;
      case 6:
        out.push({ type: 'uri', value: raw });
        break;
      default:
        out.push({ type: 'other', value: `[${gn.type}]` + encodeDer(gn).toString('hex') });
    }
  }
  return out;
}

function safeNormalise(san: San): San {
  try {
    return normaliseSan(san);
  } catch {
    return san;
  }
}

/** Decode one certificate DER into its reusable parts and its plain description. Throws PkiError('bad-der'). */
export function readCertificate(der: Buffer, index = 0, source?: string): RawCert {
  let cert: Asn1;
  try {
    cert = parseDer(der);
  } catch (e) {
    throw new PkiError(
      'bad-der',
      `certificate #${index + 1} cannot be decoded (${(e as Error).message}): the PEM is truncated or damaged`,
      source,
    );
  }
  const [tbs, sigAlg] = children(cert);
  const t = tbs ? children(tbs) : [];
  if (!tbs || !sigAlg || t.length < 6) {
    throw new PkiError('bad-der', `certificate #${index + 1} is not an X.509 certificate`, source);
  }
  let i = 0;
  let version = 1;
  if (t[0]!.tagClass === Class.CONTEXT_SPECIFIC && t[0]!.type === 0) {
    version = fromBinary(bytesOf(children(t[0]!)[0]!)).readUInt8(0) + 1;
    i = 1;
  }
  const serial = t[i]!;
  const issuer = t[i + 2]!;
  const validity = t[i + 3]!;
  const subject = t[i + 4]!;
  const spki = t[i + 5]!;
  const extensions: RawExtension[] = [];
  for (const n of t.slice(i + 6)) {
    if (n.tagClass !== Class.CONTEXT_SPECIFIC || n.type !== 3) continue;
    for (const ext of children(children(n)[0]!)) {
      const parts = children(ext);
      const critical = parts.length === 3 && bytesOf(parts[1]!) !== '\x00';
      extensions.push({ oid: oidOf(parts[0]!), critical, value: bytesOf(parts[parts.length - 1]!), node: ext });
    }
  }
  const [nb, na] = children(validity);
  const spkiDer = encodeDer(spki);
  const serialBytes = fromBinary(bytesOf(serial));
  let s = 0;
  while (s < serialBytes.length - 1 && serialBytes[s] === 0) s++;

  const parsed: ParsedCert = {
    index,
    pem: '',
    version,
    subject: parseName(subject),
    issuer: parseName(issuer),
    serialNumber: serialBytes.subarray(s).toString('hex').toUpperCase(),
    notBefore: parseTime(nb!).toISOString(),
    notAfter: parseTime(na!).toISOString(),
    fingerprintSha256: colonHex(createHash('sha256').update(der).digest()),
    signatureAlgorithm: (() => {
      const o = oidOf(children(sigAlg)[0]!);
      return SIGNATURE_NAMES[o] ?? o;
    })(),
    publicKey: publicKeyInfo(spkiDer),
    sans: [],
    hasSanExtension: false,
    selfIssued: encodeDer(issuer).equals(encodeDer(subject)),
    isCa: false,
    extensions: extensions.map((e) => ({
      oid: e.oid,
      ...(EXTENSION_NAMES[e.oid] ? { name: EXTENSION_NAMES[e.oid] } : {}),
      critical: e.critical,
    })),
  };
  for (const ext of extensions) {
    let v: Asn1;
    try {
      v = parseDer(fromBinary(ext.value));
    } catch {
      continue;
    }
    switch (ext.oid) {
      case OID.subjectKeyIdentifier:
        parsed.subjectKeyIdentifier = colonHex(bytesOf(v));
        break;
      case OID.authorityKeyIdentifier: {
        const kid = children(v).find((c) => c.tagClass === Class.CONTEXT_SPECIFIC && c.type === 0);
        if (kid) parsed.authorityKeyIdentifier = colonHex(bytesOf(kid));
        break;
      }
      case OID.keyUsage:
        parsed.keyUsage = bitStringBits(bytesOf(v))
          .map((b) => KEY_USAGE_BITS[b])
          .filter((x): x is KeyUsage => !!x);
        break;
      case OID.extKeyUsage:
        parsed.extendedKeyUsage = children(v).map((o) => {
          const dotted = oidOf(o);
          return EKU_NAMES[dotted] ?? dotted;
        });
        break;
      case OID.basicConstraints: {
        const c = children(v);
        const ca = c.some((x) => x.type === Type.BOOLEAN && bytesOf(x) !== '\x00');
        const pl = c.find((x) => x.type === Type.INTEGER);
        parsed.basicConstraints = {
          ca,
          ...(pl ? { pathLength: parseInt(fromBinary(bytesOf(pl)).toString('hex') || '0', 16) } : {}),
          critical: ext.critical,
        };
        break;
      }
      case OID.subjectAltName:
        parsed.hasSanExtension = true;
        parsed.sans = parseGeneralNames(v);
        break;
    }
  }
  // A v1 self-issued certificate is a (legacy) CA for OpenSSL; v3 needs basicConstraints CA:TRUE.
  parsed.isCa = parsed.basicConstraints ? parsed.basicConstraints.ca : version === 1 && parsed.selfIssued;
  return { der, tbs, version, serial, issuer, subject, spki, extensions, parsed };
}

export type PemKind = 'certificate' | 'private-key' | 'encrypted-key' | 'other';

export interface PemClass {
  /** A file holding any private key is `private-key`/`encrypted-key` even if it also holds certificates (never print it). */
  kind: PemKind;
  /** Labels of the PEM blocks found (CERTIFICATE, RSA PRIVATE KEY…). */
  labels: string[];
  certificateCount: number;
  /** Why it is `other` (not PEM, DER, truncated) — never quotes the content. */
  note?: string;
}

function isEncryptedBlock(label: string, headers: Record<string, string>): boolean {
  return label === 'ENCRYPTED PRIVATE KEY' || /ENCRYPTED/i.test(headers['Proc-Type'] ?? '');
}

/** What a file is, without parsing (or keeping) any key material. */
export function classifyPem(text: string | Buffer): PemClass {
  const scan = scanPem(text);
  if (!scan.ok) return { kind: 'other', labels: [], certificateCount: 0, note: scan.message };
  const labels = scan.blocks.map((b) => b.label);
  const certificateCount = labels.filter((l) => l === 'CERTIFICATE' || l === 'X509 CERTIFICATE').length;
  const keys = scan.blocks.filter((b) => /PRIVATE KEY$/.test(b.label));
  const kind: PemKind = keys.some((b) => isEncryptedBlock(b.label, b.headers))
    ? 'encrypted-key'
    : keys.length > 0
      ? 'private-key'
      : certificateCount > 0
        ? 'certificate'
        : 'other';
  return { kind, labels, certificateCount };
}

function scanOrThrow(text: string | Buffer, source?: string) {
  const scan = scanPem(text);
  if (!scan.ok) throw new PkiError(scan.problem, scan.message, source);
  return scan.blocks;
}

/** Internal: every certificate of a PEM text with its reusable ASN.1 parts. */
export function readCertificates(pem: string | Buffer, source?: string): RawCert[] {
  const blocks = scanOrThrow(pem, source).filter((b) => b.label === 'CERTIFICATE' || b.label === 'X509 CERTIFICATE');
  if (blocks.length === 0) {
    throw new PkiError('no-certificate', 'no certificate (-----BEGIN CERTIFICATE-----) in this PEM', source);
  }
  return blocks.map((b, index) => {
    const raw = readCertificate(b.der, index, source);
    raw.parsed.pem = b.text;
    return raw;
  });
}

/** Internal: the first certificate of a PEM text. */
export function readFirstCertificate(pem: string | Buffer, source?: string): RawCert {
  return readCertificates(pem, source)[0]!;
}

/** Every certificate in a PEM text (other blocks such as keys are skipped unread). Throws PkiError for DER, truncated or damaged input. */
export function parseCertificates(pem: string | Buffer, source?: string): ParsedCert[] {
  return readCertificates(pem, source).map((r) => r.parsed);
}

export interface ParsedPrivateKey {
  algorithm: string;
  bits?: number;
  curve?: string;
  /** How it was stored: pkcs1 (BEGIN RSA PRIVATE KEY), sec1 (BEGIN EC PRIVATE KEY), pkcs8 (BEGIN PRIVATE KEY / ENCRYPTED PRIVATE KEY). */
  encoding: 'pkcs1' | 'sec1' | 'pkcs8';
  encrypted: boolean;
  /** SHA-256 of the public key's SPKI DER, colon hex: compare with ParsedCert.publicKey.spkiSha256. */
  publicKeySpkiSha256: string;
  /** The key itself, in memory only. */
  key: Secret<KeyObject>;
}

/** Load a private key (RSA PKCS#1/PKCS#8, EC SEC1/PKCS#8, optionally encrypted) into memory. Messages never contain key material. */
export function parsePrivateKey(
  pem: Secret<string>,
  passphrase?: Secret<string> | string,
  source?: string,
): ParsedPrivateKey {
  const blocks = scanOrThrow(pem.reveal(), source);
  const block = blocks.find((b) => /PRIVATE KEY$/.test(b.label));
  if (!block) {
    throw new PkiError('no-private-key', `no private key block in this PEM (found: ${blocks.map((b) => b.label).join(', ')})`, source);
  }
  const encrypted = isEncryptedBlock(block.label, block.headers);
  const pass = passphrase === undefined ? undefined : typeof passphrase === 'string' ? passphrase : passphrase.reveal();
  if (encrypted && !pass) {
    throw new PkiError(
      'encrypted-key',
      'this private key is encrypted: give its passphrase, or decrypt it first (`openssl pkey -in KEY -out KEY.plain`, kept off shared disks)',
      source,
    );
  }
  const encoding = block.label === 'RSA PRIVATE KEY' ? 'pkcs1' : block.label === 'EC PRIVATE KEY' ? 'sec1' : 'pkcs8';
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: block.text, format: 'pem', ...(pass ? { passphrase: pass } : {}) });
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    const msg = (e as Error).message;
    if (encrypted && /bad decrypt|BAD_DECRYPT|decrypt/i.test(msg + code)) {
      throw new PkiError('bad-passphrase', 'the passphrase does not decrypt this private key', source);
    }
    throw new PkiError('bad-key', `the private key cannot be read (${code || 'decoder error'}): it is damaged or in an unsupported format`, source);
  }
  const algorithm = key.asymmetricKeyType ?? 'unknown';
  const d = key.asymmetricKeyDetails ?? {};
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return {
    algorithm,
    ...(d.modulusLength ? { bits: d.modulusLength } : {}),
    ...(d.namedCurve ? { curve: d.namedCurve } : {}),
    encoding,
    encrypted,
    publicKeySpkiSha256: colonHex(createHash('sha256').update(spki).digest()),
    key: new Secret(key),
  };
}
