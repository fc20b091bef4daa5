// A loaded, validated playbook: typed steps with their targets and parameters, each remembering where it was written.

export type KeyType = 'rsa2048' | 'rsa4096' | 'ecdsa-p256';

/** `all`, a group name, or `first(GROUP)`. */
export type TargetSpec = string;

export interface Located {
  file: string;
  line?: number;
}

export interface PreflightStep {
  type: 'preflight';
  minFreeMiB: number;
}
export interface BackupStep {
  type: 'backup';
  targets: TargetSpec[];
}
export interface RenewCaStep {
  type: 'renew-ca';
  on: TargetSpec;
  days: number;
}
export interface IssueCertStep {
  type: 'issue-cert';
  on: TargetSpec;
  days: number;
  keyType: KeyType;
  /** Let the new certificate drop SANs the old one had (off by default: removal is refused). */
  allowSanRemoval: boolean;
}
export interface DistributeStep {
  type: 'distribute';
  targets: TargetSpec[];
}
/** One static pod of a node, restarted on its own (kubeadm): its manifest, its container and what says it is healthy. */
export interface PodSpec {
  /** File name in the manifests dir. */
  manifest: string;
  /** The container's name (`crictl ps --name '^NAME$'`). */
  container: string;
  /** `etcd`: the node's etcd member healthy and caught up; else commands (argv, templated) that must all exit 0. */
  health: 'etcd' | string[][];
}

/** A port whose served certificate must be the file on disk after the node's restart (a TLS handshake on the node). */
export interface ServedSpec {
  /** `ADDRESS:PORT` as seen from the node itself (templated, e.g. `{{ vars.probeAddress }}:{{ vars.apiserverPort }}`). */
  endpoint: string;
  /** The certificate file that port must serve (templated). */
  cert: string;
}

/**
 * Restart the nodes one at a time (the etcd leader's node last). Without `pods` (TOS): every manifest parked at once,
 * stopped when no container name shows in `containerCheck`'s listing, healthy when the etcd member is and `apiserverCheck`
 * passes. With `pods` (kubeadm): each pod in turn, parked alone, its container's id remembered and a new one awaited
 * (`containerIds` + `^NAME$`), then its own health; `manifests` and `containerNames` are then the pods' (set by the loader).
 */
export interface RollingRestartStep {
  type: 'rolling-restart';
  targets: TargetSpec[];
  manifests: string[];
  containerCheck: string[];
  containerNames: string[];
  pauseSeconds: number;
  stopTimeoutSeconds: number;
  healthTimeoutSeconds: number;
  maxRaftLag: number;
  apiserverCheck?: string[];
  /** The static pods of a node in restart order (kubeadm). */
  pods?: PodSpec[];
  /** Lists the running containers of one name, one id per line; `^NAME$` is appended (with `pods`). */
  containerIds: string[];
  /** After each node: these ports must serve the certificate now on disk (a process holding the old one fails the node). */
  served: ServedSpec[];
  /** `renewed`: only when the run renews something; `always`: also when nothing was renewed (a restart after a renewal by hand). */
  when: 'renewed' | 'always';
}
export interface RestartFlannelStep {
  type: 'restart-flannel';
  on: TargetSpec;
  command: string[];
  skipIfMissing?: string;
}
export interface VerifyStep {
  type: 'verify';
  targets: TargetSpec[];
}

/** Copy the new CA into the Manager's TOS templates/gencerts and raise config.json's "expiry" values (issue 6). */
export interface ManagerTemplatesStep {
  type: 'manager-templates';
  targets: TargetSpec[];
  /** The "expiry" value to replace in config.json. */
  expiryFrom: string;
  /** Its replacement. */
  expiry: string;
}
/** Back up the Manager's `manager_info` table, then update the CA, certificate and key rows in one transaction (issue 6). */
export interface ManagerDbStep {
  type: 'manager-db';
  /** The host the mysql client runs on (the Manager host); must resolve to exactly one host. */
  on: TargetSpec;
  table: string;
}

/** kubeadm: renew each control-plane node's leaves under <certDir>/<pkiDir> natively, each signed by its own CA (ca, front-proxy-ca, etcd/ca). */
export interface RenewLeavesStep {
  type: 'renew-leaves';
  targets: TargetSpec[];
  /** Lifetime of the new certificates (kubeadm: 365). */
  days: number;
  /** Reuse each certificate's key instead of making a new one (kubeadm always makes a new key). */
  keepKeys: boolean;
  /** Leaf base names under the PKI dir (etcd ones as `etcd/server`). */
  leaves: string[];
  /** The PKI dir, relative to the host's certDir (kubeadm: certDir /etc/kubernetes, pkiDir pki). */
  pkiDir: string;
}
/** kubeadm (optional): renew ca, front-proxy-ca and etcd/ca keeping their keys; the same new certificate on every control-plane node. */
export interface RenewCasStep {
  type: 'renew-cas';
  targets: TargetSpec[];
  /** Lifetime of the renewed CA certificates (kubeadm's CAs: 3650). */
  days: number;
  /** CA base names under the PKI dir (`ca`, `front-proxy-ca`, `etcd/ca`). */
  cas: string[];
  pkiDir: string;
}
/** kubeadm: renew the client certificate and key embedded in the kubeconfigs of each control-plane node (signed by `ca`). */
export interface RenewKubeconfigsStep {
  type: 'renew-kubeconfigs';
  targets: TargetSpec[];
  days: number;
  keepKeys: boolean;
  /** Kubeconfig file names in certDir; `kubelet.conf` only when it embeds an expiring client certificate; absent files are skipped. */
  kubeconfigs: string[];
  pkiDir: string;
}

/** Replace root's and the SSH users' ~/.kube copies of the old admin.conf (same client certificate) by the renewed one (issue 10). */
export interface RefreshKubeConfigStep {
  type: 'refresh-kube-config';
  targets: TargetSpec[];
  /** The kubeconfig whose copies are refreshed, and copied over them; default `<kubernetesDir>/admin.conf` of each host. */
  adminConf?: string;
}

export type StepSpec =
  | PreflightStep
  | BackupStep
  | RenewCaStep
  | IssueCertStep
  | DistributeStep
  | RollingRestartStep
  | RestartFlannelStep
  | VerifyStep
  | ManagerTemplatesStep
  | ManagerDbStep
  | RenewCasStep
  | RenewLeavesStep
  | RenewKubeconfigsStep
  | RefreshKubeConfigStep;

export type StepType = StepSpec['type'];

/** The files the playbook manages, by role, as names inside the cert dir. */
export interface ManagedFiles {
  ca: string;
  caKey: string;
  cert: string;
  key: string;
}

export interface Playbook {
  file: string;
  name: string;
  description?: string;
  files: ManagedFiles;
  /** etcdctl invocation (argv, templated per host) used by facts and health checks; `--endpoints` is appended. */
  etcdctl: string[];
  steps: Array<StepSpec & { at: Located; title: string }>;
  /** The line a YAML path of the playbook file is written on (set by the loader; absent in hand-built playbooks). */
  lineOf?: (path: ReadonlyArray<string | number>) => number | undefined;
}

export const defaultEtcdctl = [
  'env',
  'ETCDCTL_API=3',
  'etcdctl',
  '--cacert',
  '{{ files.ca }}',
  '--cert',
  '{{ files.cert }}',
  '--key',
  '{{ files.key }}',
  '--dial-timeout',
  '2s',
  '--command-timeout',
  '4s',
];
