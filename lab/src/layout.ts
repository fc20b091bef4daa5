// Where everything of the lab lives: its options and defaults, the hosts with their roles and addresses, and every path (pure).
import { isAbsolute, join, resolve } from 'node:path';

export type LabRole = 'master' | 'etcd' | 'flannel' | 'manager' | 'extra' | 'control-plane' | 'worker';

/** Which cluster the lab imitates: TOS (five hosts, /srv/kubernetes, the Manager) or kubeadm (docs/lab.md, "The kubeadm lab"). */
export type LabFlavour = 'tos' | 'kubeadm';
export const FLAVOURS: readonly LabFlavour[] = ['tos', 'kubeadm'];

export interface LabOptions {
  /** The cluster imitated (absent in a lab.json written before flavours: tos). */
  flavour?: LabFlavour;
  /** State dir holding everything the lab creates. */
  dir: string;
  /** First two octets of the loopback subnet, e.g. "127.20". */
  subnet: string;
  /** Host names in role order: tos: 3 masters/etcd, 1 flannel-only, 1 manager; kubeadm: 3 control-plane (stacked etcd), 1 worker. */
  names: string[];
  /** Bare extra hosts (sshd + a cert dir) for scale tests. */
  extra: number;
  /** sshd port on every host. */
  sshPort: number;
  /** Days until the original etcd CA expires (the leaf expires one day earlier). */
  days: number;
}

export const defaults: LabOptions = {
  dir: process.env.CERTROLL_LAB_DIR || '/var/lib/certroll-lab',
  subnet: process.env.CERTROLL_LAB_SUBNET || '127.20',
  names: ['tos-lab-1', 'tos-lab-2', 'tos-lab-3', 'tos-lab-4', 'tos-lab-5'],
  extra: 0,
  sshPort: Number(process.env.CERTROLL_LAB_SSH_PORT) || 22,
  days: 20,
};

/** The kubeadm lab's defaults (issue 10): its own dir, subnet and names, so it runs beside the TOS lab. */
export const kubeadmDefaults: LabOptions = {
  ...defaults,
  flavour: 'kubeadm',
  dir: process.env.CERTROLL_KUBEADM_LAB_DIR || '/var/lib/certroll-lab-kubeadm',
  subnet: '127.21',
  names: ['kadm-lab-1', 'kadm-lab-2', 'kadm-lab-3', 'kadm-lab-4'],
};

export function defaultsOf(flavour: LabFlavour | undefined): LabOptions {
  return flavour === 'kubeadm' ? kubeadmDefaults : defaults;
}

/** Fixed paths and ports inside every kubeadm lab host: kubeadm's own (the inventory's defaults). */
export const inKubeadm = {
  kubernetesDir: '/etc/kubernetes',
  pkiDir: '/etc/kubernetes/pki',
  manifestsDir: '/etc/kubernetes/manifests',
  parkDir: '/etc/kubernetes/certroll-parked',
  kubeletPkiDir: '/var/lib/kubelet/pki',
  etcdDataDir: '/var/lib/etcd',
  etcdClientPort: 2379,
  etcdPeerPort: 2380,
  etcdMetricsPort: 2381,
  apiserverPort: 6443,
  controllerManagerPort: 10257,
  schedulerPort: 10259,
  serviceIp: '10.96.0.1',
  serviceCidr: '10.96.0.0/12',
  podCidr: '10.244.0.0/16',
  kubernetesVersion: 'v1.29.6',
  etcdImage: 'registry.k8s.io/etcd:3.5.12-0',
} as const;

/** Fixed paths inside every lab host (the cluster variables of the inventory). */
export const inHost = {
  certDir: '/srv/kubernetes',
  manifestsDir: '/opt/kubernetes/manifests-multi',
  parkDir: '/opt/kubernetes',
  managerTemplateDir: '/var/lib/transwarp-manager/master/content/meta/services/TOS',
  tosVersion: 'tos-2.1',
  etcdDataDir: '/var/lib/etcd/data',
  etcdClientPort: 4001,
  etcdPeerPort: 2380,
  apiserverPort: 6443,
  dbPort: 3306,
  serviceIp: '10.10.10.1',
} as const;

export const gencertsDir = `${inHost.managerTemplateDir}/${inHost.tosVersion}/templates/gencerts`;

export interface LabHost {
  name: string;
  address: string;
  roles: LabRole[];
}

