// kubeadm's own view of a control-plane node, as `kubeadm certs check-expiration` prints it: its row set (from the
// inventory's pkiDir and kubernetesDir), the certificate each row reads, residual time, `!MISSING!` rows, its two tables.
//
// Matched against kubeadm's source (kubernetes/kubernetes, cmd/kubeadm/app):
//   - rows: phases/certs/renewal/manager.go NewManager — the PKI leaves of certs.GetDefaultCertList() (external etcd:
//     GetCertsWithoutEtcd(), which drops etcd-ca, etcd-server, etcd-peer, etcd-healthcheck-client and
//     apiserver-etcd-client), plus admin.conf, super-admin.conf, controller-manager.conf, scheduler.conf (never
//     kubelet.conf); Certificates() and CAs() sort by name (Go string order);
//   - a kubeconfig row reads the client certificate of the current context's user (kubeconfig readwriter), a PKI row
//     the first certificate of `<pkiDir>/<base>.crt`; a row is `!MISSING!` when that file does not exist;
//   - EXTERNALLY MANAGED: phases/certs/certs.go UsingExternalCA & co. — the CA certificate is there and its key file
//     is not (a leaf takes its CA's answer);
//   - cmd/certs.go certTextPrinter: tabwriter.NewWriter(w, 10, 4, 3, ' ', 0), the date as "Jan 02, 2006 15:04 MST",
//     RESIDUAL TIME from apimachinery's duration.ShortHumanDuration, `%-8v` for yes/no, `!MISSING! NAME` + empty cells.
import type { ClusterVars } from '../inventory/types.js';
import type { CertFacts, CertSite, EtcdTopology, HostHoldings, KubeadmCaName, KubeadmEntry, KubeadmNodeView } from './model.js';

export interface KubeadmCertSpec {
  /** kubeadm's name: `apiserver`, `etcd-server`, `admin.conf`, … */
  name: string;
  /** The file kubeadm reads. */
  file: string;
  kind: 'pki' | 'kubeconfig';
  caName: KubeadmCaName;
}

export interface KubeadmCaSpec {
  name: KubeadmCaName;
  file: string;
  /** Absent key with the certificate present = externally managed. */
  keyFile: string;
}

