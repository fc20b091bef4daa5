// The resolved inventory: what every other module reads about hosts, groups and cluster variables.

/** How to reach a host. Host overrides group overrides the inventory's `ssh:` defaults. */
export interface SshSettings {
  user: string;
  port: number;
  /** Absolute path (after ~ expansion) of a private key; omitted → ssh-agent / password. */
  identityFile?: string;
  /** Absolute path of an OpenSSH known_hosts file. */
  knownHostsFile: string;
  /** Run remote commands through sudo (for non-root users). */
  become: boolean;
  /** Seconds to wait for the SSH handshake. */
  connectTimeout: number;
  /** Seconds for an ordinary remote command. */
  commandTimeout: number;
  /** Seconds between keepalive probes (OpenSSH ServerAliveInterval; 0 = off); absent → the SSH layer's default. */
  serverAliveInterval?: number;
  /** More identity files (the OpenSSH config's further IdentityFile lines that exist), tried in order after identityFile. */
  identityFiles?: string[];
  /** Offer only the identity file(s), not the ssh-agent's keys (OpenSSH IdentitiesOnly). */
  identitiesOnly?: boolean;
  /** Bastions to go through, first hop first (inventory `ssh.jump` or ProxyJump from the OpenSSH config). */
  jumps?: JumpHost[];
  /** `ssh.jump` as written in the inventory (before resolution), `none` to ignore a ProxyJump of the config. */
  jumpSpec?: string;
  /** The OpenSSH client config file read (`ssh.config`; default ~/.ssh/config when present, `none` to ignore). */
  config?: string;
}

/** One bastion hop, resolved (its own HostName, User, Port, IdentityFile… from the OpenSSH config). */
export interface JumpHost {
  /** As written (`user@host:port`). */
  name: string;
  address: string;
  port: number;
  user: string;
  identityFile?: string;
  /** Further identity files (the config's IdentityFile lines after the first). */
  identityFiles?: string[];
  knownHostsFile: string;
  connectTimeout: number;
  identitiesOnly: boolean;
  /** Where the jump was set (file:line). */
  from: string;
}

/** Cluster variables (inventory `vars:`), overridable per group and per host. */
export interface ClusterVars {
  certDir: string;
  manifestsDir: string;
  parkDir: string;
  etcdClientPort: number;
  /** etcd's peer port (kubeadm: 2380), for the served-certificate check after a restart. */
  etcdPeerPort: number;
  /** kube-apiserver's secure port (kubeadm: 6443). */
  apiserverPort: number;
  /** Where a node's own control-plane ports answer from the node itself (kubeadm: 127.0.0.1; the lab: the host's address). */
  probeAddress: string;
  /** The `kubernetes` service IP, a SAN of the etcd certificate. */
  serviceIp?: string;
  /** Extra SANs (DNS names or IPs) for the etcd certificate. */
  extraSans: string[];
  /** Root of the Manager's TOS service metadata (…/services/TOS). */
  managerTemplateDir: string;
  /** TOS version directory under managerTemplateDir, when it cannot be detected. */
  tosVersion?: string;
  /** Globs scanned by `certroll check` (default: derived from the directories below, see defaultCheckPaths). */
  checkPaths: string[];
  /** kubeadm: where the kubeconfigs live (admin.conf, super-admin.conf, controller-manager.conf, scheduler.conf, kubelet.conf). */
  kubernetesDir: string;
  /** kubeadm: the PKI directory (ca, front-proxy-ca, etcd/ca and their leaves). */
  pkiDir: string;
  /** The kubelet's own certificates (kubelet-client-current.pem, kubelet.crt). */
  kubeletPkiDir: string;
  /** The Manager's MySQL/MariaDB database holding `manager_info` (issue 6); the password never lives here. */
  managerDb?: ManagerDb;
  /** `check` also reads the certificates in Kubernetes secrets, through kubectl on the first master (docs/check.md). */
  secrets?: boolean;
  /** The kubeconfig kubectl uses for `secrets` (default: kubectl's own, else /etc/kubernetes/admin.conf). */
  kubeconfig?: string;
  /** kubectl on the master (default: PATH, then the usual places). */
  kubectl?: string;
}

