// The kubeadm lab's PKI and host files, made with openssl at `up` into <dir>/pristine (from which `up` and `reset` copy every
// host's files): kubeadm's layout, names, subjects, SANs, key usages and lifetimes (RSA 2048, 10-year CAs, 1-year leaves),
// dated as a cluster made 340 days ago, so some leaves and every kubeconfig's client certificate expire within 30 days.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { inKubeadm, type LabHost, type LabLayout } from './layout.js';
import {
  kubeadmApiserverManifest, kubeadmControllerManagerManifest, kubeadmEtcdManifest, kubeadmSchedulerManifest, kubeconfigEmbedded, kubeletConfigYaml, kubeletConfRotated,
} from './kubeadm-files.js';
import { hostEnv, runOk } from './proc.js';

const DAY = 86_400_000;

const OPENSSL_CNF = `
[ca]
default_ca = lab
[lab]
database = $ENV::DB/index.txt
new_certs_dir = $ENV::DB
rand_serial = yes
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
email_in_dn = no
[any]
organizationName = optional
commonName = supplied
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyEncipherment,keyCertSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = $ENV::SANS
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
[serverclient]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
authorityKeyIdentifier = keyid
subjectAltName = $ENV::SANS
[kubelet_serving]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $ENV::SANS
`;

type Profile = 'ca_ext' | 'server' | 'client' | 'serverclient' | 'kubelet_serving';

