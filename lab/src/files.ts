// Text of the files the lab writes for its hosts: static-pod manifests, sshd_config, my.cnf, the manager DB's SQL, and inventories (pure).
import { inHost, gencertsDir, type LabHost, type LabLayout } from './layout.js';
import { managerSeedSql } from './manager-seed.js';

const cert = (f: string) => `${inHost.certDir}/${f}`;

function manifest(name: string, image: string, command: string[], grace: number): string {
  return [
    `# Static pod of the certroll lab: the kubelet stand-in runs spec.containers[0].command while this file is in this directory.`,
    `apiVersion: v1`,
    `kind: Pod`,
    `metadata:`,
    `  name: ${name}`,
    `  namespace: kube-system`,
    `  labels:`,
    `    component: ${name}`,
    `spec:`,
    `  hostNetwork: true`,
    `  terminationGracePeriodSeconds: ${grace}`,
    `  containers:`,
    `  - name: ${name}`,
    `    image: ${image}`,
    `    command:`,
    ...command.map((c) => `    - ${JSON.stringify(c)}`),
    `    volumeMounts:`,
    `    - name: certs`,
    `      mountPath: ${inHost.certDir}`,
    `  volumes:`,
    `  - name: certs`,
    `    hostPath:`,
    `      path: ${inHost.certDir}`,
    ``,
  ].join('\n');
}

export function etcdManifest(h: LabHost, etcd: LabHost[]): string {
  const a = h.address;
  return manifest('tos-etcd', 'transwarp/etcd:v3.4.23-tos-lab', [
    '/usr/bin/etcd',
    `--name=${h.name}`,
    `--data-dir=${inHost.etcdDataDir}`,
    `--listen-client-urls=https://${a}:${inHost.etcdClientPort}`,
    `--advertise-client-urls=https://${a}:${inHost.etcdClientPort}`,
    `--listen-peer-urls=https://${a}:${inHost.etcdPeerPort}`,
    `--initial-advertise-peer-urls=https://${a}:${inHost.etcdPeerPort}`,
    `--initial-cluster=${etcd.map((e) => `${e.name}=https://${e.address}:${inHost.etcdPeerPort}`).join(',')}`,
    '--initial-cluster-token=tos-lab-etcd',
    '--initial-cluster-state=new',
    `--cert-file=${cert('etcd.pem')}`,
    `--key-file=${cert('etcd-key.pem')}`,
    `--trusted-ca-file=${cert('etcd-ca.pem')}`,
    '--client-cert-auth=true',
    `--peer-cert-file=${cert('etcd.pem')}`,
    `--peer-key-file=${cert('etcd-key.pem')}`,
    `--peer-trusted-ca-file=${cert('etcd-ca.pem')}`,
    '--peer-client-cert-auth=true',
    '--logger=zap',
    '--log-outputs=stderr',
  ], 10);
}

export function etcdEndpoints(etcd: LabHost[]): string {
  return etcd.map((e) => `https://${e.address}:${inHost.etcdClientPort}`).join(',');
}

export function apiserverManifest(h: LabHost, etcd: LabHost[]): string {
  return manifest('tos-apiserver', 'transwarp/hyperkube:v1.14.3-tos-lab', [
    '/usr/bin/python3',
    '/usr/local/bin/lab-apiserver',
    `--bind-address=${h.address}`,
    `--secure-port=${inHost.apiserverPort}`,
    `--tls-cert-file=${cert('apiserver.pem')}`,
    `--tls-private-key-file=${cert('apiserver-key.pem')}`,
    `--etcd-servers=${etcdEndpoints(etcd)}`,
    `--etcd-cafile=${cert('etcd-ca.pem')}`,
    `--etcd-certfile=${cert('etcd.pem')}`,
    `--etcd-keyfile=${cert('etcd-key.pem')}`,
  ], 5);
}

export function flannelManifest(pidFile: string, etcd: LabHost[]): string {
  return manifest('tos-flannel', 'transwarp/flannel:v0.10.0-tos-lab', [
    '/usr/bin/python3',
    '/usr/local/bin/lab-flanneld',
    `--etcd-endpoints=${etcdEndpoints(etcd)}`,
    `--etcd-cafile=${cert('etcd-ca.pem')}`,
    `--etcd-certfile=${cert('etcd.pem')}`,
    `--etcd-keyfile=${cert('etcd-key.pem')}`,
    '--etcd-prefix=/coreos.com/network',
    `--pid-file=${pidFile}`,
    '--interval=1',
  ], 2);
}

