// The scan script on a kubeadm node's shapes, run by real sh with mawk, gawk and busybox awk: a symlinked kubelet client
// certificate (link and target), a dangling link, kubelet.conf naming its certificate by file (outside the globs, relative,
// missing), the current context's user, and CA key probes that never open the key.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertDecoder, hostHoldings } from '../../../src/check/holdings.js';
import { buildScanScript } from '../../../src/check/scan-script.js';
import { parseScanOutput } from '../../../src/check/scan-output.js';
import { fingerprint, kubeconfig, makeCa, makeLeaf, read } from './openssl-fixtures.js';

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

let base: string;
let root: string;
const awks: Array<[string, string]> = [];
let kubeletFp: string;
let otherFp: string;
let keyText: string;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'certroll-scan-kubeadm-'));
  root = join(base, 'node');
  const pki = join(root, 'pki');
  const kubelet = join(root, 'kubelet/pki');
  const elsewhere = join(root, 'elsewhere');
  for (const d of [pki, kubelet, elsewhere, join(root, 'conf/sub'), join(base, 'work')]) mkdirSync(d, { recursive: true });
  const ca = makeCa(join(base, 'work'), 'ca', 'kubernetes', 3650);
  const kc = makeLeaf(join(base, 'work'), 'kc', 'system:node:cp-1', ca, 365);
  const other = makeLeaf(join(base, 'work'), 'other', 'system:kube-controller-manager', ca, 300);
  const admin = makeLeaf(join(base, 'work'), 'admin', 'kubernetes-admin', ca, 365);
  kubeletFp = fingerprint(kc.cert);
  otherFp = fingerprint(other.cert);
  keyText = read(kc.key);
  writeFileSync(join(pki, 'ca.crt'), read(ca.cert));
  writeFileSync(join(pki, 'ca.key'), read(ca.key));
  writeFileSync(join(kubelet, 'kubelet-client-2026-01-01-00-00-00.pem'), read(kc.cert) + read(kc.key));
  symlinkSync(join(kubelet, 'kubelet-client-2026-01-01-00-00-00.pem'), join(kubelet, 'kubelet-client-current.pem'));
  symlinkSync('kubelet-client-gone.pem', join(kubelet, 'kubelet-client-old.pem'));
  writeFileSync(join(elsewhere, 'cm.pem'), read(other.cert));
  const fileUser = (name: string, cert: string) => [
    'apiVersion: v1', 'clusters:', '- cluster:', `    certificate-authority-data: ${Buffer.from(read(ca.cert)).toString('base64')}`, '    server: https://10.0.0.1:6443', '  name: kubernetes',
    'contexts:', '- context:', '    cluster: kubernetes', `    user: ${name}`, `  name: ${name}@kubernetes`, `current-context: ${name}@kubernetes`, 'kind: Config', 'users:',
    `- name: ${name}`, '  user:', `    client-certificate: ${cert}`, `    client-key: ${cert}`, '',
  ].join('\n');
  writeFileSync(join(root, 'conf/kubelet.conf'), fileUser('default-auth', join(kubelet, 'kubelet-client-current.pem')));
  writeFileSync(join(root, 'conf/cm.conf'), fileUser('cm', '../elsewhere/cm.pem'));
  writeFileSync(join(root, 'conf/gone.conf'), fileUser('gone', '/nonexistent-certroll/gone.pem'));
  // Two users; the current context names the second.
  const two = kubeconfig(read(ca.cert), [
    { name: 'ops', cert: read(other.cert), key: read(other.key) },
    { name: 'kubernetes-admin', cert: read(admin.cert), key: read(admin.key) },
  ]).replace(/current-context: .*/, 'current-context: admin@kubernetes').replace(/user: ops\n  name: ops@kubernetes/, 'user: kubernetes-admin\n  name: admin@kubernetes');
  writeFileSync(join(root, 'conf/admin.conf'), two);
  for (const name of ['mawk', 'gawk', 'busybox']) {
    const bin = which(name);
    if (!bin) continue;
    const dir = join(base, `bin-${name}`);
    mkdirSync(dir);
    if (name === 'busybox') execFileSync('sh', ['-c', `printf '#!/bin/sh\\nexec ${bin} awk "$@"\\n' > ${dir}/awk && chmod +x ${dir}/awk`]);
    else symlinkSync(bin, join(dir, 'awk'));
    awks.push([name, dir]);
  }
});

afterAll(() => rmSync(base, { recursive: true, force: true }));

