// The kubeconfig reader and in-place rewriter: kubeadm's layout, flow style and JSON, CRLF and comments, several users, file
// references, tokens, corrupt base64; a rewrite changes only the two values and the proof catches any other difference.
// Certificates and keys are made at test time with the real openssl (no committed keys).
import { afterAll, describe, expect, it } from 'vitest';
import { Workdir } from './fixtures.js';
import { Secret } from '../../../src/secret.js';
import { InputError } from '../../../src/errors.js';
import { currentUser, KubeconfigError, parseKubeconfig, proveOnlyCredentialsChanged, rewriteClientCredentials } from '../../../src/pki/kubeconfig.js';

const w = new Workdir();
afterAll(() => w.remove());

w.run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=kubernetes', '-days', '3650']);
/** A client certificate signed by the CA, as kubeadm makes admin.conf's (O=system:masters / kubeadm:cluster-admins). */
function client(name: string, cn: string, o = 'kubeadm:cluster-admins'): { cert: string; key: Secret<string>; derSha256: string } {
  w.run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=${o}/CN=${cn}`]);
  w.run('openssl', ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '365']);
  const derSha256 = w.run('sh', ['-c', `openssl x509 -in ${name}.crt -outform DER | sha256sum`]).split(' ')[0]!;
  return { cert: w.read(`${name}.crt`), key: w.secret(`${name}.key`), derSha256 };
}
const b64 = (s: string) => Buffer.from(s).toString('base64');
const ca = w.read('ca.crt');
const admin = client('admin', 'kubernetes-admin');
const renewed = client('admin2', 'kubernetes-admin');
const other = client('other', 'jane', 'devs');

/** admin.conf exactly as kubeadm (client-go's clientcmd.Write) writes it. */
function kubeadmConf(cert: string, key: Secret<string>, user = 'kubernetes-admin'): string {
  return [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${b64(ca)}`,
    '    server: https://192.168.10.11:6443',
    '  name: kubernetes',
    'contexts:',
    '- context:',
    '    cluster: kubernetes',
    `    user: ${user}`,
    `  name: ${user}@kubernetes`,
    `current-context: ${user}@kubernetes`,
    'kind: Config',
    'preferences: {}',
    'users:',
    `- name: ${user}`,
    '  user:',
    `    client-certificate-data: ${b64(cert)}`,
    `    client-key-data: ${b64(key.reveal())}`,
    '',
  ].join('\n');
}

/** Every error of a call, or a failure when it does not throw. */
function errorOf(fn: () => unknown): KubeconfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KubeconfigError);
    expect(e).toBeInstanceOf(InputError);
    return e as KubeconfigError;
  }
  throw new Error('expected a KubeconfigError');
}

