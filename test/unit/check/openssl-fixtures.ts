// Test helper: a directory tree of real certificates and keys made with the openssl CLI (CA, leaves, bundle, kubeconfig, key files).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface Made {
  cert: string;
  key: string;
}

/** A self-signed CA valid for `days` days. */
export function makeCa(dir: string, name: string, cn: string, days: number): Made {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', String(days), '-subj', `/CN=${cn}/O=certroll-test`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { cert, key };
}

/** A leaf signed by `ca`, with SANs (`DNS:a,IP:1.2.3.4`) when given. */
export function makeLeaf(dir: string, name: string, cn: string, ca: Made, days: number, sans?: string): Made {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
  writeFileSync(ext, `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n${sans ? `subjectAltName=${sans}\n` : ''}`);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', String(days), '-extfile', ext]);
  return { cert, key };
}

export function enddate(pemFile: string): Date {
  const out = openssl(['x509', '-noout', '-enddate', '-in', pemFile]).trim();
  return new Date(out.replace(/^notAfter=/, ''));
}

export function fingerprint(pemFile: string): string {
  return openssl(['x509', '-noout', '-fingerprint', '-sha256', '-in', pemFile]).trim().replace(/^.*=/, '');
}

export const read = (f: string) => readFileSync(f, 'utf8');
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A kubeconfig like kubeadm's (lists at column 0), with `users` each holding a client certificate and key. */
export function kubeconfig(ca: string, users: Array<{ name: string; cert: string; key: string }>, indentLists = false): string {
  const d = indentLists ? '  ' : '';
  return [
    'apiVersion: v1',
    'clusters:',
    `${d}- cluster:`,
    `${d}    certificate-authority-data: ${b64(ca)}`,
    `${d}    server: https://10.0.0.1:6443`,
    `${d}  name: kubernetes`,
    'contexts:',
    `${d}- context:`,
    `${d}    cluster: kubernetes`,
    `${d}    user: ${users[0]!.name}`,
    `${d}  name: ${users[0]!.name}@kubernetes`,
    `current-context: ${users[0]!.name}@kubernetes`,
    'kind: Config',
    'preferences: {}',
    'users:',
    ...users.flatMap((u) => [
      `${d}- name: ${u.name}`,
      `${d}  user:`,
      `${d}    client-certificate-data: ${b64(u.cert)}`,
      `${d}    client-key-data: ${b64(u.key)}`,
    ]),
    '',
  ].join('\n');
}

export interface Tree {
  root: string;
  ca: Made;
  leaf: Made;
  /** Check paths (absolute, under root). */
  paths: string[];
  /** Files holding private keys, whose lines must never appear in the scan output. */
  keyFiles: string[];
  /** Every certificate made (public data). */
  certFiles: string[];
}

/** The layout `check` reads by default (TOS, kubeadm, kubelet, kubeconfig), under `root`. */
export function makeTree(root: string): Tree {
  const srv = join(root, 'srv/kubernetes');
  const pki = join(root, 'etc/kubernetes/pki');
  const kubelet = join(root, 'var/lib/kubelet/pki');
  for (const d of [srv, join(pki, 'etcd/deep'), kubelet, join(root, 'work')]) mkdirSync(d, { recursive: true });
  const work = join(root, 'work');
  const ca = makeCa(srv, 'etcd-ca', 'etcd-ca', 20);
  const leaf = makeLeaf(srv, 'etcd', 'etcd', ca, 10, 'DNS:node-1,DNS:node-2,IP:127.0.0.1,IP:10.10.10.1');
  const other = makeCa(work, 'other-ca', 'other-ca', 400);
  const admin = makeLeaf(work, 'admin', 'kubernetes-admin', other, 365);
  const ops = makeLeaf(work, 'ops', 'ops-user', other, 100);
  const kc = makeLeaf(work, 'kubelet-client', 'system:node:node-1', other, 365);
  // A bundle of three certificates.
  writeFileSync(join(srv, 'bundle.pem'), read(ca.cert) + read(other.cert) + read(leaf.cert));
  // A certificate followed by its key in one file (as kubelet-client-current.pem is).
  writeFileSync(join(kubelet, 'kubelet-client-2024-01-01.pem'), read(kc.cert) + read(kc.key));
  symlinkSync('kubelet-client-2024-01-01.pem', join(kubelet, 'kubelet-client-current.pem'));
  // A certificate cut short, followed by a key: the key lines must not leak through the open block.
  const cut = read(leaf.cert).split('\n').slice(0, 6).join('\n') + '\n';
  writeFileSync(join(srv, 'damaged.pem'), cut + read(leaf.key));
  writeFileSync(join(srv, 'notes.pem'), 'not a certificate\n');
  // kubeadm layout, with nesting that only `**` reaches.
  writeFileSync(join(pki, 'ca.crt'), read(other.cert));
  writeFileSync(join(pki, 'etcd/ca.crt'), read(ca.cert));
  writeFileSync(join(pki, 'etcd/deep/peer.crt'), read(leaf.cert));
  writeFileSync(join(pki, 'ca.key'), read(other.key));
  // kubeconfig with two users.
  writeFileSync(join(root, 'etc/kubernetes/admin.conf'), kubeconfig(read(other.cert), [
    { name: 'kubernetes-admin', cert: read(admin.cert), key: read(admin.key) },
    { name: 'ops', cert: read(ops.cert), key: read(ops.key) },
  ]));
  writeFileSync(join(root, 'etc/kubernetes/indented.conf'), kubeconfig(read(other.cert), [{ name: 'solo', cert: read(ops.cert), key: read(ops.key) }], true));
  const keyFiles = [ca.key, leaf.key, join(pki, 'ca.key'), join(kubelet, 'kubelet-client-2024-01-01.pem'), admin.key, ops.key, kc.key, other.key];
  return {
    root,
    ca,
    leaf,
    paths: [`${srv}/*.pem`, `${pki}/**/*.crt`, `${kubelet}/*.{crt,pem}`, `${root}/etc/kubernetes/*.conf`],
    keyFiles,
    certFiles: [ca.cert, leaf.cert, other.cert, admin.cert, ops.cert, kc.cert],
  };
}

/**
 * Every base64 body line of every PRIVATE KEY block in these files, except lines that also occur in a certificate
 * (an EC private key's PEM carries the public point, which the certificate holds too, sometimes at the same base64 offset).
 */
export function keyLines(files: readonly string[], certFiles: readonly string[]): string[] {
  const pub = certFiles.map(read).join('\n');
  const out: string[] = [];
  for (const f of files) {
    const text = read(f);
    for (const m of text.matchAll(/-----BEGIN [A-Z ]*PRIVATE KEY-----\n([\s\S]*?)-----END/g)) {
      out.push(...m[1]!.split('\n').filter((l) => l.length > 8 && !pub.includes(l)));
    }
  }
  return out;
}