const run = (dir: string) => {
  const script = buildScanScript({
    paths: [`${root}/kubelet/pki/*.pem`, `${root}/conf/*.conf`, `${root}/pki/**/*.crt`],
    probes: [`${root}/pki/ca.key`, `${root}/pki/front-proxy-ca.key`],
  });
  return spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin` } });
};

describe('the scan on a kubeadm node', () => {
  it.each(['mawk', 'gawk', 'busybox'])('with %s: links, dangling links, files named by kubeconfigs, probes; no key on the wire', (name) => {
    const entry = awks.find(([n]) => n === name);
    if (!entry) return;
    const r = run(entry[1]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const l of keyText.split('\n').filter((x) => x.length > 20 && !x.startsWith('-----'))) expect(r.stdout).not.toContain(l);
    const parsed = parseScanOutput(r.stdout);
    if (!parsed.ok) throw new Error(parsed.problem);
    expect(parsed.present).toEqual([`${root}/pki/ca.key`]);
    expect(parsed.absent).toEqual([`${root}/pki/front-proxy-ca.key`]);
    expect(parsed.missing).toEqual(['/nonexistent-certroll/gone.pem']);
    const f = (p: string) => parsed.files.find((x) => x.path === `${root}/${p}`);
    expect(f('kubelet/pki/kubelet-client-current.pem')).toMatchObject({ linkTarget: `${root}/kubelet/pki/kubelet-client-2026-01-01-00-00-00.pem`, hasPrivateKey: true });
    expect(f('kubelet/pki/kubelet-client-current.pem')!.pemBlocks).toHaveLength(1);
    expect(f('kubelet/pki/kubelet-client-old.pem')).toMatchObject({ danglingTo: 'kubelet-client-gone.pem', pemBlocks: [] });
    // Outside every glob, named relative to conf/sub/.. by cm.conf: read all the same, once.
    expect(parsed.files.filter((x) => x.path === `${root}/conf/../elsewhere/cm.pem`)).toHaveLength(1);
    expect(f('conf/kubelet.conf')!.kubeconfigLines).toContain(`    client-certificate: ${root}/kubelet/pki/kubelet-client-current.pem`);
    expect(f('conf/kubelet.conf')!.kubeconfigLines.join('\n')).not.toMatch(/client-key/);
  });

  it('turns it into holdings: the link on the row, references instead of "no certificate", the current user, a missing file as damaged', () => {
    const parsed = parseScanOutput(run(awks[0]![1]).stdout);
    if (!parsed.ok) throw new Error(parsed.problem);
    const h = hostHoldings('cp-1', parsed.files, new CertDecoder(), parsed);
    const current = h.certs.find((c) => c.site.path === `${root}/kubelet/pki/kubelet-client-current.pem`)!;
    expect(current.site.linkTarget).toBe(`${root}/kubelet/pki/kubelet-client-2026-01-01-00-00-00.pem`);
    expect(current.cert.fingerprintSha256).toBe(kubeletFp);
    expect(h.certs.find((c) => c.site.path === `${root}/conf/../elsewhere/cm.pem`)!.cert.fingerprintSha256).toBe(otherFp);
    expect(h.references).toEqual([
      { label: `${root}/conf/cm.conf#user=cm`, kubeconfig: `${root}/conf/cm.conf`, name: 'cm', file: `${root}/conf/../elsewhere/cm.pem` },
      { label: `${root}/conf/gone.conf#user=gone`, kubeconfig: `${root}/conf/gone.conf`, name: 'gone', file: '/nonexistent-certroll/gone.pem', missing: true },
      { label: `${root}/conf/kubelet.conf#user=default-auth`, kubeconfig: `${root}/conf/kubelet.conf`, name: 'default-auth', file: `${root}/kubelet/pki/kubelet-client-current.pem` },
    ]);
    expect(h.currentUsers).toMatchObject({ [`${root}/conf/admin.conf`]: 'kubernetes-admin', [`${root}/conf/kubelet.conf`]: 'default-auth' });
    expect(h.present).toEqual([`${root}/pki/ca.key`]);
    const notes = h.notes.map((n) => `${n.path.slice(root.length)} ${n.reason}: ${n.detail}`);
    expect(notes).toContain('/kubelet/pki/kubelet-client-old.pem damaged: symbolic link to kubelet-client-gone.pem, which does not exist');
    expect(notes).toContain(`/conf/gone.conf#user=gone damaged: client-certificate names /nonexistent-certroll/gone.pem, which does not exist`);
    expect(notes.filter((n) => /kubelet\.conf|cm\.conf/.test(n) && !/private-key/.test(n))).toEqual([]);
  });
});
