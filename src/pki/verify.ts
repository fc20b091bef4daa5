// Does this CA vouch for this certificate? Name, key identifier, CA flags and signature, checked with Node's X509Certificate (OpenSSL).
import { X509Certificate } from 'node:crypto';
import { encodeDer } from './der.js';
import { readFirstCertificate } from './parse.js';

export type VerifyResult = { ok: true } | { ok: false; reason: string };

export interface VerifyOptions {
  /** Also require both certificates to be valid at this moment. Default: validity is not checked (see checkRenewal's expiry findings). */
  at?: Date;
}

/**
 * Whether `leafPem`'s first certificate is issued by `caPem`'s first certificate: issuer name equals the CA's subject,
 * authority key id (if any) equals the CA's subject key id (if any), the CA is a CA allowed to sign certificates,
 * and the signature verifies with the CA's public key. Never throws for a mismatch; throws PkiError for unreadable PEM.
 */
export function verifyIssuedBy(leafPem: string, caPem: string, opts: VerifyOptions = {}): VerifyResult {
  const leaf = readFirstCertificate(leafPem, 'certificate');
  const ca = readFirstCertificate(caPem, 'CA certificate');
  const l = leaf.parsed;
  const c = ca.parsed;
  if (!encodeDer(leaf.issuer).equals(encodeDer(ca.subject))) {
    const x = new X509Certificate(leaf.der);
    if (!x.checkIssued(new X509Certificate(ca.der))) {
      return { ok: false, reason: `its issuer "${l.issuer.text}" is not the CA's subject "${c.subject.text}"` };
    }
  }
  if (l.authorityKeyIdentifier && c.subjectKeyIdentifier && l.authorityKeyIdentifier !== c.subjectKeyIdentifier) {
    return {
      ok: false,
      reason: `its authority key id ${l.authorityKeyIdentifier} is not the CA's subject key id ${c.subjectKeyIdentifier} (another CA with the same name)`,
    };
  }
  if (!c.isCa) return { ok: false, reason: `"${c.subject.text}" is not a CA (basicConstraints CA:TRUE missing)` };
  if (c.keyUsage && !c.keyUsage.includes('keyCertSign')) {
    return { ok: false, reason: `the CA's key usage (${c.keyUsage.join(', ')}) does not allow signing certificates (keyCertSign)` };
  }
  const leafX = new X509Certificate(leaf.der);
  const caX = new X509Certificate(ca.der);
  if (!leafX.verify(caX.publicKey)) {
    return { ok: false, reason: `its signature does not verify with the public key of "${c.subject.text}" (signed by another key)` };
  }
  if (opts.at) {
    const t = opts.at.getTime();
    for (const [what, p] of [
      ['certificate', l],
      ['CA', c],
    ] as const) {
      if (t < Date.parse(p.notBefore)) return { ok: false, reason: `the ${what} is not valid before ${p.notBefore}` };
      if (t > Date.parse(p.notAfter)) return { ok: false, reason: `the ${what} expired at ${p.notAfter}` };
    }
  }
  return { ok: true };
}
