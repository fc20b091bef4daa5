// Text of the files the kubeadm lab writes for its hosts, as kubeadm v1.29 writes them: the four static-pod manifests, the
// kubeconfigs, and the lab's inventory (pure). Where kubeadm says 127.0.0.1 the lab says the host's own address: the lab's
// hosts share one network namespace (docs/lab.md, "The kubeadm lab").
import { inKubeadm, type LabHost, type LabLayout } from './layout.js';

const pki = (f: string) => `${inKubeadm.pkiDir}/${f}`;
const k8s = (f: string) => `${inKubeadm.kubernetesDir}/${f}`;

interface Volume {
  name: string;
  path: string;
  type: 'DirectoryOrCreate' | 'FileOrCreate';
  readOnly?: boolean;
}

function probe(kind: string, host: string, path: string, port: number, scheme: 'HTTP' | 'HTTPS', failureThreshold: number, initialDelay: number): string[] {
  return [
    `    ${kind}:`,
    `      failureThreshold: ${failureThreshold}`,
    `      httpGet:`,
    `        host: ${host}`,
    `        path: ${path}`,
    `        port: ${port}`,
    `        scheme: ${scheme}`,
    `      initialDelaySeconds: ${initialDelay}`,
    `      periodSeconds: 10`,
    `      timeoutSeconds: 15`,
  ];
}

function pod(o: {
  name: string;
  annotations?: Record<string, string>;
  command: string[];
  image: string;
  probes: string[];
  cpu: string;
  memory?: string;
  volumes: Volume[];
}): string {
  const vols = [...o.volumes].sort((a, b) => a.name.localeCompare(b.name));
  return [
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    ...(o.annotations ? ['  annotations:', ...Object.entries(o.annotations).map(([k, v]) => `    ${k}: ${v}`)] : []),
    '  creationTimestamp: null',
    '  labels:',
    `    component: ${o.name}`,
    '    tier: control-plane',
    `  name: ${o.name}`,
    '  namespace: kube-system',
    'spec:',
    '  containers:',
    '  - command:',
    ...o.command.map((c) => `    - ${c}`),
    `    image: ${o.image}`,
    '    imagePullPolicy: IfNotPresent',
    ...o.probes,
    `    name: ${o.name}`,
    '    resources:',
    '      requests:',
    `        cpu: ${o.cpu}`,
    ...(o.memory ? [`        memory: ${o.memory}`] : []),
    '    volumeMounts:',
    ...vols.flatMap((v) => [`    - mountPath: ${v.path}`, `      name: ${v.name}`, ...(v.readOnly ? ['      readOnly: true'] : [])]),
    '  hostNetwork: true',
    '  priority: 2000001000',
    '  priorityClassName: system-node-critical',
    '  securityContext:',
    '    seccompProfile:',
    '      type: RuntimeDefault',
    '  volumes:',
    ...vols.flatMap((v) => ['  - hostPath:', `      path: ${v.path}`, `      type: ${v.type}`, `    name: ${v.name}`]),
    'status: {}',
    '',
  ].join('\n');
}

const image = (c: string) => `registry.k8s.io/${c}:${inKubeadm.kubernetesVersion}`;

