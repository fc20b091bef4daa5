// Renew a CA keeping its key (what `openssl x509 -in ca.pem -days N -signkey ca-key.pem` does): same subject, key, key id and extensions; new serial and validity.
import { type Asn1, Class, bytesOf, children, implicitPrimitive, parseDer, seq, toBinary } from './der.js';
import { PkiError } from './errors.js';
import { loadIssuer, type IssuerInput } from './issuer.js';
import { keyIdentifier } from './keys.js';
import { OID, type ParsedCert, readCertificate } from './parse.js';
import { extension, newSerial, signCertificate } from './sign.js';
import { validityWindow, type ValidityOptions } from './validity.js';

export interface RenewCaOptions extends IssuerInput, ValidityOptions {}

export interface RenewCaResult {
  certPem: string;
  cert: ParsedCert;
}

export const renewCaDefaults = { days: 36500, backdateSeconds: 0 } as const;

/**
 * A new self-signed certificate for the same CA: subject, public key and every extension copied byte for byte
 * (so the subject key identifier is unchanged and certificates issued by the old one verify against it), a new random
 * serial, valid from `now` for `days` days. Refuses a key that does not match, a non-CA, or a CA that is not self-signed.
 */
export function renewCa(opts: RenewCaOptions): RenewCaResult {
  const { cert, key } = loadIssuer(opts);
  const source = opts.caCertSource ?? 'CA certificate';
  if (!cert.parsed.selfIssued) {
    throw new PkiError(
      'not-self-signed',
      `"${cert.parsed.subject.text}" is issued by "${cert.parsed.issuer.text}", not by itself: renewing it with -signkey would turn an intermediate CA into a root; renew it with its issuer instead`,
      source,
    );
  }
  const { notBefore, notAfter } = validityWindow(opts, renewCaDefaults, source);
  const extensions: Asn1[] = cert.extensions.map((e) => (e.oid === OID.authorityKeyIdentifier ? selfAki(e.node, cert.spki) : e.node));
  const { der, pem } = signCertificate(
    {
      version: cert.version,
      serial: newSerial(),
      issuer: cert.subject,
      notBefore,
      notAfter,
      subject: cert.subject,
      spki: cert.spki,
      extensions,
    },
    key,
    source,
  );
  const renewed = readCertificate(der, 0, source);
  renewed.parsed.pem = pem;
  return { certPem: pem, cert: renewed.parsed };
}

/**
 * A self-signed CA's authority key identifier. Kept verbatim when it holds only a key id; if it also names the issuer
 * and serial (authorityCertIssuer/SerialNumber) it would point at the old serial and OpenSSL would no longer see the
 * certificate as self-issued, so it is rewritten to the key id alone.
 */
function selfAki(node: Asn1, spki: Asn1): Asn1 {
  const parts = children(node);
  const value = parseDer(Buffer.from(bytesOf(parts[parts.length - 1]!), 'binary'));
  const fields = children(value);
  if (fields.every((f) => f.tagClass === Class.CONTEXT_SPECIFIC && f.type === 0)) return node;
  const kid = fields.find((f) => f.tagClass === Class.CONTEXT_SPECIFIC && f.type === 0);
  const id = kid ? bytesOf(kid) : toBinary(keyIdentifier(spki));
  const critical = parts.length === 3 && bytesOf(parts[1]!) !== '\x00';
  return extension(OID.authorityKeyIdentifier, critical, seq([implicitPrimitive(0, id)]));
}