/** Paths on the real filesystem of one lab host's private directories. */
export interface HostPaths {
  root: string;
  /** Bind-mount sources by their target inside the host. */
  mounts: Array<{ source: string; target: string }>;
  /**
   * kubeadm: a private /etc, an overlayfs over the machine's /etc (lower) whose writes land in upper (hosts/NAME/etc-overlay),
   * mounted before the bind mounts (/etc/kubernetes is bound on top of it). A run's backup and lock beside /etc/kubernetes
   * then stay in the host, as on a real node. tos: none (its hosts' files are under /srv, /opt, private already).
   */
  overlay?: { target: string; upper: string; work: string };
  run: string;
  log: string;
  etc: string;
}

/** Directories every host gets its own copy of (target inside the host → source dir name under hosts/NAME/fs). */
export function hostMountTargets(roles: LabRole[], flavour: LabFlavour = 'tos'): Array<{ target: string; name: string }> {
  if (flavour === 'kubeadm') {
    return [
      { target: '/etc/kubernetes', name: 'etc-kubernetes' },
      { target: '/var/lib/kubelet', name: 'var-lib-kubelet' },
      { target: '/root', name: 'root' },
      { target: '/tmp', name: 'tmp' },
      { target: '/var/lib/etcd', name: 'var-lib-etcd' },
    ];
  }
  const m = [
    { target: '/srv', name: 'srv' },
    { target: '/opt/kubernetes', name: 'opt-kubernetes' },
    { target: '/root', name: 'root' },
    { target: '/tmp', name: 'tmp' },
    { target: '/var/lib/transwarp-manager', name: 'var-lib-transwarp-manager' },
    { target: '/var/lib/etcd', name: 'var-lib-etcd' },
  ];
  if (roles.includes('manager')) {
    m.push({ target: '/var/lib/mysql', name: 'var-lib-mysql' }, { target: '/run/mysqld', name: 'run-mysqld' });
  }
  return m;
}

export class LabLayout {
  readonly dir: string;
  constructor(readonly opts: LabOptions) {
    this.dir = resolve(opts.dir);
  }
  get stateFile() { return join(this.dir, 'lab.json'); }
  get sshDir() { return join(this.dir, 'ssh'); }
  get clientKey() { return join(this.dir, 'ssh', 'id_ed25519'); }
  get knownHosts() { return join(this.dir, 'ssh', 'known_hosts'); }
  get dbPasswordFile() { return join(this.dir, 'db-password'); }
  get binDir() { return join(this.dir, 'bin'); }
  /** Mounted over /usr/local/bin in every host. */
  get usrLocalBin() { return join(this.dir, 'usr-local-bin'); }
  get pristine() { return join(this.dir, 'pristine'); }
  get hostsDir() { return join(this.dir, 'hosts'); }
  get inventory() { return join(this.dir, 'inventory.yaml'); }
  get inventoryExtra() { return join(this.dir, 'inventory-extra.yaml'); }

  get flavour(): LabFlavour {
    return this.opts.flavour ?? 'tos';
  }

  /** The core hosts and the extra hosts, in order. */
  hosts(): LabHost[] {
    const [a, b] = this.opts.subnet.split('.');
    const n = this.opts.names;
    if (this.flavour === 'kubeadm') {
      return [
        { name: n[0]!, address: `${a}.${b}.0.11`, roles: ['control-plane', 'etcd'] },
        { name: n[1]!, address: `${a}.${b}.0.12`, roles: ['control-plane', 'etcd'] },
        { name: n[2]!, address: `${a}.${b}.0.13`, roles: ['control-plane', 'etcd'] },
        { name: n[3]!, address: `${a}.${b}.0.21`, roles: ['worker'] },
      ];
    }
    const out: LabHost[] = [
      { name: n[0]!, address: `${a}.${b}.0.11`, roles: ['master', 'etcd'] },
      { name: n[1]!, address: `${a}.${b}.0.12`, roles: ['master', 'etcd'] },
      { name: n[2]!, address: `${a}.${b}.0.13`, roles: ['master', 'etcd'] },
      { name: n[3]!, address: `${a}.${b}.0.21`, roles: ['flannel'] },
      { name: n[4]!, address: `${a}.${b}.0.31`, roles: ['manager'] },
    ];
    const prefix = commonPrefix(n);
    for (let i = 0; i < this.opts.extra; i++) {
      out.push({ name: `${prefix}x${i + 1}`, address: `${a}.${b}.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`, roles: ['extra'] });
    }
    return out;
  }

