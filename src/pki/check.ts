// The checks run on new certificates before anything is distributed: mixed-state trust, key match, SAN diff, expiry, lifetimes; returns findings, never throws for a failed check.
import type { Secret } from '../secret.js';
import { encodeDer } from './der.js';
import { parsePrivateKey, readFirstCertificate, type ParsedCert } from './parse.js';
import { type San, formatSan, missingSans, sanDiff } from './sans.js';
import { verifyIssuedBy } from './verify.js';

export interface Finding {
  level: 'error' | 'warning' | 'info';
  /** Stable identifier, e.g. `san-removed`, `trust-new-leaf-old-ca`. */
  code: string;
  /** One sentence an operator can act on. */
  message: string;
}

export interface CheckRenewalInput {
  oldCaPem: string;
  newCaPem: string;
  oldLeafPem: string;
  newLeafPem: string;
  newLeafKeyPem: Secret<string>;
  newLeafKeyPassphrase?: Secret<string>;
  /** SANs the new leaf must have whatever the old one had: members' hostnames and IPs, 127.0.0.1, the service IP (see requiredEtcdSans). */
  requiredSans?: ReadonlyArray<string | San>;
  /** Turn the error for a SAN present in the old leaf but not in the new one into a warning. Default false. */
  allowSanRemoval?: boolean;
  now?: Date;
  /** Warn when the old CA or leaf expires within this many days (they are being renewed, so this is info). Default 30. */
  soonDays?: number;
}

const DAY = 86_400_000;