describe('reading a kubeconfig', () => {
  it("reads kubeadm's admin.conf: the user's certificate (sha256 of its DER as openssl computes it), its key as a Secret, the current context's server and CA", () => {
    const k = parseKubeconfig(kubeadmConf(admin.cert, admin.key), 'n1:/etc/kubernetes/admin.conf');
    expect(k.users).toHaveLength(1);
    const u = k.users[0]!;
    expect(u).toMatchObject({ name: 'kubernetes-admin', index: 0, line: 16, credential: 'embedded', other: [] });
    expect(u.clientCertificate).toMatchObject({ kind: 'data', pem: admin.cert, derSha256: admin.derSha256, at: { line: 18, style: 'plain' } });
    if (u.clientCertificate?.kind !== 'data') throw new Error('embedded');
    expect(u.clientCertificate.cert.subject.text).toContain('CN=kubernetes-admin');
    if (u.clientKey?.kind !== 'data') throw new Error('embedded key');
    expect(u.clientKey.pem).toBeInstanceOf(Secret);
    expect(u.clientKey.pem.reveal()).toBe(admin.key.reveal());
    expect(JSON.stringify(k)).not.toContain(b64(admin.key.reveal()).slice(0, 40));
    expect(JSON.stringify(k)).not.toContain('PRIVATE KEY');
    expect(k.current).toEqual({ context: 'kubernetes-admin@kubernetes', user: 'kubernetes-admin', cluster: 'kubernetes', server: 'https://192.168.10.11:6443', certificateAuthorityPem: ca });
    expect(currentUser(k)?.name).toBe('kubernetes-admin');
    expect(k.clusters).toEqual(['kubernetes']);
    expect(k.contexts).toEqual(['kubernetes-admin@kubernetes']);
  });

  it('reads flow style and JSON the same way', () => {
    const flow = [
      '{apiVersion: v1, kind: Config, current-context: a,',
      ` clusters: [{name: c, cluster: {server: "https://h:6443", certificate-authority-data: '${b64(ca)}'}}],`,
      ' contexts: [{name: a, context: {cluster: c, user: u}}],',
      ` users: [{name: u, user: {client-certificate-data: ${b64(admin.cert)}, client-key-data: "${b64(admin.key.reveal())}"}}]}`,
    ].join('\n');
    const json = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://h:6443', 'certificate-authority-data': b64(ca) } }],
      contexts: [{ name: 'a', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'a',
      users: [{ name: 'u', user: { 'client-certificate-data': b64(admin.cert), 'client-key-data': b64(admin.key.reveal()) } }],
    }, null, 2);
    for (const text of [flow, json]) {
      const k = parseKubeconfig(text, 'x');
      expect(k.users[0]).toMatchObject({ name: 'u', credential: 'embedded', clientCertificate: { derSha256: admin.derSha256 } });
      expect(k.current).toMatchObject({ context: 'a', user: 'u', cluster: 'c', server: 'https://h:6443', certificateAuthorityPem: ca });
    }
  });

  it('lists every user: embedded, file references, token, exec, partial', () => {
    const text = [
      'apiVersion: v1',
      'kind: Config',
      '# several users, as a hand-merged ~/.kube/config has',
      'users:',
      '  - name: admin',
      '    user:',
      `      client-certificate-data: ${b64(admin.cert)}`,
      `      client-key-data: ${b64(admin.key.reveal())}`,
      '  - name: kubelet',
      '    user:',
      '      client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem',
      '      client-key: /var/lib/kubelet/pki/kubelet-client-current.pem',
      '  - name: robot',
      '    user: {token: abc.def}',
      '  - name: cloud',
      '    user:',
      '      exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}',
      '  - name: half',
      '    user:',
      `      client-certificate-data: ${b64(other.cert)}`,
      '  - name: nobody',
      '    user: {}',
      'current-context: ""',
    ].join('\n');
    const k = parseKubeconfig(text, 'merged');
    expect(k.users.map((u) => [u.name, u.credential])).toEqual([
      ['admin', 'embedded'],
      ['kubelet', 'file'],
      ['robot', 'other'],
      ['cloud', 'other'],
      ['half', 'partial'],
      ['nobody', 'none'],
    ]);
    expect(k.users[1]!.clientCertificate).toMatchObject({ kind: 'file', path: '/var/lib/kubelet/pki/kubelet-client-current.pem', at: { line: 11 } });
    expect(k.users[2]!.other).toEqual(['token']);
    expect(k.users[3]!.other).toEqual(['exec']);
    expect(k.current).toBeUndefined();
  });

  it('says when the current context does not resolve', () => {
    const text = kubeadmConf(admin.cert, admin.key).replace('current-context: kubernetes-admin@kubernetes', 'current-context: elsewhere');
    expect(parseKubeconfig(text, 'x').current).toEqual({ context: 'elsewhere', unresolved: 'current-context "elsewhere" names no context of this file' });
  });

  it('refuses corrupt base64 naming the file, line and field, without quoting the value', () => {
    const good = kubeadmConf(admin.cert, admin.key);
    const keyB64 = b64(admin.key.reveal());
    const corrupt = good.replace(keyB64, keyB64.slice(0, 100) + '*' + keyB64.slice(101));
    const e = errorOf(() => parseKubeconfig(corrupt, 'n1:/root/.kube/config'));
    expect(e.issues).toEqual([
      { file: 'n1:/root/.kube/config', line: 19, column: 22, path: 'users[0].user.client-key-data', message: 'not valid base64: the character "*" at position 101 of the value' },
    ]);
    expect(e.message).toContain('n1:/root/.kube/config:19:22');
    expect(e.message).not.toContain(keyB64.slice(90, 100));
    const truncated = good.replace(b64(admin.cert), b64(admin.cert).slice(0, 201));
    expect(errorOf(() => parseKubeconfig(truncated, 'f')).issues[0]).toMatchObject({ line: 18, path: 'users[0].user.client-certificate-data', message: expect.stringContaining('not a multiple of 4') });
    // Valid base64 of something that is not a certificate.
    const notCert = good.replace(b64(admin.cert), b64('hello world, no PEM here\n'));
    expect(errorOf(() => parseKubeconfig(notCert, 'f')).issues[0]).toMatchObject({ line: 18, message: expect.stringContaining('not a PEM certificate') });
    // A certificate where the key belongs.
    const certAsKey = good.replace(keyB64, b64(admin.cert));
    expect(errorOf(() => parseKubeconfig(certAsKey, 'f')).issues[0]).toMatchObject({ line: 19, message: expect.stringContaining('not a PEM private key') });
  });

  it('reports every problem at once: YAML syntax with its line, duplicate users and keys, a second document', () => {
    expect(errorOf(() => parseKubeconfig('users:\n- name: a\n  user: {token: [}\n', 'f')).issues[0]).toMatchObject({ file: 'f', line: 3, message: expect.stringMatching(/^YAML syntax error/) });
    const dup = errorOf(() => parseKubeconfig('users:\n- name: a\n  user: {token: x}\n- name: a\n  user: {token: y, token: z}\n', 'f'));
    expect(dup.issues.map((i) => [i.line, i.path])).toEqual([
      [4, 'users[1].name'],
      [5, 'users[1].user.token'],
    ]);
    expect(errorOf(() => parseKubeconfig('kind: Config\n---\nkind: Config\n', 'f')).issues[0]).toMatchObject({ line: 3 });
    expect(errorOf(() => parseKubeconfig('- a\n- b\n', 'f')).issues[0]!.message).toMatch(/expected a kubeconfig/);
  });
});

