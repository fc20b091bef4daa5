// The human view of a check report: a kubeadm-style expiry table for the whole fleet, then warnings, notes and host errors.
import { foldHosts, formatRemaining, renderTable, type Column, type Palette } from '../render/text.js';
import type { CertificateRow, CheckReport, HostSummary } from './model.js';

/** All the sentences `check` prints, in one place. */
export const TEXT = {
  noHosts: 'No host selected.',
  noCerts: 'No certificate found in the check paths.',
  divergent: (label: string, n: number) => `warning: ${label} holds ${n} different certificates on different hosts`,
  divergentHint: 'a host probably missed an earlier distribution: compare the copies and redistribute the current one',
  hostFailed: (name: string, message: string) => `error: ${name}: ${message}`,
  hostsFailed: (hosts: string, n: number, message: string) => `error: ${n} hosts not read (${hosts}): ${message}`,
  wideHint: '(--wide or --json lists every host)',
  notesTitle: 'Files with no certificate read:',
  referencesTitle: "Kubeconfigs naming their client certificate by file (that file's row is theirs):",
  secretsUnavailable: (host: string, reason: string) => `warning: Kubernetes secrets not read${host ? ` through kubectl on ${host}` : ''}: ${reason}`,
  secretsHint: 'the check goes on without them (exit code unchanged); set vars.kubectl / vars.kubeconfig in the inventory if they are elsewhere',
  summary: (r: CheckReport) => {
    const s = r.summary;
    const parts = [
      `${s.hostsRead}/${s.hosts} host${s.hosts === 1 ? '' : 's'} read`,
      `${s.certificates} certificate row${s.certificates === 1 ? '' : 's'}`,
      `${s.expired} expired`,
      `${s.expiring} expiring within ${r.warnDays} day${r.warnDays === 1 ? '' : 's'}`,
    ];
    if (s.damaged) parts.push(`${s.damaged} damaged`);
    if (s.divergentPaths) parts.push(`${s.divergentPaths} divergent path${s.divergentPaths === 1 ? '' : 's'}`);
    if (s.hostsFailed) parts.push(`${s.hostsFailed} host${s.hostsFailed === 1 ? '' : 's'} not read`);
    if (r.secrets?.status === 'ok') parts.push(`${r.secrets.values} secret value${r.secrets.values === 1 ? '' : 's'} read through kubectl on ${r.secrets.host}`);
    return parts.join(', ');
  },
};

/** `2026-03-10 12:00 UTC` */
export function formatDate(iso: string): string {
  return iso.slice(0, 16).replace('T', ' ') + ' UTC';
}

/** `all 3`, `tos-1, tos-2`, `198 of 200` */
export function formatHosts(hosts: readonly string[], total: number): string {
  if (hosts.length === total && total > 1) return `all ${total}`;
  if (hosts.length <= 3) return hosts.join(', ');
  return `${hosts.length} of ${total}`;
}

/** A link's target, short when it is in the link's own directory (`kubelet-client-2026-01-01-00-00-00.pem`). */
export function linkText(path: string, target: string): string {
  if (!target) return '?';
  const dir = path.slice(0, path.lastIndexOf('/') + 1);
  return target.startsWith(dir) && !target.slice(dir.length).includes('/') ? target.slice(dir.length) : target;
}

export interface TextOptions {
  /** Every host name in full, never folded. */
  wide?: boolean;
}

/** Above this many failed hosts, failures with the same cause are printed once with the list of their hosts. */
const FAILURES_ONE_BY_ONE = 5;

/** Failed hosts grouped by kind and by their message with the host's own name and address taken out. */
export function groupFailures(failed: readonly HostSummary[]): Array<{ hosts: string[]; message: string; hint?: string }> {
  const groups = new Map<string, { hosts: string[]; message: string; hint?: string }>();
  const generic = (h: HostSummary, text: string) => {
    let t = text.split(h.name).join('<host>');
    if (h.address) t = t.split(h.address).join('<address>');
    return t;
  };
  for (const h of failed) {
    const message = generic(h, h.error?.message ?? 'failed');
    const hint = h.error?.hint ? generic(h, h.error.hint) : undefined;
    const key = `${h.error?.kind ?? ''}\0${message}\0${hint ?? ''}`;
    const g = groups.get(key) ?? { hosts: [], message, ...(hint ? { hint } : {}) };
    g.hosts.push(h.name);
    groups.set(key, g);
  }
  return [...groups.values()];
}