export function kubeadmEtcdManifest(h: LabHost, etcd: LabHost[]): string {
  const a = h.address;
  const { etcdClientPort: cp, etcdPeerPort: pp, etcdMetricsPort: mp } = inKubeadm;
  const health = '/health?exclude=NOSPACE&serializable=true';
  return pod({
    name: 'etcd',
    annotations: { 'kubeadm.kubernetes.io/etcd.advertise-client-urls': `https://${a}:${cp}` },
    command: [
      'etcd',
      `--advertise-client-urls=https://${a}:${cp}`,
      `--cert-file=${pki('etcd/server.crt')}`,
      '--client-cert-auth=true',
      `--data-dir=${inKubeadm.etcdDataDir}`,
      '--experimental-initial-corrupt-check=true',
      '--experimental-watch-progress-notify-interval=5s',
      `--initial-advertise-peer-urls=https://${a}:${pp}`,
      `--initial-cluster=${etcd.map((e) => `${e.name}=https://${e.address}:${pp}`).join(',')}`,
      `--key-file=${pki('etcd/server.key')}`,
      `--listen-client-urls=https://${a}:${cp}`,
      `--listen-metrics-urls=http://${a}:${mp}`,
      `--listen-peer-urls=https://${a}:${pp}`,
      `--name=${h.name}`,
      `--peer-cert-file=${pki('etcd/peer.crt')}`,
      '--peer-client-cert-auth=true',
      `--peer-key-file=${pki('etcd/peer.key')}`,
      `--peer-trusted-ca-file=${pki('etcd/ca.crt')}`,
      '--snapshot-count=10000',
      `--trusted-ca-file=${pki('etcd/ca.crt')}`,
    ],
    image: inKubeadm.etcdImage,
    probes: [...probe('livenessProbe', a, health, mp, 'HTTP', 8, 10), ...probe('startupProbe', a, health, mp, 'HTTP', 24, 10)],
    cpu: '100m',
    memory: '100Mi',
    volumes: [
      { name: 'etcd-certs', path: pki('etcd'), type: 'DirectoryOrCreate' },
      { name: 'etcd-data', path: inKubeadm.etcdDataDir, type: 'DirectoryOrCreate' },
    ],
  });
}

const commonVolumes: Volume[] = [
  { name: 'ca-certs', path: '/etc/ssl/certs', type: 'DirectoryOrCreate', readOnly: true },
  { name: 'etc-ca-certificates', path: '/etc/ca-certificates', type: 'DirectoryOrCreate', readOnly: true },
  { name: 'usr-local-share-ca-certificates', path: '/usr/local/share/ca-certificates', type: 'DirectoryOrCreate', readOnly: true },
  { name: 'usr-share-ca-certificates', path: '/usr/share/ca-certificates', type: 'DirectoryOrCreate', readOnly: true },
];

export function kubeadmApiserverManifest(h: LabHost): string {
  const a = h.address;
  const port = inKubeadm.apiserverPort;
  return pod({
    name: 'kube-apiserver',
    annotations: { 'kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint': `${a}:${port}` },
    command: [
      'kube-apiserver',
      `--advertise-address=${a}`,
      '--allow-privileged=true',
      '--authorization-mode=Node,RBAC',
      // Not in kubeadm's manifest (the real one binds every address): the lab's hosts share one network namespace.
      `--bind-address=${a}`,
      `--client-ca-file=${pki('ca.crt')}`,
      '--enable-admission-plugins=NodeRestriction',
      '--enable-bootstrap-token-auth=true',
      `--etcd-cafile=${pki('etcd/ca.crt')}`,
      `--etcd-certfile=${pki('apiserver-etcd-client.crt')}`,
      `--etcd-keyfile=${pki('apiserver-etcd-client.key')}`,
      `--etcd-servers=https://${a}:${inKubeadm.etcdClientPort}`,
      `--kubelet-client-certificate=${pki('apiserver-kubelet-client.crt')}`,
      `--kubelet-client-key=${pki('apiserver-kubelet-client.key')}`,
      '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
      `--proxy-client-cert-file=${pki('front-proxy-client.crt')}`,
      `--proxy-client-key-file=${pki('front-proxy-client.key')}`,
      '--requestheader-allowed-names=front-proxy-client',
      `--requestheader-client-ca-file=${pki('front-proxy-ca.crt')}`,
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-username-headers=X-Remote-User',
      `--secure-port=${port}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki('sa.pub')}`,
      `--service-account-signing-key-file=${pki('sa.key')}`,
      `--service-cluster-ip-range=${inKubeadm.serviceCidr}`,
      `--tls-cert-file=${pki('apiserver.crt')}`,
      `--tls-private-key-file=${pki('apiserver.key')}`,
    ],
    image: image('kube-apiserver'),
    probes: [
      ...probe('livenessProbe', a, '/livez', port, 'HTTPS', 8, 10),
      '    readinessProbe:',
      '      failureThreshold: 3',
      '      httpGet:',
      `        host: ${a}`,
      '        path: /readyz',
      `        port: ${port}`,
      '        scheme: HTTPS',
      '      periodSeconds: 1',
      '      timeoutSeconds: 15',
      ...probe('startupProbe', a, '/livez', port, 'HTTPS', 24, 10),
    ],
    cpu: '250m',
    volumes: [...commonVolumes, { name: 'k8s-certs', path: inKubeadm.pkiDir, type: 'DirectoryOrCreate', readOnly: true }],
  });
}

