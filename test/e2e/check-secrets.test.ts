// Certificates held in Kubernetes secrets, end to end over a real (throw-away) sshd: `check` runs the kubectl STAND-IN
// (test/fixtures/kubectl/kubectl, a script that answers from recorded secrets, applying the field selector and the
// go-template as the API server and kubectl would) once on the master, gets the TLS, Istio CA, cacerts and kubeconfig
// certificates, never a key, skips Helm releases and service-account tokens on the server side, and turns a missing,
// unauthorised or slow kubectl, or an output over the cap, into a warning, not a failed check.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFleet } from '../../src/check/run-check.js';
import { renderPrometheus } from '../../src/check/render-prometheus.js';
import { renderText } from '../../src/check/render-text.js';
import { CertDecoder } from '../../src/check/holdings.js';
import { readSecrets, defaultSecretsOptions, FIELD_SELECTOR } from '../../src/check/secrets.js';
import type { CheckReport } from '../../src/check/model.js';
import { palette } from '../../src/render/text.js';
import type { Host } from '../../src/inventory/types.js';
import { connect } from '../../src/ssh/connection.js';
import { expositionProblems } from '../support/exposition.js';
import { startSshd, type TestSshd } from '../support/sshd.js';
import { makeCa, makeLeaf, openssl } from '../unit/check/openssl-fixtures.js';

const run = promisify(execFile);
const ADDRESS = process.env.CERTROLL_TEST_SECRETS_SSHD_ADDRESS ?? '127.0.66.13';
const PORT = Number(process.env.CERTROLL_TEST_SECRETS_SSHD_PORT ?? 2222);

const work = mkdtempSync(join(tmpdir(), 'certroll-secrets-'));
const bin = join(work, 'bin');
const pki = join(work, 'pki');
const kubeconfigOnHost = join(work, 'admin.conf');
let sshd: TestSshd;
let knownHosts: string;

const b64 = (s: string) => Buffer.from(s).toString('base64');
const read = (f: string) => readFileSync(f, 'utf8');
/** The body lines of a PEM key: none of them may ever be in anything certroll received. */
const keyLines = (pem: string) => pem.split('\n').filter((l) => l && !l.startsWith('-----'));

const keys: string[] = [];
const expected = { web: '', istioCa: '', root: '', intermediate: '', client: '', saCa: '' };

