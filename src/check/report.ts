// Folds every host's holdings into the fleet report: one row per (path, certificate), divergence warnings, notes, exit code.
import {
  CHECK_SCHEMA,
  type CertFacts,
  type CertificateRow,
  type CheckReport,
  type Divergence,
  type HostOutcome,
  type HostSummary,
  type NoteRow,
  type KubeadmNodeView,
  type ReferenceRow,
  type SecretsSummary,
} from './model.js';

export interface ReportInput {
  /** Every selected host, in inventory order. */
  hosts: ReadonlyArray<{ name: string; address?: string }>;
  /** Outcome per host name; a host without one counts as failed. */
  outcomes: ReadonlyMap<string, HostOutcome>;
  warnDays: number;
  now: Date;
  checkPaths?: string[];
  /** How reading the secrets went, when they were asked for. */
  secrets?: SecretsSummary;
  /** kubeadm's view of each selected control-plane node (run-check.ts builds it from the holdings). */
  kubeadm?: KubeadmNodeView[];
}

const DAY = 86_400;

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function buildReport(input: ReportInput): CheckReport {
  const nowMs = input.now.getTime();
  const order = new Map(input.hosts.map((h, i) => [h.name, i]));
  const sortHosts = (hs: Iterable<string>) => [...new Set(hs)].sort((a, b) => (order.get(a) ?? 1e9) - (order.get(b) ?? 1e9) || byText(a, b));

  const rows = new Map<string, CertificateRow>();
  const notes = new Map<string, NoteRow>();
  const refs = new Map<string, ReferenceRow>();
  const hostSummaries: HostSummary[] = [];
  for (const h of input.hosts) {
    const o = input.outcomes.get(h.name) ?? { ok: false, failure: { host: h.name, kind: 'closed', message: `${h.name}: not checked` } };
    if (!o.ok) {
      hostSummaries.push({
        name: h.name,
        ...(h.address ? { address: h.address } : {}),
        status: 'failed',
        files: 0,
        certificates: 0,
        error: { kind: o.failure.kind, message: o.failure.message, ...(o.failure.hint ? { hint: o.failure.hint } : {}) },
      });
      continue;
    }
    const hold = o.holdings;
    hostSummaries.push({ name: h.name, ...(h.address ? { address: h.address } : {}), status: 'ok', files: hold.files, certificates: hold.certs.length });
    for (const { site, cert } of hold.certs) {
      const key = `${site.label}\0${cert.fingerprintSha256}\0${site.linkTarget ?? ''}`;
      let row = rows.get(key);
      if (!row) {
        const remainingSeconds = Math.floor((Date.parse(cert.notAfter) - nowMs) / 1000);
        row = {
          ...site,
          ...cert,
          remainingSeconds,
          status: remainingSeconds <= 0 ? 'expired' : remainingSeconds < input.warnDays * DAY ? 'expiring' : 'ok',
          notYetValid: Date.parse(cert.notBefore) > nowMs,
          hosts: [],
        };
        rows.set(key, row);
      }
      row.hosts.push(h.name);
    }
    for (const r of hold.references ?? []) {
      const key = `${r.label}\0${r.file}\0${r.missing ? 1 : 0}`;
      let row = refs.get(key);
      if (!row) refs.set(key, (row = { ...r, hosts: [] }));
      row.hosts.push(h.name);
    }
    for (const n of hold.notes) {
      const key = `${n.path}\0${n.reason}\0${n.detail}`;
      let row = notes.get(key);
      if (!row) notes.set(key, (row = { ...n, hosts: [] }));
      row.hosts.push(h.name);
    }
  }

  const certificates = [...rows.values()]
    .map((r) => ({ ...r, hosts: sortHosts(r.hosts) }))
    .sort((a, b) => byText(a.path, b.path) || byText(a.label, b.label) || byText(a.notAfter, b.notAfter) || byText(a.fingerprintSha256, b.fingerprintSha256));
  const files = [...notes.values()].map((n) => ({ ...n, hosts: sortHosts(n.hosts) })).sort((a, b) => byText(a.path, b.path) || byText(a.reason, b.reason));
  const divergences = findDivergences(certificates);
  const references = [...refs.values()].map((r) => ({ ...r, hosts: sortHosts(r.hosts) })).sort((a, b) => byText(a.label, b.label) || byText(a.file, b.file));

  const failed = hostSummaries.filter((h) => h.status === 'failed').length;
  const count = (reason: string) => files.filter((f) => f.reason === reason).reduce((n, f) => n + f.hosts.length, 0);
  const expired = certificates.filter((r) => r.status === 'expired').length;
  const expiring = certificates.filter((r) => r.status === 'expiring').length;
  const damaged = count('damaged');
  const unreadableFiles = count('unreadable');
  const exitCode = failed > 0 || unreadableFiles > 0 ? 2 : expired + expiring + damaged > 0 ? 1 : 0;
  return {
    schema: CHECK_SCHEMA,
    checkedAt: input.now.toISOString(),
    warnDays: input.warnDays,
    ...(input.checkPaths ? { checkPaths: input.checkPaths } : {}),
    summary: {
      hosts: hostSummaries.length,
      hostsRead: hostSummaries.length - failed,
      hostsFailed: failed,
      certificates: certificates.length,
      expired,
      expiring,
      damaged,
      privateKeysNotRead: count('private-key'),
      unreadableFiles,
      divergentPaths: divergences.length,
      exitCode,
    },
    hosts: hostSummaries,
    certificates,
    divergences,
    files,
    ...(input.secrets ? { secrets: input.secrets } : {}),
    ...(references.length ? { references } : {}),
    ...(input.kubeadm ? { kubeadm: input.kubeadm } : {}),
  };
}

