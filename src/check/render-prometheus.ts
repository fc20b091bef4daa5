// The check report as Prometheus text exposition (node_exporter textfile collector): one series per certificate per host.
import type { CertificateRow, CheckReport } from './model.js';

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

/** The serial number as x509-certificate-exporter writes it: decimal (Go's big.Int String()), from our upper-case hex. */
export function serialDecimal(hex: string): string {
  return /^[0-9A-Fa-f]+$/.test(hex) ? BigInt(`0x${hex}`).toString(10) : hex;
}

/** The CN of a distinguished name as pki writes it (`C=CN, O=x, CN=etcd`), or undefined when it has none. */
function cnOf(dn: string, commonName: string): string | undefined {
  return dn.split(', ').some((part) => part.startsWith('CN=')) ? commonName : undefined;
}

const basename = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/**
 * The labels x509-certificate-exporter gives a certificate (internal/collector.go: getBaseLabels and
 * getMetricsForCertificate), plus `host`: file certificates have `filename` and `filepath`, secret ones
 * `secret_namespace`, `secret_name`, `secret_key`; kubeconfig-embedded ones add `embedded_kind` (user | cluster) and
 * `embedded_key` (the entry's name). Absent subject/issuer CNs are absent labels, as there.
 */
export function certLabels(c: CertificateRow, host: string): Labels {
  const l: Labels = { host };
  if (c.secret) {
    l.secret_namespace = c.secret.namespace;
    l.secret_name = c.secret.name;
    l.secret_key = c.secret.key;
  } else {
    l.filename = basename(c.path);
    l.filepath = c.path;
  }
  if (c.kubeconfig) {
    l.embedded_kind = c.kubeconfig.section.replace(/s$/, '');
    if (c.kubeconfig.name !== undefined) l.embedded_key = c.kubeconfig.name;
  }
  l.serial_number = serialDecimal(c.serialNumber);
  const subjectCn = cnOf(c.subject, c.commonName);
  if (subjectCn !== undefined) l.subject_CN = subjectCn;
  const issuerCn = cnOf(c.issuer, c.issuerCommonName);
  if (issuerCn !== undefined) l.issuer_CN = issuerCn;
  return l;
}

/** Metric names; the x509_* ones are x509-certificate-exporter's, so its dashboards and alert rules work unchanged. */
export const METRICS = {
  notAfter: 'x509_cert_not_after',
  notBefore: 'x509_cert_not_before',
  expired: 'x509_cert_expired',
  certError: 'x509_cert_error',
  readErrors: 'x509_read_errors',
} as const;

export function renderPrometheus(r: CheckReport): string {
  const f = {
    notAfter: new Family(METRICS.notAfter, 'gauge', "Indicates the certificate's not after timestamp (seconds since the Unix epoch)."),
    notBefore: new Family(METRICS.notBefore, 'gauge', "Indicates the certificate's not before timestamp (seconds since the Unix epoch)."),
    expired: new Family(METRICS.expired, 'gauge', 'Indicates if the certificate is expired (1) at check time, else 0.'),
    certError: new Family(METRICS.certError, 'gauge', 'Indicates wether the corresponding file or secret has read failure(s): 1 for a matched file that could not be opened or holds a damaged certificate.'),
    readErrors: new Family(METRICS.readErrors, 'gauge', 'Indicates the number of read failure(s) on the host: 1 when the host could not be read at all, else its unreadable or damaged files (plus 1 when the secrets could not be read through kubectl there).'),
    divergent: new Family('certroll_check_path_divergent', 'gauge', '1 when the same path holds different copies of one certificate on different hosts (a host missed a distribution), else 0.'),
    up: new Family('certroll_check_host_up', 'gauge', '1 when the host was reached and its check paths read, else 0.'),
    hostCerts: new Family('certroll_check_host_certificates', 'gauge', 'Certificates read on the host.'),
    notRead: new Family('certroll_check_files_not_read', 'gauge', 'Matched files (or parts) that gave no certificate, by reason: private-key (never read), no-certificate, damaged, unreadable.'),
    time: new Family('certroll_check_timestamp_seconds', 'gauge', 'When the check ran, in seconds since the Unix epoch.'),
    warn: new Family('certroll_check_warn_seconds', 'gauge', 'The --warn-days threshold of the check, in seconds (promtool wants base units).'),
  };
  for (const c of r.certificates) {
    for (const host of c.hosts) {
      const l = certLabels(c, host);
      f.notAfter.add(l, seconds(c.notAfter));
      f.notBefore.add(l, seconds(c.notBefore));
      f.expired.add(l, c.status === 'expired' ? 1 : 0);
    }
  }
  const divergent = new Set(r.divergences.map((d) => d.label));
  for (const label of new Set(r.certificates.filter((c) => !c.secret).map((c) => c.label))) f.divergent.add({ path: label }, divergent.has(label) ? 1 : 0);
  const readErrors = new Map<string, number>();
  for (const h of r.hosts) {
    f.up.add({ host: h.name }, h.status === 'ok' ? 1 : 0);
    readErrors.set(h.name, h.status === 'ok' ? 0 : 1);
    if (h.status === 'ok') f.hostCerts.add({ host: h.name }, h.certificates);
  }
  const notRead = new Map<string, number>();
  for (const n of r.files) {
    for (const host of n.hosts) {
      notRead.set(`${host}\0${n.reason}`, (notRead.get(`${host}\0${n.reason}`) ?? 0) + 1);
      if (n.reason === 'unreadable' || n.reason === 'damaged') {
        readErrors.set(host, (readErrors.get(host) ?? 0) + 1);
        const where = n.path.split('#')[0]!;
        const secret = /^secret:([^/]*)\/([^/]*)\/(.*)$/.exec(where);
        f.certError.add(secret ? { host, secret_namespace: secret[1]!, secret_name: secret[2]!, secret_key: secret[3]! } : { host, filename: basename(where), filepath: where }, 1);
      }
    }
  }
  if (r.secrets && r.secrets.status !== 'ok') readErrors.set(r.secrets.host, (readErrors.get(r.secrets.host) ?? 0) + 1);
  for (const [host, n] of readErrors) f.readErrors.add({ host }, n);
  for (const [k, v] of notRead) {
    const [host, reason] = k.split('\0') as [string, string];
    f.notRead.add({ host, reason }, v);
  }
  f.time.add({}, seconds(r.checkedAt));
  f.warn.add({}, r.warnDays * 86_400);
  return Object.values(f)
    .filter((fam) => fam.samples.length > 0)
    .flatMap((fam) => fam.render())
    .join('\n') + '\n';
}
