// The remote scan script, run by real sh with mawk, gawk and (when installed) busybox awk over a tree of openssl-made files.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertDecoder, hostHoldings } from '../../../src/check/holdings.js';
import { buildScanScript, expandBraces, globToEre } from '../../../src/check/scan-script.js';
import { parseScanOutput } from '../../../src/check/scan-output.js';
import { enddate, fingerprint, keyLines, makeTree, read, type Tree } from './openssl-fixtures.js';

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

let tree: Tree;
let base: string;
const awks: Array<[string, string]> = [];

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'certroll-scan-'));
  tree = makeTree(join(base, 'host'));
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

function runScript(script: string, binDir: string): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { PATH: `${binDir}:/usr/bin:/bin` } });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('glob helpers', () => {
  it('expands brace alternatives, nested ones too, and leaves lone braces literal', () => {
    expect(expandBraces('/a/*.{crt,pem}')).toEqual(['/a/*.crt', '/a/*.pem']);
    expect(expandBraces('/a/{x,y{1,2}}/z')).toEqual(['/a/x/z', '/a/y1/z', '/a/y2/z']);
    expect(expandBraces('/a/{x}/z')).toEqual(['/a/{x}/z']);
  });

  it('turns ** into any number of directories and * into one path component', () => {
    const re = new RegExp(globToEre('/etc/kubernetes/pki/**/*.crt'));
    expect(re.test('/etc/kubernetes/pki/ca.crt')).toBe(true);
    expect(re.test('/etc/kubernetes/pki/etcd/ca.crt')).toBe(true);
    expect(re.test('/etc/kubernetes/pki/a/b/c.crt')).toBe(true);
    expect(re.test('/etc/kubernetes/pki/ca.key')).toBe(false);
    expect(re.test('/etc/kubernetes/pkiX/ca.crt')).toBe(false);
    const one = new RegExp(globToEre('/srv/k8s.d/[!x]?.pem'));
    expect(one.test('/srv/k8s.d/ab.pem')).toBe(true);
    expect(one.test('/srv/k8sXd/ab.pem')).toBe(false);
    expect(one.test('/srv/k8s.d/xb.pem')).toBe(false);
    expect(one.test('/srv/k8s.d/a/b.pem')).toBe(false);
  });
});