/** Recorded secrets of the shapes real clusters hold; certificates made now by openssl, keys generated too (never committed). */
function recordSecrets(): void {
  mkdirSync(pki);
  const root = makeCa(pki, 'root', 'istio-root', 3650);
  const inter = makeCa(pki, 'intermediate', 'istio-intermediate', 365);
  const web = makeLeaf(pki, 'web', 'web.example.com', root, 20, 'DNS:web.example.com');
  const istioCa = makeCa(pki, 'istio-ca', 'cluster.local', 365);
  const kubeCa = makeCa(pki, 'kube-ca', 'kubernetes', 3650);
  const client = makeLeaf(pki, 'admin', 'kubernetes-admin', kubeCa, 300);
  for (const m of [root, inter, web, istioCa, kubeCa, client]) keys.push(read(m.key));
  const fp = (f: string) => openssl(['x509', '-noout', '-fingerprint', '-sha256', '-in', f]).trim().split('=')[1]!;
  Object.assign(expected, { web: fp(web.cert), istioCa: fp(istioCa.cert), root: fp(root.cert), intermediate: fp(inter.cert), client: fp(client.cert), saCa: fp(kubeCa.cert) });
  const kubeconfig = [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${b64(read(kubeCa.cert))}`,
    '    server: https://hosted-demo-hosted-apiserver:6443',
    '  name: kubernetes',
    'contexts:',
    '- context:',
    '    cluster: kubernetes',
    '    user: kubernetes-admin',
    '  name: kubernetes-admin@kubernetes',
    'current-context: kubernetes-admin@kubernetes',
    'kind: Config',
    'users:',
    '- name: kubernetes-admin',
    '  user:',
    `    client-certificate-data: ${b64(read(client.cert))}`,
    `    client-key-data: ${b64(read(client.key))}`,
    '',
  ].join('\n');
  const secret = (namespace: string, name: string, type: string, data: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, uid: `uid-${name}`, resourceVersion: '1' },
    type,
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  });
  const items = [
    secret('web', 'web-tls', 'kubernetes.io/tls', { 'tls.crt': read(web.cert), 'tls.key': read(web.key) }),
    secret('istio-system', 'istio-ca-secret', 'istio.io/ca-root', { 'ca-cert.pem': read(istioCa.cert), 'ca-key.pem': read(istioCa.key), 'cert-chain.pem': '', 'key.pem': '', 'root-cert.pem': '' }),
    secret('istio-system', 'cacerts', 'Opaque', {
      'ca-cert.pem': read(inter.cert),
      'ca-key.pem': read(inter.key),
      'root-cert.pem': read(root.cert),
      'cert-chain.pem': read(inter.cert) + read(root.cert),
    }),
    secret('istio-system', 'hosted-demo-apiserver-admin-kubeconfig', 'Opaque', { config: kubeconfig }),
    secret('app', 'db-password', 'Opaque', { password: 'hunter2' }),
    // Must be dropped by the API server (field selector): a Helm release (large), a service-account token with the cluster CA.
    secret('app', 'sh.helm.release.v1.demo.v1', 'helm.sh/release.v1', { release: `H4sIAAAAAAAC/${'A'.repeat(200_000)}` }),
    secret('app', 'default-token-x7k2p', 'kubernetes.io/service-account-token', { 'ca.crt': read(kubeCa.cert), token: 'eyJhbGciOiJSUzI1NiJ9.dummy', namespace: 'app' }),
  ];
  writeFileSync(join(bin, 'secrets.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items }, null, 2));
}

function behave(b: { mode: 'ok' | 'unauthorized' | 'forbidden' | 'slow'; sleep?: number }): void {
  writeFileSync(join(bin, 'behaviour.json'), JSON.stringify(b));
  rmSync(join(bin, 'calls.log'), { force: true });
}

function calls(): Array<{ argv: string[]; kubeconfig: string | null; served: string[] }> {
  try {
    return read(join(bin, 'calls.log')).trim().split('\n').map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

function master(vars: Partial<Host['vars']> = {}): Host {
  const h = sshd.host('m1', { knownHostsFile: knownHosts });
  return { ...h, groups: ['master', 'etcd'], vars: { ...h.vars, checkPaths: [`${pki}/root.pem`], secrets: true, kubectl: join(bin, 'kubectl'), kubeconfig: kubeconfigOnHost, ...vars } };
}

const NOW = () => new Date();

beforeAll(async () => {
  mkdirSync(bin, { recursive: true });
  // The stand-in is installed for this test only, in a directory of its own (the machine's PATH is untouched).
  copyFileSync('test/fixtures/kubectl/kubectl', join(bin, 'kubectl'));
  await run('chmod', ['755', join(bin, 'kubectl')]);
  writeFileSync(kubeconfigOnHost, 'apiVersion: v1\nkind: Config\n');
  recordSecrets();
  sshd = await startSshd({ address: ADDRESS, port: PORT });
  knownHosts = await sshd.writeKnownHosts();
});

afterAll(async () => {
  await sshd?.stop();
  rmSync(work, { recursive: true, force: true });
});

const rowsOf = (r: CheckReport) => r.certificates.filter((c) => c.secret || c.path.startsWith('secret:'));

describe('check with secrets: true (kubectl stand-in on the master)', () => {
  it('reads every certificate-holding secret in one kubectl call, filtered on the server, and reports namespace, secret and key', async () => {
    behave({ mode: 'ok' });
    const { report } = await checkFleet({ file: 'test' }, [master()], { now: NOW, acceptNewHostKeys: false });
    expect(report.secrets).toMatchObject({ host: 'm1', status: 'ok' });
    // One call, with the kubeconfig from the inventory and the field selector; Helm releases and SA tokens never served.
    const c = calls();
    expect(c).toHaveLength(1);
    expect(c[0]!.kubeconfig).toBe(kubeconfigOnHost);
    expect(c[0]!.argv).toEqual(expect.arrayContaining(['get', 'secrets', '--all-namespaces', '--field-selector', FIELD_SELECTOR]));
    expect(FIELD_SELECTOR).toContain('type!=helm.sh/release.v1');
    expect(FIELD_SELECTOR).toContain('type!=kubernetes.io/service-account-token');
    expect(c[0]!.served).not.toContain('app/sh.helm.release.v1.demo.v1');
    expect(c[0]!.served).not.toContain('app/default-token-x7k2p');
    expect(c[0]!.served).toContain('istio-system/cacerts');

    const rows = rowsOf(report).map((r) => [r.label, r.fingerprintSha256, r.hosts, r.secret?.type]);
    expect(rows).toEqual([
      ['secret:istio-system/cacerts/ca-cert.pem', expected.intermediate, ['m1'], 'Opaque'],
      ['secret:istio-system/cacerts/cert-chain.pem#1', expected.intermediate, ['m1'], 'Opaque'],
      ['secret:istio-system/cacerts/cert-chain.pem#2', expected.root, ['m1'], 'Opaque'],
      ['secret:istio-system/cacerts/root-cert.pem', expected.root, ['m1'], 'Opaque'],
      ['secret:istio-system/hosted-demo-apiserver-admin-kubeconfig/config#cluster=kubernetes', expected.saCa, ['m1'], 'Opaque'],
      ['secret:istio-system/hosted-demo-apiserver-admin-kubeconfig/config#user=kubernetes-admin', expected.client, ['m1'], 'Opaque'],
      ['secret:istio-system/istio-ca-secret/ca-cert.pem', expected.istioCa, ['m1'], 'istio.io/ca-root'],
      ['secret:web/web-tls/tls.crt', expected.web, ['m1'], 'kubernetes.io/tls'],
    ]);
    // 6 values: tls.crt, istio-ca-secret's ca-cert.pem, cacerts' ca-cert.pem, root-cert.pem and cert-chain.pem, the kubeconfig (empty values are skipped).
    expect(report.secrets!.values).toBe(6);
    const web = rowsOf(report).find((r) => r.label.endsWith('web-tls/tls.crt'))!;
    expect(web).toMatchObject({ status: 'expiring', secret: { namespace: 'web', name: 'web-tls', key: 'tls.crt' } });
    // The files on the host are still read in the same check.
    expect(report.certificates.find((r) => r.path === `${pki}/root.pem`)?.fingerprintSha256).toBe(expected.root);
    // No key, and not the SA token's CA row, anywhere in the report.
    const json = JSON.stringify(report);
    for (const k of keys) for (const l of keyLines(k)) expect(json).not.toContain(l);
    expect(json).not.toContain('default-token');
    expect(json).not.toContain('hunter2');
  });

  it('sends no private key over the wire: everything the host returned holds certificate lines only', async () => {
    behave({ mode: 'ok' });
    const remote = await connect(master());
    try {
      const seen: string[] = [];
      const recording = new Proxy(remote, {
        get(target, prop, receiver) {
          if (prop === 'sh') {
            return async (...args: Parameters<typeof remote.sh>) => {
              const res = await target.sh(...args);
              seen.push(res.stdout, res.stderr);
              return res;
            };
          }
          const v = Reflect.get(target, prop, receiver);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      const h = master();
      const r = await readSecrets(recording, h, { ...defaultSecretsOptions, kubectl: h.vars.kubectl!, kubeconfig: h.vars.kubeconfig! }, new CertDecoder());
      expect(r.ok).toBe(true);
      const wire = seen.join('');
      expect(wire.length).toBeGreaterThan(1000);
      for (const k of keys) {
        for (const l of keyLines(k)) expect(wire).not.toContain(l);
        expect(wire).not.toContain(b64(k).slice(0, 60));
      }
      expect(wire).not.toContain('PRIVATE KEY');
      expect(wire).not.toContain('client-key-data');
      expect(wire).not.toContain('hunter2');
      // Every line is protocol: header, record tags, certificate lines, the kubeconfig's allowed lines.
      for (const line of wire.split('\n').filter(Boolean)) expect(line).toMatch(/^(certroll-secrets 1|[FCYESD]\t.*)$/);
    } finally {
      await remote.close();
    }
  });

  it('renders secret rows in the table, and as x509_cert_* series with secret_namespace, secret_name and secret_key', async () => {
    behave({ mode: 'ok' });
    const { report } = await checkFleet({ file: 'test' }, [master()], { now: NOW });
    const text = renderText(report, palette(false));
    expect(text).toMatch(/cluster\.local \(CA\)\s+secret:istio-system\/istio-ca-secret\/ca-cert\.pem\s+m1\s/);
    expect(text).toContain('6 secret values read through kubectl on m1');
    const prom = renderPrometheus(report);
    expect(expositionProblems(prom)).toEqual([]);
    expect(prom).toMatch(/x509_cert_not_after\{host="m1",secret_namespace="istio-system",secret_name="istio-ca-secret",secret_key="ca-cert.pem",serial_number="\d+",subject_CN="cluster.local",issuer_CN="cluster.local"\} \d+/);
    expect(prom).toMatch(/x509_cert_expired\{host="m1",secret_namespace="istio-system",secret_name="hosted-demo-apiserver-admin-kubeconfig",secret_key="config",embedded_kind="user",embedded_key="kubernetes-admin",/);
    expect(prom).toContain('x509_read_errors{host="m1"} 0');
  });

  it('turns a missing kubectl into a warning, not a failed check', async () => {
    behave({ mode: 'ok' });
    const plain = await checkFleet({ file: 'test' }, [master({ secrets: false })], { now: NOW });
    const { report } = await checkFleet({ file: 'test' }, [master({ kubectl: join(bin, 'no-kubectl-here') })], { now: NOW });
    expect(report.secrets).toMatchObject({ host: 'm1', status: 'unavailable', problem: 'missing' });
    expect(report.secrets!.reason).toContain(`${join(bin, 'no-kubectl-here')} is not an executable file`);
    expect(report.summary.exitCode).toBe(plain.report.summary.exitCode);
    expect(report.hosts[0]!.status).toBe('ok');
    expect(rowsOf(report)).toEqual([]);
    expect(renderText(report, palette(false))).toContain('warning: Kubernetes secrets not read through kubectl on m1: kubectl not found');
    expect(renderPrometheus(report)).toContain('x509_read_errors{host="m1"} 1');
  });

  it('turns "Unauthorized" (kubectl exit 1) into a warning with kubectl\'s message', async () => {
    behave({ mode: 'unauthorized' });
    const { report } = await checkFleet({ file: 'test' }, [master()], { now: NOW });
    expect(report.secrets).toMatchObject({ status: 'unavailable', problem: 'unauthorized', reason: 'error: You must be logged in to the server (Unauthorized)' });
    expect(report.hosts[0]!.status).toBe('ok');
    expect(calls()).toHaveLength(1);
  });

  it('turns a slow kubectl into a timeout warning, within the time limit', async () => {
    behave({ mode: 'slow', sleep: 8 });
    const started = Date.now();
    const { report } = await checkFleet({ file: 'test' }, [master()], { now: NOW, secretsTimeoutMs: 1500 });
    expect(Date.now() - started).toBeLessThan(6000);
    expect(report.secrets).toMatchObject({ status: 'unavailable', problem: 'timeout', reason: 'kubectl did not answer within 2 s' });
    expect(report.hosts[0]!.status).toBe('ok');
    expect(report.certificates.find((r) => r.path === `${pki}/root.pem`)).toBeDefined();
  });

  it('caps the bytes read: an output over the cap is a warning, never parsed as complete', async () => {
    behave({ mode: 'ok' });
    const { report } = await checkFleet({ file: 'test' }, [master()], { now: NOW, secretsMaxBytes: 2000 });
    expect(report.secrets).toMatchObject({ status: 'unavailable', problem: 'truncated' });
    expect(rowsOf(report)).toEqual([]);
  });

  it('says so when no master is selected (--limit), and reads nothing through kubectl', async () => {
    behave({ mode: 'ok' });
    const { report } = await checkFleet({ file: 'test' }, [{ ...master(), groups: ['etcd'] }], { now: NOW });
    expect(report.secrets).toMatchObject({ status: 'unavailable', problem: 'no-host' });
    expect(calls()).toEqual([]);
  });
});

describe('certroll check --secrets (the CLI, against the same sshd)', () => {
  it('reads the secrets with --secrets, prints them in --json, and leaves them out with --no-secrets', async () => {
    behave({ mode: 'ok' });
    const inv = join(work, 'inventory.yaml');
    const h = master();
    writeFileSync(
      inv,
      [
        'ssh:',
        `  user: root`,
        `  port: ${PORT}`,
        `  identityFile: ${h.ssh.identityFile}`,
        `  knownHostsFile: ${knownHosts}`,
        'vars:',
        `  checkPaths: ["${pki}/root.pem"]`,
        `  kubectl: ${join(bin, 'kubectl')}`,
        `  kubeconfig: ${kubeconfigOnHost}`,
        'hosts:',
        `  m1: { address: ${ADDRESS} }`,
        'groups:',
        '  master: [m1]',
        '  etcd: [m1]',
        '',
      ].join('\n'),
    );
    const cli = async (...args: string[]) => {
      try {
        return { code: 0, ...(await run('node', ['dist/cli/bin.js', 'check', '-i', inv, ...args], { env: { ...process.env, NO_COLOR: '1' } })) };
      } catch (e) {
        return e as { code: number; stdout: string; stderr: string };
      }
    };
    const withSecrets = await cli('--secrets', '--json');
    const report = JSON.parse(withSecrets.stdout) as CheckReport;
    expect(report.secrets).toMatchObject({ host: 'm1', status: 'ok', values: 6 });
    expect(rowsOf(report)).toHaveLength(8);
    const without = JSON.parse((await cli('--no-secrets', '--json')).stdout) as CheckReport;
    expect(without.secrets).toBeUndefined();
    expect(rowsOf(without)).toEqual([]);
  });
});