/** openssl ca's date format. */
function asn1(t: number): string {
  return new Date(t).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

class Openssl {
  readonly limit = pLimit(4);
  constructor(readonly work: string) {}

  /** A new RSA 2048 key in PKCS#1 PEM ("RSA PRIVATE KEY"), as kubeadm writes them. */
  async key(path: string): Promise<void> {
    await this.limit(() => runOk('openssl', ['genrsa', '-traditional', '-out', path, '2048'], { env: hostEnv }));
  }

  /** Sign keyPath's public key: self-signed when ca is undefined. notBefore/notAfter in ms. */
  async cert(o: { keyPath: string; out: string; subject: string; profile: Profile; notBefore: number; notAfter: number; sans?: string[]; ca?: { crt: string; key: string } }): Promise<void> {
    await this.limit(async () => {
      const db = mkdtempSync(join(this.work, 'ca-'));
      await writeFile(join(db, 'index.txt'), '');
      const env = { ...hostEnv, DB: db, SANS: (o.sans ?? ['DNS:unused']).join(',') };
      const cnf = join(this.work, 'openssl.cnf');
      await runOk('openssl', ['req', '-new', '-config', cnf, '-key', o.keyPath, '-subj', o.subject, '-out', join(db, 'csr')], { env });
      await runOk('openssl', [
        'ca', '-batch', '-config', cnf, '-notext', '-preserveDN', '-in', join(db, 'csr'), '-out', o.out,
        '-startdate', asn1(o.notBefore), '-enddate', asn1(o.notAfter), '-extensions', o.profile,
        ...(o.ca ? ['-cert', o.ca.crt, '-keyfile', o.ca.key] : ['-selfsign', '-keyfile', o.keyPath]),
      ], { env });
      await rm(db, { recursive: true, force: true });
    });
  }
}

/** A kubelet-client-<date>.pem name from the certificate's notBefore, as the kubelet names its rotated certificates. */
function kubeletClientName(notBefore: number): string {
  return `kubelet-client-${new Date(notBefore).toISOString().slice(0, 19).replace(/[T:]/g, '-')}.pem`;
}

/** When each node's files were made, relative to `up`: the cluster was made 340 days ago, one node joining per day. */
export const KUBEADM_AGES = {
  /** kubeadm init: the CAs (10 years) and the first node's leaves (1 year). */
  initDaysAgo: 340,
  /** etcd's leaves and apiserver-etcd-client were renewed later (`kubeadm certs renew etcd-*`). */
  etcdRenewedDaysAgo: 200,
  /** The kubelet's rotated client certificate; on the third node rotation stalled (its kubelet-client is the join's). */
  kubeletRotatedDaysAgo: 100,
} as const;

/**
 * Write pristine/hosts/NAME/{etc-kubernetes,var-lib-kubelet,root,manifests} for every host: the PKI (CAs and sa shared,
 * leaves per node like `kubeadm join --control-plane`), the kubeconfigs, the kubelet's files and the static-pod manifests.
 */
export async function makeKubeadmPristine(layout: LabLayout, hosts: LabHost[], now = Date.now()): Promise<void> {
  const p = layout.pristine;
  const work = join(p, 'openssl');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true, mode: 0o700 });
  await writeFile(join(work, 'openssl.cnf'), OPENSSL_CNF);
  const ssl = new Openssl(work);
  const cps = hosts.filter((h) => h.roles.includes('control-plane'));
  const etcd = hosts.filter((h) => h.roles.includes('etcd'));
  const init = now - KUBEADM_AGES.initDaysAgo * DAY;
  const year = (from: number) => ({ notBefore: from, notAfter: from + 365 * DAY });

  // The CAs and the service-account key pair, shared by every control-plane node.
  const shared = join(work, 'shared');
  await mkdir(join(shared, 'etcd'), { recursive: true });
  const cas = [
    { name: 'ca', cn: 'kubernetes' },
    { name: 'front-proxy-ca', cn: 'front-proxy-ca' },
    { name: 'etcd/ca', cn: 'etcd-ca' },
  ];
  await Promise.all([...cas.map((c) => ssl.key(join(shared, `${c.name}.key`))), ssl.key(join(shared, 'sa.key'))]);
  await Promise.all(cas.map((c) => ssl.cert({
    keyPath: join(shared, `${c.name}.key`), out: join(shared, `${c.name}.crt`), subject: `/CN=${c.cn}`, profile: 'ca_ext', notBefore: init, notAfter: init + 3650 * DAY,
  })));
  await runOk('openssl', ['rsa', '-in', join(shared, 'sa.key'), '-pubout', '-out', join(shared, 'sa.pub')], { env: hostEnv });
  const ca = (name: string) => ({ crt: join(shared, `${name}.crt`), key: join(shared, `${name}.key`) });
  const caPem = await readFile(join(shared, 'ca.crt'), 'utf8');

  await Promise.all(hosts.map(async (h, i) => {
    const t = join(p, 'hosts', h.name);
    await rm(t, { recursive: true, force: true });
    const ek = join(t, 'etc-kubernetes');
    const pkiDir = join(ek, 'pki');
    const kubeletPki = join(t, 'var-lib-kubelet', 'pki');
    await mkdir(join(ek, 'manifests'), { recursive: true });
    await mkdir(kubeletPki, { recursive: true });
    await mkdir(join(t, 'manifests'), { recursive: true });
    await mkdir(join(t, 'root'), { recursive: true });
    const joined = init + i * DAY;
    const isCp = h.roles.includes('control-plane');
    const server = (addr: string) => `https://${addr}:${inKubeadm.apiserverPort}`;
    const tmp = join(work, h.name);
    await mkdir(tmp, { recursive: true });

    // The kubelet's own files: the rotated client certificate (cert + key in one file, behind the -current symlink) and its
    // self-signed serving certificate.
    const rotated = h === cps[2] ? joined : now - KUBEADM_AGES.kubeletRotatedDaysAgo * DAY;
    const kcKey = join(tmp, 'kubelet-client.key');
    const ksKey = join(kubeletPki, 'kubelet.key');
    await Promise.all([ssl.key(kcKey), ssl.key(ksKey)]);
    const kc = join(tmp, 'kubelet-client.crt');
    await Promise.all([
      ssl.cert({ keyPath: kcKey, out: kc, subject: `/O=system:nodes/CN=system:node:${h.name}`, profile: 'client', ...year(rotated), ca: ca('ca') }),
      ssl.cert({
        keyPath: ksKey, out: join(kubeletPki, 'kubelet.crt'), subject: `/CN=${h.name}@${Math.floor(joined / 1000)}`, profile: 'kubelet_serving',
        ...year(joined), sans: [`DNS:${h.name}`, `IP:${h.address}`],
      }),
    ]);
    const kcName = kubeletClientName(rotated);
    await writeFile(join(kubeletPki, kcName), (await readFile(kc, 'utf8')) + (await readFile(kcKey, 'utf8')), { mode: 0o600 });
    await symlink(`${inKubeadm.kubeletPkiDir}/${kcName}`, join(kubeletPki, 'kubelet-client-current.pem'));
    await chmod(ksKey, 0o600);
    await writeFile(join(t, 'var-lib-kubelet', 'config.yaml'), kubeletConfigYaml(), { mode: 0o644 });

    if (!isCp) {
      // A worker: kubelet.conf (rotated client certificate) pointing at the first control-plane node.
      await writeFile(join(ek, 'kubelet.conf'), kubeletConfRotated({ server: server(cps[0]!.address), caPem }), { mode: 0o600 });
      await mkdir(join(ek, 'pki'), { recursive: true });
      await writeFile(join(pkiDir, 'ca.crt'), caPem, { mode: 0o644 });
      return;
    }

    await mkdir(join(pkiDir, 'etcd'), { recursive: true });
    for (const f of ['ca.crt', 'ca.key', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'etcd/ca.crt', 'etcd/ca.key', 'sa.key', 'sa.pub']) {
      await writeFile(join(pkiDir, f), await readFile(join(shared, f)), { mode: f.endsWith('.key') ? 0o600 : 0o644 });
    }
    const etcdRenewed = now - KUBEADM_AGES.etcdRenewedDaysAgo * DAY;
    const etcdSans = [`DNS:${h.name}`, 'DNS:localhost', `IP:${h.address}`, 'IP:127.0.0.1', 'IP:0:0:0:0:0:0:0:1'];
    const leaves: Array<{ name: string; subject: string; profile: Profile; ca: string; from: number; sans?: string[] }> = [
      {
        name: 'apiserver', subject: '/CN=kube-apiserver', profile: 'server', ca: 'ca', from: joined,
        sans: [`DNS:${h.name}`, 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local', `IP:${inKubeadm.serviceIp}`, `IP:${h.address}`],
      },
      { name: 'apiserver-kubelet-client', subject: '/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client', profile: 'client', ca: 'ca', from: joined },
      { name: 'apiserver-etcd-client', subject: '/CN=kube-apiserver-etcd-client', profile: 'client', ca: 'etcd/ca', from: etcdRenewed },
      { name: 'front-proxy-client', subject: '/CN=front-proxy-client', profile: 'client', ca: 'front-proxy-ca', from: joined },
      { name: 'etcd/server', subject: `/CN=${h.name}`, profile: 'serverclient', ca: 'etcd/ca', from: etcdRenewed, sans: etcdSans },
      { name: 'etcd/peer', subject: `/CN=${h.name}`, profile: 'serverclient', ca: 'etcd/ca', from: etcdRenewed, sans: etcdSans },
      { name: 'etcd/healthcheck-client', subject: '/CN=kube-etcd-healthcheck-client', profile: 'client', ca: 'etcd/ca', from: etcdRenewed },
    ];
    // kubeconfigs: super-admin.conf only where `kubeadm init` ran (kubeadm >= 1.29), kubelet.conf embedding its client
    // certificate only there too (a cluster made before kubelet client rotation); the other nodes' names the rotated file.
    const first = h === cps[0];
    const confs: Array<{ file: string; user: string; subject: string; server: string }> = [
      { file: 'admin.conf', user: 'kubernetes-admin', subject: '/O=kubeadm:cluster-admins/CN=kubernetes-admin', server: server(h.address) },
      ...(first ? [{ file: 'super-admin.conf', user: 'kubernetes-super-admin', subject: '/O=system:masters/CN=kubernetes-super-admin', server: server(h.address) }] : []),
      { file: 'controller-manager.conf', user: 'system:kube-controller-manager', subject: '/CN=system:kube-controller-manager', server: server(h.address) },
      { file: 'scheduler.conf', user: 'system:kube-scheduler', subject: '/CN=system:kube-scheduler', server: server(h.address) },
      ...(first ? [{ file: 'kubelet.conf', user: `system:node:${h.name}`, subject: `/O=system:nodes/CN=system:node:${h.name}`, server: server(h.address) }] : []),
    ];
    await Promise.all([
      ...leaves.map((l) => ssl.key(join(pkiDir, `${l.name}.key`))),
      ...confs.map((c) => ssl.key(join(tmp, `${c.file}.key`))),
    ]);
    await Promise.all([
      ...leaves.map((l) => ssl.cert({ keyPath: join(pkiDir, `${l.name}.key`), out: join(pkiDir, `${l.name}.crt`), subject: l.subject, profile: l.profile, ...year(l.from), sans: l.sans, ca: ca(l.ca) })),
      ...confs.map((c) => ssl.cert({ keyPath: join(tmp, `${c.file}.key`), out: join(tmp, `${c.file}.crt`), subject: c.subject, profile: 'client', ...year(joined), ca: ca('ca') })),
    ]);
    for (const l of leaves) {
      await chmod(join(pkiDir, `${l.name}.key`), 0o600);
      await chmod(join(pkiDir, `${l.name}.crt`), 0o644);
    }
    for (const c of confs) {
      const text = kubeconfigEmbedded({ server: c.server, caPem, user: c.user, certPem: await readFile(join(tmp, `${c.file}.crt`), 'utf8'), keyPem: await readFile(join(tmp, `${c.file}.key`), 'utf8') });
      await writeFile(join(ek, c.file), text, { mode: 0o600 });
    }
    if (!first) await writeFile(join(ek, 'kubelet.conf'), kubeletConfRotated({ server: server(h.address), caPem }), { mode: 0o600 });
    await mkdir(join(t, 'root', '.kube'), { recursive: true, mode: 0o755 });
    await writeFile(join(t, 'root', '.kube', 'config'), await readFile(join(ek, 'admin.conf')), { mode: 0o600 });

    await writeFile(join(t, 'manifests', 'etcd.yaml'), kubeadmEtcdManifest(h, etcd), { mode: 0o600 });
    await writeFile(join(t, 'manifests', 'kube-apiserver.yaml'), kubeadmApiserverManifest(h), { mode: 0o600 });
    await writeFile(join(t, 'manifests', 'kube-controller-manager.yaml'), kubeadmControllerManagerManifest(h), { mode: 0o600 });
    await writeFile(join(t, 'manifests', 'kube-scheduler.yaml'), kubeadmSchedulerManifest(h), { mode: 0o600 });
  }));
  // What the lab itself uses to talk to etcd and the apiservers from outside the hosts (status, waits): the shared CAs.
  await rm(join(p, 'kubeadm-ca'), { recursive: true, force: true });
  await mkdir(join(p, 'kubeadm-ca'), { recursive: true, mode: 0o700 });
  for (const f of ['ca.crt', 'etcd-ca.crt']) await writeFile(join(p, 'kubeadm-ca', f), await readFile(join(shared, f.replace('etcd-ca', 'etcd/ca'))));
  await rm(work, { recursive: true, force: true });
}

/** notAfter of a PEM certificate file as an ISO date, or undefined when unreadable. */
export async function notAfterOf(path: string): Promise<string | undefined> {
  try {
    return new Date(new X509Certificate(await readFile(path)).validTo).toISOString();
  } catch {
    return undefined;
  }
}