export function kubeadmControllerManagerManifest(h: LabHost): string {
  const a = h.address;
  const conf = k8s('controller-manager.conf');
  return pod({
    name: 'kube-controller-manager',
    command: [
      'kube-controller-manager',
      '--allocate-node-cidrs=true',
      `--authentication-kubeconfig=${conf}`,
      `--authorization-kubeconfig=${conf}`,
      `--bind-address=${a}`,
      `--client-ca-file=${pki('ca.crt')}`,
      `--cluster-cidr=${inKubeadm.podCidr}`,
      '--cluster-name=kubernetes',
      `--cluster-signing-cert-file=${pki('ca.crt')}`,
      `--cluster-signing-key-file=${pki('ca.key')}`,
      '--controllers=*,bootstrapsigner,tokencleaner',
      `--kubeconfig=${conf}`,
      '--leader-elect=true',
      `--requestheader-client-ca-file=${pki('front-proxy-ca.crt')}`,
      `--root-ca-file=${pki('ca.crt')}`,
      `--service-account-private-key-file=${pki('sa.key')}`,
      `--service-cluster-ip-range=${inKubeadm.serviceCidr}`,
      '--use-service-account-credentials=true',
    ],
    image: image('kube-controller-manager'),
    probes: [...probe('livenessProbe', a, '/healthz', inKubeadm.controllerManagerPort, 'HTTPS', 8, 10), ...probe('startupProbe', a, '/healthz', inKubeadm.controllerManagerPort, 'HTTPS', 24, 10)],
    cpu: '200m',
    volumes: [
      ...commonVolumes,
      { name: 'flexvolume-dir', path: '/usr/libexec/kubernetes/kubelet-plugins/volume/exec', type: 'DirectoryOrCreate' },
      { name: 'k8s-certs', path: inKubeadm.pkiDir, type: 'DirectoryOrCreate', readOnly: true },
      { name: 'kubeconfig', path: conf, type: 'FileOrCreate', readOnly: true },
    ],
  });
}

export function kubeadmSchedulerManifest(h: LabHost): string {
  const a = h.address;
  const conf = k8s('scheduler.conf');
  return pod({
    name: 'kube-scheduler',
    command: [
      'kube-scheduler',
      `--authentication-kubeconfig=${conf}`,
      `--authorization-kubeconfig=${conf}`,
      `--bind-address=${a}`,
      `--kubeconfig=${conf}`,
      '--leader-elect=true',
    ],
    image: image('kube-scheduler'),
    probes: [...probe('livenessProbe', a, '/healthz', inKubeadm.schedulerPort, 'HTTPS', 8, 10), ...probe('startupProbe', a, '/healthz', inKubeadm.schedulerPort, 'HTTPS', 24, 10)],
    cpu: '100m',
    volumes: [{ name: 'kubeconfig', path: conf, type: 'FileOrCreate', readOnly: true }],
  });
}

