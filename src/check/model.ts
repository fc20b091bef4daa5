// The data of a fleet-wide certificate check: what one host holds, and the folded report (also the --json schema, docs/check.md).
import type { HostFailureKind } from '../errors.js';

/** Where one certificate sits on one host. */
export interface CertSite {
  /** The file. */
  path: string;
  /**
   * What the report shows as its path: the file, `path#N` for the Nth certificate (1-based) of a file holding several,
   * `path#user=NAME` / `path#cluster=NAME` for a kubeconfig entry (plus `#N` when that entry holds several).
   */
  label: string;
  /** 1-based position in the file or kubeconfig entry, when it holds several certificates. */
  index?: number;
  kubeconfig?: { section: string; name?: string; field: 'client-certificate-data' | 'certificate-authority-data' };
  /** `path` is a symbolic link to this file (kubelet-client-current.pem → kubelet-client-DATE.pem). */
  linkTarget?: string;
  /** A certificate read from a Kubernetes secret (then `path` is `secret:NAMESPACE/NAME/KEY`, see ./secrets.ts). */
  secret?: SecretRef;
}

/** Where a certificate sits in a Kubernetes secret. */
export interface SecretRef {
  namespace: string;
  name: string;
  /** The key in the secret's `data`. */
  key: string;
  /** The secret's `type` (`kubernetes.io/tls`, `istio.io/ca-root`, `Opaque`, …). */
  type: string;
}

/** The facts of a certificate that the check reports (a subset of pki's ParsedCert, JSON-safe). */
export interface CertFacts {
  fingerprintSha256: string;
  serialNumber: string;
  subject: string;
  issuer: string;
  /** Subject CN (or the whole subject when it has none). */
  commonName: string;
  issuerCommonName: string;
  notBefore: string;
  notAfter: string;
  isCa: boolean;
  selfIssued: boolean;
  /** Signed by its own key (a root), not merely named like its issuer. */
  selfSigned: boolean;
  /** `DNS:x`, `IP:y`, … */
  sans: string[];
}

export type NoteReason = 'private-key' | 'no-certificate' | 'unreadable' | 'damaged';

/** A matched file, or part of one, that gave no certificate. */
export interface FileNote {
  path: string;
  reason: NoteReason;
  /** One line; never quotes file content. */
  detail: string;
}

/** A kubeconfig user entry that names its client certificate by file (`client-certificate: PATH`): kubelet.conf after rotation. */
export interface KubeconfigReference {
  /** The entry as the report names it: `KUBECONFIG#user=NAME`. */
  label: string;
  /** The kubeconfig file. */
  kubeconfig: string;
  /** The user entry's name. */
  name?: string;
  /** The certificate file (relative paths resolved against the kubeconfig's directory); its certificate is reported under this path. */
  file: string;
  /** The file does not exist. */
  missing?: boolean;
}

/** What one host holds. */
export interface HostHoldings {
  host: string;
  certs: Array<{ site: CertSite; cert: CertFacts }>;
  notes: FileNote[];
  /** Files the scan matched. */
  files: number;
  /** Kubeconfig entries whose client certificate is a file. */
  references?: KubeconfigReference[];
  /** Kubeconfig file → the user entry of its current context. */
  currentUsers?: Record<string, string>;
  /** Probed paths (kubeadm's CA keys) that exist. */
  present?: string[];
}

export interface HostFailure {
  host: string;
  kind: HostFailureKind;
  message: string;
  hint?: string;
}

export type HostOutcome = { ok: true; holdings: HostHoldings } | { ok: false; failure: HostFailure };

export type CertStatus = 'ok' | 'expiring' | 'expired';

/** One row of the report: one certificate (by fingerprint) at one path label, on every host that holds it there. */
export interface CertificateRow extends CertFacts, CertSite {
  /** Seconds from the check's time to Not After (negative when expired). */
  remainingSeconds: number;
  status: CertStatus;
  /** Not Before is still in the future. */
  notYetValid: boolean;
  hosts: string[];
}

