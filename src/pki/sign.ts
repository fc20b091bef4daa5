// Assemble a TBSCertificate with node-forge's ASN.1 and sign it with Node's crypto, so RSA, ECDSA and Ed25519 issuer keys all work.
import { randomBytes, sign, type KeyObject } from 'node:crypto';
import {
  type Asn1,
  bits,
  bool,
  encodeDer,
  explicit,
  integer,
  integerBytes,
  nul,
  octets,
  oid,
  parseDer,
  seq,
  timeNode,
  toBinary,
  toPem,
} from './der.js';
import { PkiError } from './errors.js';

interface SignatureScheme {
  algorithm: Asn1;
  /** Digest for crypto.sign; null for Ed25519. */
  digest: string | null;
}

/** The signature algorithm a certificate signed by this key gets: SHA-256 with RSA; ECDSA with the curve's digest; Ed25519. */
export function signatureScheme(issuerKey: KeyObject, source?: string): SignatureScheme {
  switch (issuerKey.asymmetricKeyType) {
    case 'rsa':
      return { algorithm: seq([oid('1.2.840.113549.1.1.11'), nul()]), digest: 'sha256' };
    case 'ec': {
      const curve = issuerKey.asymmetricKeyDetails?.namedCurve;
      if (curve === 'secp384r1') return { algorithm: seq([oid('1.2.840.10045.4.3.3')]), digest: 'sha384' };
      if (curve === 'secp521r1') return { algorithm: seq([oid('1.2.840.10045.4.3.4')]), digest: 'sha512' };
      return { algorithm: seq([oid('1.2.840.10045.4.3.2')]), digest: 'sha256' };
    }
    case 'ed25519':
      return { algorithm: seq([oid('1.3.101.112')]), digest: null };
    default:
      throw new PkiError(
        'unsupported-key',
        `cannot sign with a ${issuerKey.asymmetricKeyType ?? 'unknown'} key: RSA, EC (P-256/384/521) and Ed25519 are supported`,
        source,
      );
  }
}

/** A positive 128-bit serial number (RFC 5280: at most 20 octets, unpredictable). */
export function newSerial(): Asn1 {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) || 0x01;
  return integerBytes(toBinary(b));
}

export interface TbsParts {
  /** 1 or 3. */
  version: number;
  serial: Asn1;
  issuer: Asn1;
  notBefore: Date;
  notAfter: Date;
  subject: Asn1;
  spki: Asn1;
  /** Extension nodes (SEQUENCE { oid, [critical], OCTET STRING }). */
  extensions: Asn1[];
}

/** One Extension node. `value` is the DER of the extension's content. */
export function extension(dotted: string, critical: boolean, value: Asn1): Asn1 {
  const der = toBinary(encodeDer(value));
  return seq([oid(dotted), ...(critical ? [bool(true)] : []), octets(der)]);
}

/** Build, sign and encode a certificate; returns its DER and PEM. */
export function signCertificate(parts: TbsParts, issuerKey: KeyObject, source?: string): { der: Buffer; pem: string } {
  const scheme = signatureScheme(issuerKey, source);
  const tbsItems: Asn1[] = [];
  if (parts.version !== 1) tbsItems.push(explicit(0, integer(parts.version - 1)));
  tbsItems.push(parts.serial, scheme.algorithm, parts.issuer, seq([timeNode(parts.notBefore), timeNode(parts.notAfter)]), parts.subject, parts.spki);
  if (parts.extensions.length > 0) tbsItems.push(explicit(3, seq(parts.extensions)));
  const tbsDer = encodeDer(seq(tbsItems));
  const signature = sign(scheme.digest, tbsDer, issuerKey);
  const certDer = encodeDer(seq([parseDer(tbsDer), scheme.algorithm, bits(toBinary(signature))]));
  return { der: certDer, pem: toPem('CERTIFICATE', certDer) };
}