export interface ManagerDb {
  host: string;
  port: number;
  user: string;
  database: string;
  /** Name of the environment variable holding the password (default CERTROLL_DB_PASSWORD). */
  passwordEnv: string;
}

export interface Host {
  /** Inventory name (also the default hostname used in SANs). */
  name: string;
  /** IP or DNS name used to connect. */
  address: string;
  /** Hostname used for SANs; defaults to name. */
  hostname: string;
  /** IP used for SANs when address is a DNS name; defaults to address when it is an IP. */
  ip?: string;
  /** Groups this host belongs to, in inventory order. */
  groups: string[];
  ssh: SshSettings;
  vars: ClusterVars;
  /** File and line where the host is defined, for messages. */
  definedAt: { file: string; line?: number };
  /** Where each of its variables was set (host, group or inventory `vars:`); absent for defaults and hand-built hosts. */
  varsAt?: Partial<Record<keyof ClusterVars, { path: string; line?: number }>>;
  /** Where each SSH setting came from (inventory path:line or OpenSSH config file:line); absent → a default. */
  sshFrom?: Record<string, string>;
}

export interface Inventory {
  /** Absolute path of the file it was loaded from. */
  file: string;
  /** Hosts in definition order. */
  hosts: Host[];
  /** group name → host names, in inventory order (master, etcd, flannel, manager, and any extra). */
  groups: Record<string, string[]>;
  /** Inventory-level vars with defaults applied. */
  vars: ClusterVars;
  /** Name of the first host of the `master` group: where certificates are generated. */
  firstMaster: string;
  /** The line a YAML path of the inventory file is written on (set by the loader; absent in hand-built inventories). */
  lineOf?: (path: ReadonlyArray<string | number>) => number | undefined;
  /** Things in the inputs certroll does not apply (e.g. OpenSSH config keywords it ignores), to print before working. */
  warnings?: string[];
}

/** Every cluster variable an inventory may set (`vars:`), optional ones included. */
export const clusterVarNames: ReadonlyArray<keyof ClusterVars> = [
  'certDir',
  'manifestsDir',
  'parkDir',
  'etcdClientPort',
  'etcdPeerPort',
  'apiserverPort',
  'probeAddress',
  'serviceIp',
  'extraSans',
  'managerTemplateDir',
  'tosVersion',
  'checkPaths',
  'kubernetesDir',
  'pkiDir',
  'kubeletPkiDir',
  'managerDb',
  'secrets',
  'kubeconfig',
  'kubectl',
];

/** What `check` scans when the inventory sets no checkPaths: the certificates under the cluster's own directories. */
export function defaultCheckPaths(v: Pick<ClusterVars, 'certDir' | 'pkiDir' | 'kubeletPkiDir' | 'kubernetesDir'>): string[] {
  return [`${v.certDir}/*.pem`, `${v.pkiDir}/**/*.crt`, `${v.kubeletPkiDir}/*.crt`, `${v.kubeletPkiDir}/*.pem`, `${v.kubernetesDir}/*.conf`];
}

const defaultDirs = {
  certDir: '/srv/kubernetes',
  kubernetesDir: '/etc/kubernetes',
  pkiDir: '/etc/kubernetes/pki',
  kubeletPkiDir: '/var/lib/kubelet/pki',
};

export const defaultClusterVars: ClusterVars = {
  ...defaultDirs,
  manifestsDir: '/opt/kubernetes/manifests-multi',
  parkDir: '/opt/kubernetes',
  etcdClientPort: 4001,
  etcdPeerPort: 2380,
  apiserverPort: 6443,
  probeAddress: '127.0.0.1',
  extraSans: [],
  managerTemplateDir: '/var/lib/transwarp-manager/master/content/meta/services/TOS',
  checkPaths: defaultCheckPaths(defaultDirs),
};

export const defaultSshSettings: SshSettings = {
  user: 'root',
  port: 22,
  knownHostsFile: '~/.ssh/known_hosts',
  become: false,
  connectTimeout: 10,
  commandTimeout: 60,
};