/** The same path holds different certificates of the same identity on different hosts: a host probably missed a distribution. */
export interface Divergence {
  label: string;
  path: string;
  /** Most widespread first. */
  variants: Array<{ fingerprintSha256: string; serialNumber: string; notBefore: string; notAfter: string; hosts: string[] }>;
}

export interface NoteRow extends FileNote {
  hosts: string[];
}

export interface HostSummary {
  name: string;
  address?: string;
  status: 'ok' | 'failed';
  /** Files matched by the check paths (0 when failed). */
  files: number;
  certificates: number;
  error?: { kind: HostFailureKind; message: string; hint?: string };
}

export const CHECK_SCHEMA = 'certroll.check/v1';

export interface CheckReport {
  schema: typeof CHECK_SCHEMA;
  /** When the check ran (ISO-8601 UTC); remainingSeconds and status are relative to it. */
  checkedAt: string;
  warnDays: number;
  checkPaths?: string[];
  summary: {
    hosts: number;
    hostsRead: number;
    hostsFailed: number;
    /** Rows in `certificates`. */
    certificates: number;
    expired: number;
    expiring: number;
    damaged: number;
    privateKeysNotRead: number;
    unreadableFiles: number;
    divergentPaths: number;
    /** What certroll exits with for this report (0 ok, 1 findings, 2 a host or file could not be read). */
    exitCode: 0 | 1 | 2;
  };
  hosts: HostSummary[];
  certificates: CertificateRow[];
  divergences: Divergence[];
  /** Matched files (or parts) that gave no certificate: private keys (not read), damaged PEM, unreadable files. */
  files: NoteRow[];
  /** Only when secrets were asked for (`secrets: true`, `--secrets`): how reading them through kubectl went. */
  secrets?: SecretsSummary;
  /** Kubeconfig entries naming their client certificate by file (its certificate is the row of that file); only when there are some. */
  references?: ReferenceRow[];
  /** Only when a host of group control-plane was selected: `kubeadm certs check-expiration`'s rows, per node (./kubeadm.ts). */
  kubeadm?: KubeadmNodeView[];
}

export interface ReferenceRow extends KubeconfigReference {
  hosts: string[];
}

export type SecretsProblem = 'no-host' | 'missing' | 'unauthorized' | 'timeout' | 'truncated' | 'failed';

/** How reading the cluster's secrets went. A problem is a warning: it never fails the check (exit code unchanged). */
export interface SecretsSummary {
  /** The control-plane host whose kubectl was used ('' when no control-plane host was selected). */
  host: string;
  status: 'ok' | 'unavailable';
  /** Secret values read that held certificates (when ok). */
  values: number;
  problem?: SecretsProblem;
  /** One line: why the secrets could not be read, and what to do. */
  reason?: string;
}

export type KubeadmCaName = 'ca' | 'front-proxy-ca' | 'etcd-ca';
export type EtcdTopology = 'stacked' | 'external';

/** One row of kubeadm's tables for one node (the names of kubeadm's `-o json`, CertificateExpirationInfo, plus certroll's). */
export interface KubeadmEntry {
  name: string;
  /** The file kubeadm reads for this row. */
  path: string;
  /** That file does not exist (kubeadm: `!MISSING!`). */
  missing: boolean;
  /** Not After, ISO-8601 UTC. */
  expirationDate?: string;
  /** Seconds from the check's time to Not After, truncated toward zero (negative when expired). */
  residualTimeSeconds?: number;
  /** Certificates only: kubeadm's name of the CA that signs it. */
  caName?: KubeadmCaName;
  externallyManaged: boolean;
  /** The report's label of the certificate read (its `certificates[].label`; the referenced file for a kubeconfig naming one). */
  label?: string;
  serialNumber?: string;
  fingerprintSha256?: string;
  /** The file is there but gives no certificate kubeadm could read (kubeadm itself stops with an error there). */
  problem?: string;
}

export interface KubeadmNodeView {
  host: string;
  etcd: EtcdTopology;
  certificates: KubeadmEntry[];
  certificateAuthorities: KubeadmEntry[];
  /** The host could not be read: no rows. */
  error?: string;
}

