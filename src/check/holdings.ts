// Turns one host's scanned files into the certificates it holds (decoded once per distinct PEM) and notes on files that gave none.
import { verifyIssuedBy } from '../pki/index.js';
import { parseCertificates, type ParsedCert } from '../pki/parse.js';
import { formatSan } from '../pki/sans.js';
import { posix } from 'node:path';
import type { CertFacts, CertSite, FileNote, HostHoldings, KubeconfigReference } from './model.js';
import type { ScanExtras, ScannedFile } from './scan-output.js';
import { kubeconfigEntries } from './kubeconfig-lines.js';

/** Decodes certificates, remembering each distinct PEM block: a fleet holds the same few certificates many times. */
export class CertDecoder {
  #cache = new Map<string, CertFacts | Error>();

  /** One PEM block → facts, or the reason it cannot be decoded. */
  decode(pemBlock: string): CertFacts | Error {
    const hit = this.#cache.get(pemBlock);
    if (hit) return hit;
    let out: CertFacts | Error;
    try {
      const parsed = parseCertificates(pemBlock);
      out = parsed.length === 1 ? facts(parsed[0]!) : new Error(`expected one certificate, found ${parsed.length}`);
    } catch (e) {
      out = e instanceof Error ? new Error(firstLine(e)) : new Error(String(e));
    }
    this.#cache.set(pemBlock, out);
    return out;
  }
}

function firstLine(e: Error): string {
  const issues = (e as { issues?: Array<{ message: string }> }).issues;
  return (issues?.[0]?.message ?? e.message).split('\n')[0]!.trim();
}

function cn(dn: ParsedCert['subject']): string {
  return dn.attributes.find((a) => a.type === 'CN')?.value ?? dn.text;
}

export function facts(c: ParsedCert): CertFacts {
  return {
    fingerprintSha256: c.fingerprintSha256,
    serialNumber: c.serialNumber,
    subject: c.subject.text,
    issuer: c.issuer.text,
    commonName: cn(c.subject),
    issuerCommonName: cn(c.issuer),
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    isCa: c.isCa,
    selfIssued: c.selfIssued,
    // Issuer name = subject name is not enough (cfssl gives an apiserver certificate its CA's very name): its own key must verify it.
    selfSigned: c.selfIssued && verifyIssuedBy(c.pem, c.pem).ok,
    sans: c.sans.map(formatSan),
  };
}

/** PEM certificate blocks inside a decoded kubeconfig `*-data` value; anything else in it is dropped unread. */
function certBlocksOf(base64: string): string[] | undefined {
  if (!/^[A-Za-z0-9+/=\s]+$/.test(base64)) return undefined;
  const text = Buffer.from(base64, 'base64').toString('latin1');
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => m[0] + '\n');
}

/** Everything one host holds, from its scanned files (and what the scan said beside them: probes, missing files). */
export function hostHoldings(host: string, files: readonly ScannedFile[], decoder: CertDecoder, extras?: ScanExtras): HostHoldings {
  const certs: HostHoldings['certs'] = [];
  const notes: FileNote[] = [];
  const references: KubeconfigReference[] = [];
  const currentUsers: Record<string, string> = {};
  const missing = new Set(extras?.missing ?? []);
  const add = (site: CertSite, pem: string) => {
    const r = decoder.decode(pem);
    if (r instanceof Error) notes.push({ path: site.label, reason: 'damaged', detail: `certificate cannot be decoded: ${r.message}` });
    else certs.push({ site, cert: r });
  };
  for (const f of files) {
    if (f.danglingTo !== undefined) {
      notes.push({ path: f.path, reason: 'damaged', detail: `symbolic link to ${f.danglingTo || 'nothing'}, which does not exist` });
      continue;
    }
    if (f.unreadable) {
      notes.push({ path: f.path, reason: 'unreadable', detail: 'matched but cannot be opened (permissions?): run as root or with become: true' });
      continue;
    }
    const several = f.pemBlocks.length > 1;
    const link = f.linkTarget !== undefined ? { linkTarget: f.linkTarget } : {};
    f.pemBlocks.forEach((pem, i) => add({ path: f.path, label: several ? `${f.path}#${i + 1}` : f.path, ...(several ? { index: i + 1 } : {}), ...link }, pem));
    if (f.damagedBlocks > 0) {
      notes.push({ path: f.path, reason: 'damaged', detail: `${f.damagedBlocks} certificate block(s) without their END line or with foreign lines: truncated or damaged file` });
    }
    let fromKubeconfig = 0;
    if (f.kubeconfigLines.length > 0) {
      const parsed = kubeconfigEntries(f.kubeconfigLines);
      const entries = parsed.certs;
      if (parsed.currentUser !== undefined) currentUsers[f.path] = parsed.currentUser;
      for (const r of parsed.refs) {
        // The certificate is reported under the file itself (the scan reads it even when no glob matched it). A relative
        // path is joined to the kubeconfig's directory as the scan joins it (not normalised), so the two name one file.
        const file = r.file.startsWith('/') ? r.file : `${posix.dirname(f.path)}/${r.file}`;
        const label = `${f.path}#user=${r.name ?? `[${r.entry}]`}`;
        const gone = missing.has(file);
        references.push({ label, kubeconfig: f.path, ...(r.name !== undefined ? { name: r.name } : {}), file, ...(gone ? { missing: true } : {}) });
        if (gone) notes.push({ path: label, reason: 'damaged', detail: `client-certificate names ${file}, which does not exist` });
        fromKubeconfig++;
      }
      const labelCount = new Map<string, number>();
      const base = (e: (typeof entries)[number]) =>
        `${f.path}#${e.field === 'client-certificate-data' ? 'user' : 'cluster'}=${e.name ?? `[${e.entry}]`}`;
      for (const e of entries) labelCount.set(base(e), (labelCount.get(base(e)) ?? 0) + 1);
      for (const e of entries) {
        const blocks = certBlocksOf(e.base64);
        const kc = { section: e.section, ...(e.name !== undefined ? { name: e.name } : {}), field: e.field };
        if (!blocks || blocks.length === 0) {
          notes.push({ path: base(e), reason: 'damaged', detail: `${e.field} holds no PEM certificate` });
          continue;
        }
        const several = blocks.length > 1 || (labelCount.get(base(e)) ?? 0) > 1;
        blocks.forEach((pem, i) => {
          fromKubeconfig++;
          add({ path: f.path, label: several ? `${base(e)}#${i + 1}` : base(e), ...(several ? { index: i + 1 } : {}), kubeconfig: kc }, pem);
        });
      }
    }
    const got = f.pemBlocks.length + fromKubeconfig;
    if (f.hasPrivateKey) {
      notes.push({ path: f.path, reason: 'private-key', detail: got > 0 ? `private key, not read (the file's ${got} certificate(s) were)` : 'private key, not read' });
    } else if (got === 0 && f.damagedBlocks === 0) {
      notes.push({ path: f.path, reason: 'no-certificate', detail: 'no certificate in this file' });
    }
  }
  return {
    host,
    certs,
    notes,
    files: files.length,
    ...(references.length ? { references } : {}),
    ...(Object.keys(currentUsers).length ? { currentUsers } : {}),
    ...(extras?.present.length ? { present: [...extras.present] } : {}),
  };
}