  hostPaths(h: Pick<LabHost, 'name' | 'roles'>): HostPaths {
    const root = join(this.hostsDir, h.name);
    return {
      root,
      mounts: [
        ...hostMountTargets(h.roles, this.flavour).map((m) => ({ source: join(root, 'fs', m.name), target: m.target })),
        { source: this.usrLocalBin, target: '/usr/local/bin' },
      ],
      ...(this.flavour === 'kubeadm' ? { overlay: { target: '/etc', upper: join(root, 'etc-overlay', 'upper'), work: join(root, 'etc-overlay', 'work') } } : {}),
      run: join(root, 'run'),
      log: join(root, 'log'),
      etc: join(root, 'etc'),
    };
  }

  /** The real path of a file that a host sees at absPath (through its bind mounts). */
  hostPath(h: Pick<LabHost, 'name' | 'roles'>, absPath: string): string {
    if (!isAbsolute(absPath)) throw new Error(`hostPath: not an absolute path: ${absPath}`);
    let best: { source: string; target: string } | undefined;
    for (const m of this.hostPaths(h).mounts) {
      if ((absPath === m.target || absPath.startsWith(m.target + '/')) && (!best || m.target.length > best.target.length)) best = m;
    }
    return best ? best.source + absPath.slice(best.target.length) : absPath;
  }
}

/** "tos-lab-1".."tos-lab-5" → "tos-lab-" (used to name extra hosts). */
function commonPrefix(names: string[]): string {
  let p = names[0] ?? '';
  for (const n of names) while (!n.startsWith(p)) p = p.slice(0, -1);
  return p || 'lab-';
}

/** Validate and complete user options; throws Error with a message saying what to fix. */
export function resolveOptions(o: Partial<LabOptions> & { namePrefix?: string }): LabOptions {
  const flavour = o.flavour ?? 'tos';
  if (!FLAVOURS.includes(flavour)) throw new Error(`--flavour: expected one of ${FLAVOURS.join(', ')}, got "${String(flavour)}"`);
  const base = defaultsOf(flavour);
  const opts: LabOptions = { ...base, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)), flavour } as LabOptions;
  const count = base.names.length;
  const shape = flavour === 'kubeadm' ? '3 control-plane, 1 worker' : '3 masters, 1 flannel, 1 manager';
  if (o.namePrefix) opts.names = Array.from({ length: count }, (_, i) => `${o.namePrefix}-${i + 1}`);
  const sub = /^127\.(\d{1,3})(?:\.0\.0\/16)?$/.exec(opts.subnet);
  if (!sub || Number(sub[1]) > 255 || Number(sub[1]) === 0) throw new Error(`--subnet: expected a loopback /16 like 127.20 (not 127.0), got "${opts.subnet}"`);
  opts.subnet = `127.${sub[1]}`;
  if (opts.names.length !== count) throw new Error(`--names: expected ${count} names (${shape}), got ${opts.names.length}`);
  for (const n of opts.names) {
    if (!/^[a-z0-9]([a-z0-9-]{0,50}[a-z0-9])?$/.test(n)) throw new Error(`--names: "${n}" is not a valid hostname`);
  }
  if (new Set(opts.names).size !== count) throw new Error('--names: names must differ');
  if (flavour === 'kubeadm' && opts.extra > 0) throw new Error('--extra: the kubeadm lab has no extra hosts');
  if (!Number.isInteger(opts.extra) || opts.extra < 0 || opts.extra > 1000) throw new Error(`--extra: expected 0-1000, got ${opts.extra}`);
  if (!Number.isInteger(opts.sshPort) || opts.sshPort < 1 || opts.sshPort > 65535) throw new Error(`--ssh-port: bad port ${opts.sshPort}`);
  if (!Number.isInteger(opts.days) || opts.days < 2) throw new Error(`--days: expected an integer >= 2, got ${opts.days}`);
  const dir = resolve(opts.dir);
  const hidden = ['/srv', '/opt/kubernetes', '/root', '/tmp', '/var/lib/transwarp-manager', '/var/lib/etcd', '/var/lib/mysql', '/run/mysqld', '/usr/local/bin', '/etc/kubernetes', '/var/lib/kubelet'];
  for (const h of hidden) {
    if (dir === h || dir.startsWith(h + '/')) throw new Error(`--dir ${dir}: must not be under ${h}, which every lab host mounts its own copy over`);
  }
  opts.dir = dir;
  return opts;
}