function when(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** Every check of invariants 3, 4 and 12 (design.md); `error` findings mean: refuse to distribute. */
export function checkRenewal(input: CheckRenewalInput): Finding[] {
  const f: Finding[] = [];
  const now = (input.now ?? new Date()).getTime();
  const oldCa = readFirstCertificate(input.oldCaPem, 'old CA');
  const newCa = readFirstCertificate(input.newCaPem, 'new CA');
  const oldLeaf = readFirstCertificate(input.oldLeafPem, 'old certificate');
  const newLeaf = readFirstCertificate(input.newLeafPem, 'new certificate');
  const oc = oldCa.parsed;
  const nc = newCa.parsed;
  const ol = oldLeaf.parsed;
  const nl = newLeaf.parsed;

  // The renewed CA must be the same CA: key, subject, key identifier.
  if (!encodeDer(oldCa.spki).equals(encodeDer(newCa.spki))) {
    f.push({ level: 'error', code: 'ca-key-changed', message: 'the new CA has a different public key from the old CA: certificates of one would not verify against the other' });
  }
  if (!encodeDer(oldCa.subject).equals(encodeDer(newCa.subject))) {
    f.push({ level: 'error', code: 'ca-subject-changed', message: `the new CA's subject "${nc.subject.text}" differs from the old "${oc.subject.text}"` });
  }
  if (oc.subjectKeyIdentifier !== nc.subjectKeyIdentifier) {
    f.push({
      level: 'error',
      code: 'ca-key-id-changed',
      message: `the new CA's subject key id ${nc.subjectKeyIdentifier ?? '(none)'} differs from the old ${oc.subjectKeyIdentifier ?? '(none)'}`,
    });
  }

  // Mixed-state trust during the rolling restart.
  const trust: Array<[string, string, string, string, string]> = [
    ['trust-new-leaf-new-ca', input.newLeafPem, input.newCaPem, 'the new certificate', 'the new CA'],
    ['trust-new-leaf-old-ca', input.newLeafPem, input.oldCaPem, 'the new certificate', 'the old CA (members not yet restarted)'],
    ['trust-old-leaf-new-ca', input.oldLeafPem, input.newCaPem, 'the old certificate (members not yet restarted)', 'the new CA'],
  ];
  let trustOk = true;
  for (const [code, leafPem, caPem, leafName, caName] of trust) {
    const r = verifyIssuedBy(leafPem, caPem);
    if (!r.ok) {
      trustOk = false;
      f.push({ level: 'error', code, message: `${leafName} does not verify against ${caName}: ${r.reason}` });
    }
  }
  if (trustOk) {
    f.push({
      level: 'info',
      code: 'mixed-trust-ok',
      message: 'old and new certificates verify against both the old and the new CA: members can be restarted one at a time',
    });
  }

  // The new key belongs to the new certificate.
  try {
    const key = parsePrivateKey(input.newLeafKeyPem, input.newLeafKeyPassphrase, 'new key');
    if (key.publicKeySpkiSha256 !== nl.publicKey.spkiSha256) {
      f.push({ level: 'error', code: 'new-leaf-key-mismatch', message: 'the new private key does not belong to the new certificate' });
    }
  } catch (e) {
    f.push({ level: 'error', code: 'new-leaf-key-unreadable', message: `the new private key cannot be read: ${(e as Error).message}` });
  }

  // Usage of the new leaf: etcd uses one certificate as server, peer and client.
  const lacking = ['serverAuth', 'clientAuth'].filter((u) => !(nl.extendedKeyUsage ?? []).includes(u));
  if (nl.keyUsage && !nl.keyUsage.includes('digitalSignature')) lacking.push('digitalSignature');
  if (lacking.length > 0) {
    f.push({ level: 'error', code: 'new-leaf-usage', message: `the new certificate lacks ${lacking.join(', ')}: etcd needs server and client auth` });
  }

  // SANs.
  if (!ol.hasSanExtension) {
    f.push({
      level: 'warning',
      code: 'old-leaf-no-san',
      message: `the old certificate "${ol.subject.text}" has no subjectAltName extension: its names cannot be carried over; the new SANs come from the inventory only`,
    });
  }
  const diff = sanDiff(ol.sans, nl.sans);
  if (diff.added.length > 0) {
    f.push({ level: 'info', code: 'san-added', message: `SANs added: ${diff.added.map(formatSan).join(', ')}` });
  }
  if (diff.removed.length > 0) {
    f.push({
      level: input.allowSanRemoval ? 'warning' : 'error',
      code: 'san-removed',
      message:
        `SANs removed: ${diff.removed.map(formatSan).join(', ')}: clients using these names will be refused` +
        (input.allowSanRemoval ? ' (allowed by override)' : '; allow it explicitly if intended'),
    });
  }
  if (diff.added.length === 0 && diff.removed.length === 0) {
    f.push({ level: 'info', code: 'san-unchanged', message: `SANs unchanged (${nl.sans.length})` });
  }
  const missing = missingSans(input.requiredSans ?? [], nl.sans);
  if (missing.length > 0) {
    f.push({ level: 'error', code: 'san-missing', message: `the new certificate lacks required SANs: ${missing.map(formatSan).join(', ')}` });
  }

  // Expiry of what is being replaced.
  const soon = (input.soonDays ?? 30) * DAY;
  const expiry = (p: ParsedCert, code: string, what: string) => {
    const end = Date.parse(p.notAfter);
    if (end <= now) {
      f.push({
        level: 'warning',
        code: `${code}-expired`,
        message:
          `${what} expired at ${when(p.notAfter)}: members may already refuse each other and the cluster may be down; ` +
          'a rolling restart cannot keep quorum then: restart all members together and expect downtime',
      });
    } else if (end - now <= soon) {
      f.push({ level: 'info', code: `${code}-expires-soon`, message: `${what} expires at ${when(p.notAfter)} (in ${Math.floor((end - now) / DAY)} days)` });
    }
  };
  expiry(oc, 'old-ca', 'the old CA');
  expiry(ol, 'old-leaf', 'the old certificate');

  // A renewal never shortens a lifetime (invariant 12), and the new certificates are valid now.
  const lifetime = (o: ParsedCert, n: ParsedCert, code: string, what: string, notYetCode: string) => {
    if (Date.parse(n.notAfter) <= Date.parse(o.notAfter)) {
      f.push({
        level: 'error',
        code,
        message: `the new ${what} ends ${when(n.notAfter)}, not later than the one it replaces (${when(o.notAfter)}): a renewal must not shorten a lifetime`,
      });
    }
    if (Date.parse(n.notBefore) > now) {
      f.push({
        level: 'warning',
        code: notYetCode,
        message: `the new ${what} is valid only from ${when(n.notBefore)}: check the clocks`,
      });
    }
  };
  lifetime(oc, nc, 'ca-lifetime-shortened', 'CA', 'new-ca-not-yet-valid');
  lifetime(ol, nl, 'leaf-lifetime-shortened', 'certificate', 'new-leaf-not-yet-valid');
  if (Date.parse(nl.notAfter) > Date.parse(nc.notAfter)) {
    f.push({
      level: 'warning',
      code: 'leaf-outlives-ca',
      message: `the new certificate (until ${when(nl.notAfter)}) outlives the new CA (until ${when(nc.notAfter)}): it stops verifying when the CA expires`,
    });
  }
  return f;
}
