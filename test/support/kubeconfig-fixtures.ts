// Kubeconfigs for tests, made at test time: a CA and client certificates by the real openssl (no committed keys), and
// kubeconfig text in kubeadm's layout (client-go's clientcmd.Write: keys sorted, lists at column 0).
import { Secret } from '../../src/secret.js';
import type { Workdir } from '../unit/pki/fixtures.js';

export interface Client {
  cert: string;
  key: Secret<string>;
  /** sha256 of the certificate's DER, as `openssl x509 -outform DER | sha256sum` prints it. */
  derSha256: string;
}

/** ca.crt + ca.key in the workdir. */
export function makeCa(w: Workdir): void {
  w.run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=kubernetes', '-days', '3650']);
}

/** A client certificate signed by the workdir's CA (makeCa first), as kubeadm makes admin.conf's. */
export function makeClient(w: Workdir, name: string, cn: string, o = 'kubeadm:cluster-admins'): Client {
  w.run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=${o}/CN=${cn}`]);
  w.run('openssl', ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '365']);
  const derSha256 = w.run('sh', ['-c', `openssl x509 -in ${name}.crt -outform DER | sha256sum`]).split(' ')[0]!;
  return { cert: w.read(`${name}.crt`), key: w.secret(`${name}.key`), derSha256 };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A kubeconfig with one cluster and, per user, a context `<user>@kubernetes`; the first user's context is current. */
export function kubeconfigText(w: Workdir, users: Array<{ name: string } & Client>, opts: { quote?: string; server?: string } = {}): string {
  const q = opts.quote ?? '';
  return [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${q}${b64(w.read('ca.crt'))}${q}`,
    `    server: ${opts.server ?? 'https://192.168.10.11:6443'}`,
    '  name: kubernetes',
    'contexts:',
    ...users.flatMap((u) => ['- context:', '    cluster: kubernetes', `    user: ${u.name}`, `  name: ${u.name}@kubernetes`]),
    `current-context: ${users[0]!.name}@kubernetes`,
    'kind: Config',
    'preferences: {}',
    'users:',
    ...users.flatMap((u) => [`- name: ${u.name}`, '  user:', `    client-certificate-data: ${q}${b64(u.cert)}${q}`, `    client-key-data: ${q}${b64(u.key.reveal())}${q}`]),
    '',
  ].join('\n');
}
