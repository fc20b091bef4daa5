// Renew a leaf like `kubeadm certs renew` does: subject, DNS/IP SANs and key usages copied from the certificate it replaces,
// signed by its CA, with a new key of the same algorithm and size (or the old key kept).
//
// kubeadm's renewal (cmd/kubeadm/app/phases/certs/renewal/manager.go, certToConfig) copies CommonName, Organization,
// AltNames.IPs, AltNames.DNSNames and ExtKeyUsage from the existing certificate and makes a new key. Here the subject is
// kept byte for byte (a superset: CN and O, plus any other attribute, in their order), DNS and IP SANs are kept (URI and
// email SANs are dropped, as kubeadm drops them, and reported), the extended key usages are copied, and the key usage bits
// are copied too (kubeadm sets digitalSignature + keyEncipherment, which is what its own certificates carry anyway).
import { createPublicKey, generateKeyPair as generateKeyPairCb, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { Secret } from '../secret.js';
import { encodeDer, implicitPrimitive, namedBitString, octets, oid, parseDer, seq, toBinary, type Asn1 } from './der.js';
import { PkiError } from './errors.js';
import { loadIssuer, type IssuerInput } from './issuer.js';
import { keyIdentifier, privateKeyPem, spkiDer } from './keys.js';
import { EKU_NAMES, KEY_USAGE_BITS, OID, parsePrivateKey, readCertificate, readFirstCertificate, type ParsedCert } from './parse.js';
import { type San, SanSyntaxError, formatSan, ipTextToBytes, sanDiff, unionSans } from './sans.js';
import { extension, newSerial, signCertificate } from './sign.js';
import { validityWindow, type ValidityOptions } from './validity.js';
import { verifyIssuedBy } from './verify.js';

const generateKeyPair = promisify(generateKeyPairCb);

export interface RenewLeafOptions extends IssuerInput, ValidityOptions {
  /** The certificate being replaced (PEM): it must be issued by this CA. */
  oldCertPem: string;
  /** Keep this key (the old certificate's; checked to match it) instead of making a new one. */
  keepKey?: Secret<string>;
  /** SANs added to the old certificate's DNS and IP SANs (inventory `extraSans`). */
  extraSans?: ReadonlyArray<string>;
  /** A label for messages, e.g. `kadm-1:/etc/kubernetes/pki/apiserver.crt`. */
  source?: string;
}

export interface RenewLeafResult {
  certPem: string;
  cert: ParsedCert;
  /** The new key's PEM (in memory only); absent when the old key is kept (its file is not rewritten). */
  keyPem?: Secret<string>;
  /** What the old certificate had that the new one does not carry (URI or email SANs), for the plan to show. */
  dropped: string[];
  sanDiff: { added: string[]; removed: string[] };
}

/** A new private key of the same kind as a certificate's public key (RSA of its size, or EC on its curve): Node's native generator. */
export async function generateKeyLike(pub: ParsedCert['publicKey'], source?: string): Promise<KeyObject> {
  if (pub.algorithm === 'rsa' && pub.bits) return (await generateKeyPair('rsa', { modulusLength: pub.bits, publicExponent: 0x10001 })).privateKey;
  if (pub.algorithm === 'ec' && pub.curve) return (await generateKeyPair('ec', { namedCurve: pub.curve })).privateKey;
  if (pub.algorithm === 'ed25519') return (await generateKeyPair('ed25519')).privateKey;
  throw new PkiError('unsupported-key', `cannot make a key like the old one (${pub.algorithm}${pub.bits ? ` ${pub.bits}` : ''}${pub.curve ? ` ${pub.curve}` : ''})`, source);
}

const EKU_OIDS: Record<string, string> = Object.fromEntries(Object.entries(EKU_NAMES).map(([o, n]) => [n, o]));

/** Renew one leaf from its old certificate. The CA key is checked against the CA certificate, the old certificate against the CA. */
export async function renewLeaf(opts: RenewLeafOptions): Promise<RenewLeafResult> {
  const source = opts.source ?? 'certificate';
  const { cert: ca, key: caKey } = loadIssuer(opts);
  const old = readFirstCertificate(opts.oldCertPem, source);
  const v = verifyIssuedBy(opts.oldCertPem, opts.caCertPem);
  if (!v.ok)
    throw new PkiError('not-issued-by', `"${old.parsed.subject.text}" was not issued by the CA "${ca.parsed.subject.text}": ${v.reason}`, source);
  if (old.parsed.isCa) throw new PkiError('not-a-leaf', `"${old.parsed.subject.text}" is a CA certificate, not a leaf`, source);
  const { notBefore, notAfter } = validityWindow(opts, { days: 365, backdateSeconds: 0 }, source);

  let sans: San[];
  try {
    sans = unionSans(old.parsed.sans.filter((s) => s.type === 'dns' || s.type === 'ip'), opts.extraSans ?? []);
  } catch (e) {
    if (e instanceof SanSyntaxError) throw new PkiError('bad-san', e.message, source);
    throw e;
  }
  const dropped = old.parsed.sans.filter((s) => s.type !== 'dns' && s.type !== 'ip').map(formatSan);

  let key: KeyObject;
  if (opts.keepKey) {
    key = parsePrivateKey(opts.keepKey, undefined, `${source} (key)`).key.reveal();
    if (!spkiDer(key).equals(encodeDer(old.spki)))
      throw new PkiError('key-mismatch', `the key beside "${old.parsed.subject.text}" is not the key of that certificate: it cannot be kept`, source);
  } else key = await generateKeyLike(old.parsed.publicKey, source);
  const spki = parseDer(spkiDer(key));
  const caKid = ca.parsed.subjectKeyIdentifier ? toBinary(Buffer.from(ca.parsed.subjectKeyIdentifier.replace(/:/g, ''), 'hex')) : toBinary(keyIdentifier(ca.spki));
  const isRsa = createPublicKey(key).asymmetricKeyType === 'rsa';
  const usages = old.parsed.keyUsage?.length ? old.parsed.keyUsage : isRsa ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'];
  const ekus = (old.parsed.extendedKeyUsage ?? []).map((n) => EKU_OIDS[n] ?? n);

  const extensions: Asn1[] = [extension(OID.keyUsage, true, namedBitString(usages.map((u) => KEY_USAGE_BITS.indexOf(u as (typeof KEY_USAGE_BITS)[number]))))];
  if (ekus.length) extensions.push(extension(OID.extKeyUsage, false, seq(ekus.map((o) => oid(o)))));
  extensions.push(
    extension(OID.basicConstraints, true, seq([])),
    extension(OID.subjectKeyIdentifier, false, octets(toBinary(keyIdentifier(spki)))),
    extension(OID.authorityKeyIdentifier, false, seq([implicitPrimitive(0, caKid)])),
  );
  if (sans.length) extensions.push(extension(OID.subjectAltName, false, seq(sans.map(generalName))));
  const { der, pem } = signCertificate({ version: 3, serial: newSerial(), issuer: ca.subject, notBefore, notAfter, subject: old.subject, spki, extensions }, caKey, source);
  const issued = readCertificate(der, 0, 'new certificate');
  issued.parsed.pem = pem;
  const check = verifyIssuedBy(pem, opts.caCertPem);
  if (!check.ok) throw new PkiError('not-issued-by', `the renewed certificate does not verify against its CA: ${check.reason}`, source);
  const diff = sanDiff(old.parsed.sans, issued.parsed.sans);
  return {
    certPem: pem,
    cert: issued.parsed,
    ...(opts.keepKey ? {} : { keyPem: privateKeyPem(key, 'traditional') }),
    dropped,
    sanDiff: { added: diff.added.map(formatSan), removed: diff.removed.map(formatSan) },
  };
}

function generalName(san: San): Asn1 {
  if (san.type === 'dns') return implicitPrimitive(2, san.value);
  if (san.type === 'ip') return implicitPrimitive(7, toBinary(ipTextToBytes(san.value)));
  throw new Error(`unsupported SAN type ${san.type}`);
}
