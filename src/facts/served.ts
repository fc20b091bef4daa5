// Whether each etcd member serves the certificate on its disk: a member keeps the leaf it loaded at start until it
// restarts, so fresh files do not mean a renewed cluster. A pure function of the facts (the served leaf comes from a TLS
// handshake in the etcd query, src/facts/etcd-facts.ts).
import { X509Certificate } from 'node:crypto';
import type { FleetFacts } from './types.js';

export interface ServedMismatch {
  host: string;
  endpoint: string;
  served: { serial: string; notAfter: string };
  /** The certificate file on the member's host. */
  file: { serial: string; notAfter: string };
}

function identity(pem: string | null | undefined): { fingerprint: string; serial: string; notAfter: string; lineage: string } | null {
  if (!pem) return null;
  try {
    const c = new X509Certificate(pem);
    return { fingerprint: c.fingerprint256, serial: c.serialNumber, notAfter: new Date(c.validTo).toISOString(), lineage: `${c.subject}\n${c.issuer}` };
  } catch {
    return null;
  }
}

/**
 * etcd members whose running process presents a leaf other than the certificate file on their host. Members whose served
 * leaf could not be seen (down, no openssl on the querying host), or whose file is missing, are not listed: health checks speak for them. A served
 * leaf with another subject or issuer name than the file is another certificate altogether (etcd configured with a file
 * the playbook does not manage): nothing is claimed about it, so such a layout never looks unfinished forever.
 */
export function servedMismatches(members: Array<{ host: string; endpoint: string }>, facts: FleetFacts, certRole: 'cert' = 'cert'): ServedMismatch[] {
  const served = facts.etcd?.served;
  if (!served) return [];
  const out: ServedMismatch[] = [];
  for (const m of members) {
    const s = identity(served[m.endpoint]);
    const hf = facts.hosts[m.host];
    if (!s || !hf) continue;
    const f = identity(hf.pems[certRole]);
    if (!f || f.fingerprint === s.fingerprint || f.lineage !== s.lineage) continue;
    out.push({ host: m.host, endpoint: m.endpoint, served: { serial: s.serial, notAfter: s.notAfter }, file: { serial: f.serial, notAfter: f.notAfter } });
  }
  return out;
}

export function describeServedMismatch(m: ServedMismatch, certFile: string): string {
  const served = `serial ${m.served.serial}, valid to ${m.served.notAfter.slice(0, 10)}`;
  return `${m.host}: etcd at ${m.endpoint} serves a certificate (${served}) other than its ${certFile} (serial ${m.file.serial}, valid to ${m.file.notAfter.slice(0, 10)}): the member has not restarted since the file changed`;
}