function sanSet(c: CertFacts): Set<string> {
  return new Set(c.sans);
}

function contains(a: Set<string>, b: Set<string>): boolean {
  for (const x of b) if (!a.has(x)) return false;
  return true;
}

/**
 * Which certificates at the same path on different hosts are copies that should be identical, yet differ.
 * Two certificates at one path count as "the same certificate, diverged" when they have the same subject and issuer and
 * either are CAs, or are leaves with SANs where one SAN set contains the other (a renewal keeps or adds SANs).
 * Per-node certificates are left alone: their subjects differ (kubelet, kubeadm etcd server), their SAN sets differ
 * each way (kubeadm apiserver.crt names its own node), or they have no SANs at all (per-node client certificates
 * such as the ones in kubeadm's admin.conf).
 */
export function findDivergences(rows: readonly CertificateRow[]): Divergence[] {
  const byLabel = new Map<string, CertificateRow[]>();
  for (const r of rows) {
    const list = byLabel.get(r.label) ?? [];
    list.push(r);
    byLabel.set(r.label, list);
  }
  const out: Divergence[] = [];
  for (const [label, list] of byLabel) {
    if (list.length < 2) continue;
    // Group the variants by identity; a group with several fingerprints that passes the rule diverged.
    const groups = new Map<string, CertificateRow[]>();
    for (const r of list) {
      const k = `${r.subject}\0${r.issuer}`;
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    for (const g of groups.values()) {
      if (g.length < 2) continue;
      const sets = g.map((r) => sanSet(r));
      const copies =
        g.every((r) => r.isCa) ||
        (sets.every((s) => s.size > 0) && sets.every((a) => sets.every((b) => contains(a, b) || contains(b, a))));
      if (!copies) continue;
      out.push({
        label,
        path: g[0]!.path,
        variants: g
          .map((r) => ({ fingerprintSha256: r.fingerprintSha256, serialNumber: r.serialNumber, notBefore: r.notBefore, notAfter: r.notAfter, hosts: r.hosts }))
          .sort((a, b) => b.hosts.length - a.hosts.length || byText(b.notAfter, a.notAfter)),
      });
    }
  }
  return out.sort((a, b) => byText(a.label, b.label));
}