/** A kubeconfig as kubeadm writes it: one cluster `kubernetes`, one user, embedded client certificate and key. */
export function kubeconfigEmbedded(o: { server: string; caPem: string; user: string; certPem: string; keyPem: string }): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${b64(o.caPem)}`,
    `    server: ${o.server}`,
    '  name: kubernetes',
    'contexts:',
    '- context:',
    '    cluster: kubernetes',
    `    user: ${o.user}`,
    `  name: ${o.user}@kubernetes`,
    `current-context: ${o.user}@kubernetes`,
    'kind: Config',
    'preferences: {}',
    'users:',
    `- name: ${o.user}`,
    '  user:',
    `    client-certificate-data: ${b64(o.certPem)}`,
    `    client-key-data: ${b64(o.keyPem)}`,
    '',
  ].join('\n');
}

/** kubelet.conf after the kubelet's TLS bootstrap: the client certificate and key are the rotated kubelet-client-current.pem. */
export function kubeletConfRotated(o: { server: string; caPem: string }): string {
  const current = `${inKubeadm.kubeletPkiDir}/kubelet-client-current.pem`;
  return [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${Buffer.from(o.caPem).toString('base64')}`,
    `    server: ${o.server}`,
    '  name: default-cluster',
    'contexts:',
    '- context:',
    '    cluster: default-cluster',
    '    namespace: default',
    '    user: default-auth',
    '  name: default-context',
    'current-context: default-context',
    'kind: Config',
    'preferences: {}',
    'users:',
    '- name: default-auth',
    '  user:',
    `    client-certificate: ${current}`,
    `    client-key: ${current}`,
    '',
  ].join('\n');
}

/** /var/lib/kubelet/config.yaml as kubeadm writes it (KubeletConfiguration; client certificate rotation on). */
export function kubeletConfigYaml(): string {
  return [
    'apiVersion: kubelet.config.k8s.io/v1beta1',
    'authentication:',
    '  anonymous:',
    '    enabled: false',
    '  webhook:',
    '    cacheTTL: 0s',
    '    enabled: true',
    '  x509:',
    `    clientCAFile: ${pki('ca.crt')}`,
    'authorization:',
    '  mode: Webhook',
    '  webhook:',
    '    cacheAuthorizedTTL: 0s',
    '    cacheUnauthorizedTTL: 0s',
    'cgroupDriver: systemd',
    'clusterDNS:',
    '- 10.96.0.10',
    'clusterDomain: cluster.local',
    'containerRuntimeEndpoint: ""',
    'healthzBindAddress: 127.0.0.1',
    'healthzPort: 10248',
    'kind: KubeletConfiguration',
    'rotateCertificates: true',
    `staticPodPath: ${inKubeadm.manifestsDir}`,
    '',
  ].join('\n');
}

/** The kubeadm lab's inventory (groups control-plane, etcd, workers; the cluster variables of docs/kubeadm-contract). */
export function kubeadmInventoryYaml(layout: LabLayout, hosts: LabHost[]): string {
  const group = (r: string) => `[${hosts.filter((h) => h.roles.includes(r as never)).map((h) => h.name).join(', ')}]`;
  return [
    `# Inventory of the certroll kubeadm lab${layout.dir === '/var/lib/certroll-lab-kubeadm' ? '' : ` in ${layout.dir}`} (written by \`npm run lab -- up --flavour kubeadm\`; see docs/lab.md).`,
    '# Every cluster variable below is kubeadm\'s default except probeAddress: the lab\'s hosts share one network namespace, so',
    '# a node\'s control-plane ports answer on its own address, not on 127.0.0.1 (set per host).',
    'vars:',
    `  kubernetesDir: ${inKubeadm.kubernetesDir}`,
    `  pkiDir: ${inKubeadm.pkiDir}`,
    `  manifestsDir: ${inKubeadm.manifestsDir}`,
    `  parkDir: ${inKubeadm.parkDir}`,
    `  kubeletPkiDir: ${inKubeadm.kubeletPkiDir}`,
    `  etcdClientPort: ${inKubeadm.etcdClientPort}`,
    `  etcdPeerPort: ${inKubeadm.etcdPeerPort}`,
    `  apiserverPort: ${inKubeadm.apiserverPort}`,
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
    ...hosts.map((h) => `  ${h.name}: { address: ${h.address}, vars: { probeAddress: ${h.address} } }`),
    'groups:',
    `  control-plane: ${group('control-plane')}`,
    `  etcd: ${group('etcd')}`,
    `  workers: ${group('worker')}`,
    '',
  ].join('\n');
}