describe('the scan script on a real tree', () => {
  it('finds at least mawk or gawk to test with', () => {
    expect(awks.length).toBeGreaterThan(0);
  });

  it.each(['mawk', 'gawk', 'busybox'])('with %s: reports every matching file and never prints private key material', (name) => {
    const entry = awks.find(([n]) => n === name);
    if (!entry) return; // that awk is not installed here
    const script = buildScanScript({ paths: tree.paths });
    const r = runScript(script, entry[1]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const line of keyLines(tree.keyFiles, tree.certFiles)) expect(r.stdout).not.toContain(line);
    expect(r.stdout).not.toMatch(/PRIVATE KEY|client-key-data/);
    for (const conf of ['admin.conf', 'indented.conf']) {
      const keyData = [...read(join(tree.root, 'etc/kubernetes', conf)).matchAll(/client-key-data: (\S+)/g)].map((m) => m[1]!);
      for (const k of keyData) expect(r.stdout).not.toContain(k.slice(0, 40));
    }

    const parsed = parseScanOutput(r.stdout);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const rel = (p: string) => p.slice(tree.root.length);
    expect(parsed.files.map((f) => rel(f.path))).toEqual([
      '/etc/kubernetes/admin.conf',
      '/etc/kubernetes/indented.conf',
      '/etc/kubernetes/pki/ca.crt',
      '/etc/kubernetes/pki/etcd/ca.crt',
      '/etc/kubernetes/pki/etcd/deep/peer.crt',
      '/srv/kubernetes/bundle.pem',
      '/srv/kubernetes/damaged.pem',
      '/srv/kubernetes/etcd-ca-key.pem',
      '/srv/kubernetes/etcd-ca.pem',
      '/srv/kubernetes/etcd-key.pem',
      '/srv/kubernetes/etcd.pem',
      '/srv/kubernetes/notes.pem',
      '/var/lib/kubelet/pki/kubelet-client-2024-01-01.pem',
      '/var/lib/kubelet/pki/kubelet-client-current.pem',
    ]);
    const f = (p: string) => parsed.files.find((x) => rel(x.path) === p)!;
    expect(f('/srv/kubernetes/bundle.pem').pemBlocks).toHaveLength(3);
    expect(f('/srv/kubernetes/etcd-key.pem')).toMatchObject({ pemBlocks: [], hasPrivateKey: true });
    expect(f('/srv/kubernetes/damaged.pem')).toMatchObject({ pemBlocks: [], damagedBlocks: 1, hasPrivateKey: true });
    expect(f('/var/lib/kubelet/pki/kubelet-client-current.pem')).toMatchObject({ hasPrivateKey: true });
    expect(f('/var/lib/kubelet/pki/kubelet-client-current.pem').pemBlocks).toHaveLength(1);
    expect(f('/srv/kubernetes/etcd.pem').pemBlocks[0]).toBe(read(tree.leaf.cert));
  });

  it('turns what it read into certificates with the dates openssl prints, and notes for everything else', () => {
    const [, dir] = awks[0]!;
    const parsed = parseScanOutput(runScript(buildScanScript({ paths: tree.paths }), dir).stdout);
    if (!parsed.ok) throw new Error(parsed.problem);
    const h = hostHoldings('node-1', parsed.files, new CertDecoder());
    const rel = (p: string) => p.slice(tree.root.length);
    const labels = h.certs.map((c) => rel(c.site.label));
    expect(labels).toEqual(expect.arrayContaining([
      '/srv/kubernetes/bundle.pem#1',
      '/srv/kubernetes/bundle.pem#2',
      '/srv/kubernetes/bundle.pem#3',
      '/etc/kubernetes/admin.conf#cluster=kubernetes',
      '/etc/kubernetes/admin.conf#user=kubernetes-admin',
      '/etc/kubernetes/admin.conf#user=ops',
      '/etc/kubernetes/indented.conf#user=solo',
      '/etc/kubernetes/indented.conf#cluster=kubernetes',
      '/srv/kubernetes/etcd.pem',
      '/srv/kubernetes/etcd-ca.pem',
    ]));
    const etcd = h.certs.find((c) => rel(c.site.label) === '/srv/kubernetes/etcd.pem')!.cert;
    expect(new Date(etcd.notAfter)).toEqual(enddate(tree.leaf.cert));
    expect(etcd.fingerprintSha256).toBe(fingerprint(tree.leaf.cert));
    expect(etcd.sans).toEqual(['DNS:node-1', 'DNS:node-2', 'IP:127.0.0.1', 'IP:10.10.10.1']);
    const ca = h.certs.find((c) => rel(c.site.label) === '/srv/kubernetes/etcd-ca.pem')!.cert;
    expect(ca).toMatchObject({ isCa: true, selfIssued: true, commonName: 'etcd-ca' });
    expect(new Date(ca.notAfter)).toEqual(enddate(tree.ca.cert));
    const users = h.certs.filter((c) => c.site.kubeconfig?.field === 'client-certificate-data').map((c) => c.cert.commonName);
    expect(users.sort()).toEqual(['kubernetes-admin', 'ops-user', 'ops-user']);

    const notes = h.notes.map((n) => `${rel(n.path)} ${n.reason}`);
    expect(notes).toEqual(expect.arrayContaining([
      '/srv/kubernetes/etcd-key.pem private-key',
      '/srv/kubernetes/etcd-ca-key.pem private-key',
      '/srv/kubernetes/damaged.pem damaged',
      '/srv/kubernetes/damaged.pem private-key',
      '/srv/kubernetes/notes.pem no-certificate',
      '/var/lib/kubelet/pki/kubelet-client-current.pem private-key',
    ]));
    expect(h.notes.find((n) => rel(n.path) === '/srv/kubernetes/etcd-key.pem')!.detail).toBe('private key, not read');
  });

  it('quotes literal parts of the globs: a directory with spaces and quotes is read, nothing else runs', () => {
    const [, dir] = awks[0]!;
    const odd = join(base, "odd dir 'x' $(touch pwned)");
    mkdirSync(odd, { recursive: true });
    execFileSync('cp', [tree.leaf.cert, join(odd, 'a.pem')]);
    const r = runScript(buildScanScript({ paths: [`${odd}/*.pem`, `${odd}/**/*.pem`] }), dir);
    const parsed = parseScanOutput(r.stdout);
    expect(parsed.ok && parsed.files.map((f) => f.path)).toEqual([join(odd, 'a.pem')]);
    expect(existsSync(join(base, 'pwned'))).toBe(false);
    expect(existsSync('pwned')).toBe(false);
  });

  it('reports a file it cannot open as unreadable (a non-root user)', () => {
    const [, dir] = awks[0]!;
    if (process.getuid?.() !== 0 || !which('setpriv')) return;
    const priv = join(base, 'priv');
    mkdirSync(priv, { recursive: true });
    execFileSync('sh', ['-c', `cp ${tree.leaf.cert} ${priv}/secret.pem && chmod 600 ${priv}/secret.pem && cp ${tree.ca.cert} ${priv}/open.pem && chmod 644 ${priv}/open.pem && chmod 755 ${priv} ${base}`]);
    const script = buildScanScript({ paths: [`${priv}/*.pem`] });
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/bin/sh', '-c', script], { encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin` } });
    const parsed = parseScanOutput(r.stdout);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.files.map((f) => [f.path.slice(priv.length), f.unreadable, f.pemBlocks.length])).toEqual([
      ['/open.pem', false, 1],
      ['/secret.pem', true, 0],
    ]);
  });

  it('prints only the header and the end marker when nothing matches', () => {
    const [, dir] = awks[0]!;
    const r = runScript(buildScanScript({ paths: ['/nonexistent-certroll/*.pem', '/nonexistent-certroll/**/*.crt'] }), dir);
    expect(r.stdout).toBe('certroll-scan 2\nD\t0\n');
    expect(parseScanOutput(r.stdout)).toEqual({ ok: true, files: [], present: [], absent: [], missing: [] });
  });
});