export function sshdConfig(h: LabHost, port: number, hostKey: string): string {
  return [
    `# sshd of certroll lab host ${h.name}`,
    `ListenAddress ${h.address}:${port}`,
    `HostKey ${hostKey}`,
    'PidFile none',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'UseDNS no',
    'StrictModes yes',
    'PrintMotd no',
    'PrintLastLog no',
    'AcceptEnv LANG LC_*',
    'MaxStartups 200:30:400',
    'MaxSessions 64',
    'LoginGraceTime 30',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    '',
  ].join('\n');
}

export function myCnf(h: LabHost): string {
  return [
    '[mysqld]',
    'user = mysql',
    'datadir = /var/lib/mysql',
    'socket = /run/mysqld/mysqld.sock',
    'pid-file = /run/mysqld/mysqld.pid',
    `bind-address = ${h.address}`,
    `port = ${inHost.dbPort}`,
    'skip-name-resolve',
    'log-error = /var/lib/mysql/mariadb.err',
    'innodb_buffer_pool_size = 32M',
    'performance_schema = OFF',
    '',
  ].join('\n');
}

/** SQL that (re)creates the manager database exactly as the lab starts it: table manager_info with the PEMs (no trailing newline). */
export function managerDbSql(pems: Record<'etcd-ca.pem' | 'etcd.pem' | 'etcd-key.pem', string>, password: string): string {
  return managerSeedSql(password, {
    'cluster.name': 'tos-lab',
    'etcd-ca.pem': pems['etcd-ca.pem'].replace(/\n+$/, ''),
    'etcd-key.pem': pems['etcd-key.pem'].replace(/\n+$/, ''),
    'etcd.pem': pems['etcd.pem'].replace(/\n+$/, ''),
    'tos.version': inHost.tosVersion,
  });
}

/** The inventory for a lab (format of inventories/*.yaml). */
export function inventoryYaml(layout: LabLayout, hosts: LabHost[], withExtra: boolean): string {
  const core = hosts.filter((h) => !h.roles.includes('extra'));
  const extra = withExtra ? hosts.filter((h) => h.roles.includes('extra')) : [];
  const manager = core.find((h) => h.roles.includes('manager'))!;
  const group = (r: string) => `[${core.filter((h) => h.roles.includes(r as never)).map((h) => h.name).join(', ')}]`;
  const lines = [
    `# Inventory of the certroll local lab${layout.dir === '/var/lib/certroll-lab' ? '' : ` in ${layout.dir}`} (written by \`npm run lab -- up\`; see docs/lab.md).`,
    `# The manager DB password is in ${layout.dbPasswordFile}: export CERTROLL_DB_PASSWORD=$(cat ${layout.dbPasswordFile})`,
    'vars:',
    `  certDir: ${inHost.certDir}`,
    `  manifestsDir: ${inHost.manifestsDir}`,
    `  parkDir: ${inHost.parkDir}`,
    `  etcdClientPort: ${inHost.etcdClientPort}`,
    `  serviceIp: ${inHost.serviceIp}`,
    '  extraSans: []',
    `  managerTemplateDir: ${inHost.managerTemplateDir}`,
    `  managerDb: { host: ${manager.address}, port: ${inHost.dbPort}, user: manager, database: manager, passwordEnv: CERTROLL_DB_PASSWORD }`,
    '  checkPaths: [/srv/kubernetes/*.pem, /etc/kubernetes/pki/**/*.crt, /var/lib/kubelet/pki/*.crt, /etc/kubernetes/*.conf]',
    'ssh:',
    '  user: root',
    `  port: ${layout.opts.sshPort}`,
    `  identityFile: ${layout.clientKey}`,
    `  knownHostsFile: ${layout.knownHosts}`,
    '  config: none            # the lab never depends on the operator\'s ~/.ssh/config',
    '  become: false',
    '  connectTimeout: 10',
    '  commandTimeout: 60',
    'hosts:',
    ...[...core, ...extra].map((h) => `  ${h.name}: { address: ${h.address} }`),
    'groups:',
    `  master: ${group('master')}`,
    `  etcd: ${group('etcd')}`,
    `  flannel: ${group('flannel')}`,
    `  manager: ${group('manager')}`,
  ];
  if (extra.length) lines.push(`  extra: [${extra.map((h) => h.name).join(', ')}]`);
  return lines.join('\n') + '\n';
}

export { gencertsDir };