describe('rewriting one user’s certificate and key', () => {
  const creds = { certPem: renewed.cert, keyPem: renewed.key };

  it("replaces exactly the two values of kubeadm's admin.conf; the result reads back as the new certificate and key", () => {
    const before = kubeadmConf(admin.cert, admin.key);
    const after = rewriteClientCredentials(before, 'admin.conf', 'kubernetes-admin', creds);
    expect(after).toBeInstanceOf(Secret);
    expect(String(after)).toBe('***');
    // Independently of the parser: the expected text is the old one with the two base64 strings swapped.
    expect(after.reveal()).toBe(before.replace(b64(admin.cert), b64(renewed.cert)).replace(b64(admin.key.reveal()), b64(renewed.key.reveal())));
    expect(after.reveal()).toBe(kubeadmConf(renewed.cert, renewed.key));
    const k = parseKubeconfig(after, 'admin.conf');
    expect(k.users[0]!.clientCertificate).toMatchObject({ derSha256: renewed.derSha256 });
    const proof = proveOnlyCredentialsChanged(before, after, 'admin.conf', 'kubernetes-admin', creds);
    expect(proof.unchangedBytes).toBe(before.length - b64(admin.cert).length - b64(admin.key.reveal()).length);
  });

  it('keeps CRLF line ends, comments, quotes and key order', () => {
    const lf = [
      '# managed by hand',
      'apiVersion: v1',
      'users:',
      '- name: "kubernetes-admin"   # the admin',
      '  user:',
      `    client-key-data: '${b64(admin.key.reveal())}'`,
      '    # the certificate comes second here',
      `    "client-certificate-data": "${b64(admin.cert)}"`,
      'kind: Config',
      '',
    ].join('\n');
    const crlf = lf.replace(/\n/g, '\r\n');
    const after = rewriteClientCredentials(crlf, 'f', 'kubernetes-admin', creds).reveal();
    expect(after).toBe(crlf.replace(b64(admin.cert), b64(renewed.cert)).replace(b64(admin.key.reveal()), b64(renewed.key.reveal())));
    expect(after.split('\r\n')).toHaveLength(lf.split('\n').length);
    expect(after.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });

  it('rewrites one user of several in flow style, leaving the others byte for byte', () => {
    const text = [
      `users: [{name: jane, user: {client-certificate-data: ${b64(other.cert)}, client-key-data: ${b64(other.key.reveal())}}},`,
      `        {name: kubernetes-admin, user: {client-certificate-data: ${b64(admin.cert)}, client-key-data: ${b64(admin.key.reveal())}}}]`,
      'kind: Config',
    ].join('\n');
    const after = rewriteClientCredentials(text, 'f', 'kubernetes-admin', creds).reveal();
    const k = parseKubeconfig(after, 'f');
    expect(k.users.map((u) => (u.clientCertificate as { derSha256: string }).derSha256)).toEqual([other.derSha256, renewed.derSha256]);
    expect(after.split('\n')[0]).toBe(text.split('\n')[0]);
  });

  it('rewrites a value written as a block scalar (base64 wrapped over lines) as one line with its indentation', () => {
    const wrapped = b64(admin.cert).match(/.{1,64}/g)!.map((l) => `      ${l}`).join('\n');
    const text = ['users:', '- name: a', '  user:', '    client-certificate-data: |', wrapped, `    client-key-data: ${b64(admin.key.reveal())}`, 'kind: Config', ''].join('\n');
    expect(parseKubeconfig(text, 'f').users[0]!.clientCertificate).toMatchObject({ derSha256: admin.derSha256, at: { style: 'literal' } });
    const after = rewriteClientCredentials(text, 'f', 'a', creds).reveal();
    expect(after.split('\n').slice(0, 5)).toEqual(['users:', '- name: a', '  user:', '    client-certificate-data: |', `      ${b64(renewed.cert)}`]);
    expect(parseKubeconfig(after, 'f').users[0]!.clientCertificate).toMatchObject({ derSha256: renewed.derSha256 });
  });

  it('refuses a user that names its files, one without both values, and an unknown user — naming the line', () => {
    const files = 'users:\n- name: kubelet\n  user:\n    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n';
    const e = errorOf(() => rewriteClientCredentials(files, 'n2:/etc/kubernetes/kubelet.conf', 'kubelet', creds));
    expect(e.issues[0]).toMatchObject({ file: 'n2:/etc/kubernetes/kubelet.conf', line: 2, message: expect.stringContaining('names its certificate by file (/var/lib/kubelet/pki/kubelet-client-current.pem, line 4)') });
    expect(errorOf(() => rewriteClientCredentials('users:\n- name: t\n  user: {token: x}\n', 'f', 't', creds)).issues[0]!.message).toContain('it has: token');
    expect(errorOf(() => rewriteClientCredentials(kubeadmConf(admin.cert, admin.key), 'f', 'nobody', creds)).issues[0]!.message).toBe('no user named "nobody" (users: kubernetes-admin)');
    // New material that is not what it should be: a key where the certificate goes.
    expect(errorOf(() => rewriteClientCredentials(kubeadmConf(admin.cert, admin.key), 'f', 'kubernetes-admin', { certPem: renewed.key.reveal(), keyPem: renewed.key })).message).not.toContain('PRIVATE');
  });

  it('the proof fails on any other difference, naming its line', () => {
    const before = kubeadmConf(admin.cert, admin.key);
    const good = rewriteClientCredentials(before, 'f', 'kubernetes-admin', creds).reveal();
    const tampered = good.replace('server: https://192.168.10.11:6443', 'server: https://192.168.10.12:6443');
    expect(errorOf(() => proveOnlyCredentialsChanged(before, tampered, 'f', 'kubernetes-admin')).issues[0]).toMatchObject({ line: 5, message: expect.stringContaining('differs outside') });
    const crlf = good.replace('kind: Config\n', 'kind: Config\r\n');
    expect(errorOf(() => proveOnlyCredentialsChanged(before, crlf, 'f', 'kubernetes-admin')).issues[0]).toMatchObject({ line: 13 });
    // The right bytes but another certificate than the one expected.
    expect(errorOf(() => proveOnlyCredentialsChanged(before, good, 'f', 'kubernetes-admin', { certPem: other.cert, keyPem: renewed.key })).issues[0]!.message).toContain('is not the new certificate');
  });
});