export interface KubeadmLayout {
  etcd: EtcdTopology;
  /** Sorted by name, as kubeadm prints them. */
  certificates: KubeadmCertSpec[];
  cas: KubeadmCaSpec[];
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The rows `kubeadm certs check-expiration` lists for a node with these directories. */
export function kubeadmLayout(vars: Pick<ClusterVars, 'pkiDir' | 'kubernetesDir'>, etcd: EtcdTopology): KubeadmLayout {
  const pki = (base: string) => `${vars.pkiDir}/${base}`;
  const leaves: Array<[string, string, KubeadmCaName]> = [
    ['apiserver', 'apiserver', 'ca'],
    ['apiserver-kubelet-client', 'apiserver-kubelet-client', 'ca'],
    ['front-proxy-client', 'front-proxy-client', 'front-proxy-ca'],
  ];
  const cas: Array<[KubeadmCaName, string]> = [['ca', 'ca'], ['front-proxy-ca', 'front-proxy-ca']];
  if (etcd === 'stacked') {
    leaves.push(
      ['etcd-server', 'etcd/server', 'etcd-ca'],
      ['etcd-peer', 'etcd/peer', 'etcd-ca'],
      ['etcd-healthcheck-client', 'etcd/healthcheck-client', 'etcd-ca'],
      ['apiserver-etcd-client', 'apiserver-etcd-client', 'etcd-ca'],
    );
    cas.push(['etcd-ca', 'etcd/ca']);
  }
  const certificates: KubeadmCertSpec[] = [
    ...leaves.map(([name, base, caName]) => ({ name, file: pki(`${base}.crt`), kind: 'pki' as const, caName })),
    ...['admin.conf', 'super-admin.conf', 'controller-manager.conf', 'scheduler.conf'].map((f) => ({
      name: f,
      file: `${vars.kubernetesDir}/${f}`,
      kind: 'kubeconfig' as const,
      caName: 'ca' as const,
    })),
  ].sort(byName);
  return {
    etcd,
    certificates,
    cas: cas.map(([name, base]) => ({ name, file: pki(`${base}.crt`), keyFile: pki(`${base}.key`) })).sort(byName),
  };
}

/** The kubelet's files on every kubeadm node (not in kubeadm's tables; `check` reads them all the same). */
export function kubeletFiles(vars: Pick<ClusterVars, 'kubeletPkiDir' | 'kubernetesDir'>): string[] {
  return [`${vars.kubeletPkiDir}/kubelet-client-current.pem`, `${vars.kubeletPkiDir}/kubelet.crt`, `${vars.kubernetesDir}/kubelet.conf`];
}

type Held = HostHoldings['certs'][number];

const first = (c: Held) => (c.site.index ?? 1) === 1;

/** Is the file there, by what the scan said about it (a certificate, or a note on it or on a part of it)? */
function present(h: HostHoldings, file: string): boolean {
  return h.certs.some((c) => c.site.path === file) || h.notes.some((n) => n.path === file || n.path.startsWith(`${file}#`)) || (h.references ?? []).some((r) => r.kubeconfig === file);
}

function noteOn(h: HostHoldings, file: string): string | undefined {
  const n = h.notes.find((x) => (x.path === file || x.path.startsWith(`${file}#`)) && x.reason !== 'private-key');
  return n ? `${n.path}: ${n.detail}` : undefined;
}

/** The certificate kubeadm would read for a kubeconfig row: the current context's user's (embedded, or the file it names). */
function kubeconfigCert(h: HostHoldings, file: string): { held?: Held; problem?: string } {
  const user = h.currentUsers?.[file];
  const embedded = h.certs.filter((c) => c.site.path === file && c.site.kubeconfig?.field === 'client-certificate-data' && first(c));
  const pick = user !== undefined ? embedded.find((c) => c.site.kubeconfig?.name === user) : embedded[0];
  if (pick) return { held: pick };
  const refs = (h.references ?? []).filter((r) => r.kubeconfig === file && (user === undefined || r.name === user));
  const ref = refs[0];
  if (ref) {
    if (ref.missing) return { problem: `${ref.label}: client-certificate names ${ref.file}, which does not exist` };
    const held = h.certs.find((c) => c.site.path === ref.file && !c.site.kubeconfig && first(c));
    return held ? { held } : { problem: `${ref.file}: ${noteOn(h, ref.file) ?? 'no certificate'}` };
  }
  return { problem: noteOn(h, file) ?? `${file} does not have an embedded client certificate${user !== undefined ? ` for user ${user}` : ''}` };
}

function entry(name: string, path: string, held: Held | undefined, now: Date, extra: Partial<KubeadmEntry>): KubeadmEntry {
  const base = { name, path, missing: false, ...extra } as KubeadmEntry;
  if (!held) return base;
  const c: CertFacts = held.cert;
  const site: CertSite = held.site;
  return {
    ...base,
    expirationDate: c.notAfter,
    residualTimeSeconds: Math.trunc((Date.parse(c.notAfter) - now.getTime()) / 1000),
    label: site.label,
    serialNumber: c.serialNumber,
    fingerprintSha256: c.fingerprintSha256,
  };
}

/** kubeadm's two tables' data for one node, from what the scan read there (pure). */
export function kubeadmNodeView(host: string, h: HostHoldings, layout: KubeadmLayout, now: Date): KubeadmNodeView {
  const keys = new Set(h.present ?? []);
  const caFiles = new Map(layout.cas.map((ca) => [ca.name, ca]));
  const external = (ca: KubeadmCaName) => {
    const spec = caFiles.get(ca);
    return !!spec && present(h, spec.file) && !keys.has(spec.keyFile);
  };
  const certificates = layout.certificates.map((spec): KubeadmEntry => {
    const common = { caName: spec.caName, externallyManaged: external(spec.caName) };
    if (!present(h, spec.file)) return { name: spec.name, path: spec.file, missing: true, ...common };
    if (spec.kind === 'kubeconfig') {
      const { held, problem } = kubeconfigCert(h, spec.file);
      return entry(spec.name, spec.file, held, now, { ...common, ...(problem && !held ? { problem } : {}) });
    }
    const held = h.certs.find((c) => c.site.path === spec.file && !c.site.kubeconfig && first(c));
    return entry(spec.name, spec.file, held, now, { ...common, ...(!held ? { problem: noteOn(h, spec.file) ?? `${spec.file}: no certificate` } : {}) });
  });
  const certificateAuthorities = layout.cas.map((spec): KubeadmEntry => {
    if (!present(h, spec.file)) return { name: spec.name, path: spec.file, missing: true, externallyManaged: false };
    const held = h.certs.find((c) => c.site.path === spec.file && !c.site.kubeconfig && first(c));
    return entry(spec.name, spec.file, held, now, { externallyManaged: external(spec.name), ...(!held ? { problem: noteOn(h, spec.file) ?? `${spec.file}: no certificate` } : {}) });
  });
  return { host, etcd: layout.etcd, certificates, certificateAuthorities };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number) => String(n).padStart(2, '0');

/** Go's `t.Format("Jan 02, 2006 15:04 MST")` for a UTC time: `Feb 23, 2025 09:46 UTC` (seconds dropped, not rounded). */
export function kubeadmDate(iso: string): string {
  const d = new Date(iso);
  return `${MONTHS[d.getUTCMonth()]} ${pad2(d.getUTCDate())}, ${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())} UTC`;
}

/** apimachinery's duration.ShortHumanDuration of whole seconds: `<invalid>`, `0s`, `42s`, `5m`, `3h`, `354d`, `9y`. */
export function shortHumanDuration(seconds: number): string {
  const s = Math.trunc(seconds);
  if (s < -1) return '<invalid>';
  if (s < 0) return '0s';
  if (s < 60) return `${s}s`;
  const minutes = Math.trunc(s / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.trunc(s / 3600);
  if (hours < 24) return `${hours}h`;
  if (hours < 24 * 365) return `${Math.trunc(hours / 24)}d`;
  return `${Math.trunc(s / 3600 / 24 / 365)}y`;
}

/**
 * Go's text/tabwriter with kubeadm's settings (minwidth 10, padding 3, padchar ' ', no flags) over lines of
 * tab-separated cells: every tab-terminated cell is padded to its column's width (empty ones too), the last cell of a
 * line is written as it is; an empty line ends the column block, so the two tables are aligned each on its own.
 */
export function goTabwriter(lines: readonly string[], minwidth = 10, padding = 3): string {
  const out: string[] = [];
  let block: string[][] = [];
  const flush = () => {
    const widths: number[] = [];
    for (const cells of block) {
      for (let i = 0; i < cells.length - 1; i++) widths[i] = Math.max(widths[i] ?? minwidth, cells[i]!.length + padding);
    }
    for (const cells of block) out.push(cells.map((c, i) => (i < cells.length - 1 ? c.padEnd(widths[i]!) : c)).join(''));
    block = [];
  };
  for (const line of lines) {
    const cells = line.split('\t');
    if (cells.length === 1) {
      flush();
      out.push(line);
    } else block.push(cells);
  }
  flush();
  return out.join('\n');
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no').padEnd(8);

/** One node's output, byte for byte as kubeadm prints it (trailing spaces included); rows kubeadm could not read say `!ERROR!`. */
export function renderKubeadmTables(v: KubeadmNodeView): string {
  const lines = ['CERTIFICATE\tEXPIRES\tRESIDUAL TIME\tCERTIFICATE AUTHORITY\tEXTERNALLY MANAGED'];
  for (const c of v.certificates) {
    if (c.missing) lines.push(`!MISSING! ${c.name}\t\t\t\t`);
    else if (c.expirationDate === undefined) lines.push(`!ERROR! ${c.name}\t\t\t\t`);
    else lines.push(`${c.name}\t${kubeadmDate(c.expirationDate)}\t${shortHumanDuration(c.residualTimeSeconds!)}\t${c.caName}\t${yesNo(c.externallyManaged)}`);
  }
  lines.push('');
  lines.push('CERTIFICATE AUTHORITY\tEXPIRES\tRESIDUAL TIME\tEXTERNALLY MANAGED');
  for (const c of v.certificateAuthorities) {
    if (c.missing) lines.push(`!MISSING! ${c.name}\t\t\t`);
    else if (c.expirationDate === undefined) lines.push(`!ERROR! ${c.name}\t\t\t`);
    else lines.push(`${c.name}\t${kubeadmDate(c.expirationDate)}\t${shortHumanDuration(c.residualTimeSeconds!)}\t${yesNo(c.externallyManaged)}`);
  }
  return goTabwriter(lines);
}
