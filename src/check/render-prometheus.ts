// The check report as Prometheus text exposition (node_exporter textfile collector): one series per certificate per host.
import type { CheckReport } from './model.js';

/** A label value in the text format: backslash, double quote and line feed escaped. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and line feed escaped. */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

type Labels = Record<string, string>;

class Family {
  samples: string[] = [];
  seen = new Set<string>();
  constructor(
    readonly name: string,
    readonly type: 'gauge' | 'counter',
    readonly help: string,
  ) {}
  add(labels: Labels, value: number) {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
      .join(',');
    if (this.seen.has(l)) return;
    this.seen.add(l);
    this.samples.push(`${this.name}${l ? `{${l}}` : ''} ${formatValue(value)}`);
  }
  render(): string[] {
    return [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`, ...this.samples];
  }
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

export function renderPrometheus(r: CheckReport): string {
  const f = {
    notAfter: new Family('certroll_cert_not_after_seconds', 'gauge', 'Not After of the certificate, in seconds since the Unix epoch.'),
    notBefore: new Family('certroll_cert_not_before_seconds', 'gauge', 'Not Before of the certificate, in seconds since the Unix epoch.'),
    expired: new Family('certroll_cert_expired', 'gauge', '1 when the certificate had expired at check time, else 0.'),
    expiring: new Family('certroll_cert_expiring', 'gauge', `1 when the certificate expires within --warn-days (${r.warnDays}) of check time or has expired, else 0.`),
    sans: new Family('certroll_cert_san_count', 'gauge', 'Number of subject alternative names of the certificate.'),
    isCa: new Family('certroll_cert_is_ca', 'gauge', '1 when the certificate is a CA (basicConstraints CA:TRUE), else 0.'),
    divergent: new Family('certroll_check_path_divergent', 'gauge', '1 when the same path holds different copies of one certificate on different hosts (a host missed a distribution), else 0.'),
    up: new Family('certroll_check_host_up', 'gauge', '1 when the host was reached and its check paths read, else 0.'),
    hostCerts: new Family('certroll_check_host_certificates', 'gauge', 'Certificates read on the host.'),
    notRead: new Family('certroll_check_files_not_read', 'gauge', 'Matched files (or parts) that gave no certificate, by reason: private-key (never read), no-certificate, damaged, unreadable.'),
    time: new Family('certroll_check_timestamp_seconds', 'gauge', 'When the check ran, in seconds since the Unix epoch.'),
    warn: new Family('certroll_check_warn_days', 'gauge', 'The --warn-days threshold of the check.'),
  };
  for (const c of r.certificates) {
    for (const host of c.hosts) {
      const l = { host, path: c.label, subject: c.subject, issuer: c.issuer };
      f.notAfter.add(l, seconds(c.notAfter));
      f.notBefore.add(l, seconds(c.notBefore));
      f.expired.add(l, c.status === 'expired' ? 1 : 0);
      f.expiring.add(l, c.status === 'ok' ? 0 : 1);
      f.sans.add(l, c.sans.length);
      f.isCa.add(l, c.isCa ? 1 : 0);
    }
  }
  const divergent = new Set(r.divergences.map((d) => d.label));
  for (const label of new Set(r.certificates.map((c) => c.label))) f.divergent.add({ path: label }, divergent.has(label) ? 1 : 0);
  for (const h of r.hosts) {
    f.up.add({ host: h.name }, h.status === 'ok' ? 1 : 0);
    if (h.status === 'ok') f.hostCerts.add({ host: h.name }, h.certificates);
  }
  const notRead = new Map<string, number>();
  for (const n of r.files) for (const host of n.hosts) notRead.set(`${host}\0${n.reason}`, (notRead.get(`${host}\0${n.reason}`) ?? 0) + 1);
  for (const [k, v] of notRead) {
    const [host, reason] = k.split('\0') as [string, string];
    f.notRead.add({ host, reason }, v);
  }
  f.time.add({}, seconds(r.checkedAt));
  f.warn.add({}, r.warnDays);
  return Object.values(f)
    .filter((fam) => fam.samples.length > 0)
    .flatMap((fam) => fam.render())
    .join('\n') + '\n';
}