export function renderText(r: CheckReport, p: Palette, opts: TextOptions = {}): string {
  const out: string[] = [];
  const readHosts = r.summary.hostsRead;
  let folded = false;
  const fold = (hosts: readonly string[], total: number) => {
    const text = foldHosts(hosts, { total, wide: opts.wide });
    if (text !== hosts.join(', ')) folded = true;
    return text;
  };
  if (r.summary.hosts === 0) return TEXT.noHosts;
  const paint = (row: CertificateRow) => (s: string) => (row.status === 'expired' ? p.red(p.bold(s)) : row.status === 'expiring' ? p.yellow(s) : s);
  const cols: Column<CertificateRow>[] = [
    { header: 'CERTIFICATE', get: (c) => paint(c)(c.commonName + (c.isCa ? ' (CA)' : '')) },
    { header: 'PATH', get: (c) => c.label + (c.linkTarget !== undefined ? ` -> ${linkText(c.path, c.linkTarget)}` : '') },
    { header: 'HOSTS', get: (c) => formatHosts(c.hosts, readHosts) },
    { header: 'NOT AFTER', get: (c) => paint(c)(formatDate(c.notAfter)) },
    { header: 'RESIDUAL TIME', get: (c) => paint(c)(formatRemaining(c.remainingSeconds * 1000)), align: 'right' },
    { header: 'ISSUER', get: (c) => (c.selfSigned ? p.dim('self-signed') : c.issuerCommonName) },
    { header: 'SANS', get: (c) => String(c.sans.length), align: 'right' },
  ];
  out.push(r.certificates.length ? renderTable(r.certificates, cols) : TEXT.noCerts);

  for (const d of r.divergences) {
    out.push('');
    out.push(p.yellow(TEXT.divergent(d.label, d.variants.length)));
    for (const v of d.variants) {
      out.push(`  not after ${formatDate(v.notAfter)}  serial ${v.serialNumber}  SHA256 ${v.fingerprintSha256.slice(0, 23)}…  on ${fold(v.hosts, readHosts)}`);
    }
    out.push(`  → ${TEXT.divergentHint}`);
  }

  const refs = (r.references ?? []).filter((x) => !x.missing);
  if (refs.length) {
    out.push('');
    out.push(TEXT.referencesTitle);
    out.push(
      renderTable(refs, [
        { header: '  KUBECONFIG ENTRY', get: (x) => '  ' + x.label },
        { header: 'FILE', get: (x) => x.file },
        { header: 'HOSTS', get: (x) => formatHosts(x.hosts, readHosts) },
      ]),
    );
  }

  if (r.files.length) {
    out.push('');
    out.push(TEXT.notesTitle);
    out.push(
      renderTable(r.files, [
        { header: '  PATH', get: (n) => '  ' + n.path },
        { header: 'HOSTS', get: (n) => formatHosts(n.hosts, readHosts) },
        { header: 'NOTE', get: (n) => (n.reason === 'private-key' ? p.dim(n.detail) : p.yellow(n.detail)) },
      ]),
    );
  }

  if (r.secrets && r.secrets.status !== 'ok') {
    out.push('');
    out.push(p.yellow(TEXT.secretsUnavailable(r.secrets.host, r.secrets.reason ?? r.secrets.problem ?? 'unknown')));
    out.push(`  → ${TEXT.secretsHint}`);
  }

  const failed = r.hosts.filter((h) => h.status === 'failed');
  if (failed.length) {
    out.push('');
    if (opts.wide || failed.length <= FAILURES_ONE_BY_ONE) {
      for (const h of failed) {
        out.push(p.red(TEXT.hostFailed(h.name, h.error?.message ?? 'failed')));
        if (h.error?.hint) out.push(`  → ${h.error.hint}`);
      }
    } else {
      for (const g of groupFailures(failed)) {
        if (g.hosts.length === 1) {
          const h = failed.find((x) => x.name === g.hosts[0])!;
          out.push(p.red(TEXT.hostFailed(h.name, h.error?.message ?? 'failed')));
          if (h.error?.hint) out.push(`  → ${h.error.hint}`);
          continue;
        }
        out.push(p.red(TEXT.hostsFailed(fold(g.hosts, r.summary.hosts), g.hosts.length, g.message)));
        if (g.hint) out.push(`  → ${g.hint}`);
      }
    }
  }
  out.push('');
  out.push(TEXT.summary(r));
  if (folded) out.push(p.dim(TEXT.wideHint));
  return out.join('\n');
}
