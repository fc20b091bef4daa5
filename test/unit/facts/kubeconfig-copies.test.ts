// The refresh-kube-config fact, run by the real shell over a temporary tree: admin.conf, certroll's backups of it, the .kube
// directories of root and the users (homes from a passwd file), each file with the sha256 of its client certificate's DER
// as openssl computes it — and not one byte of any key, token or password in the output.
import { mkdirSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Workdir } from '../pki/fixtures.js';
import { LocalRemote } from '../../support/local-remote.js';
import { COPIES_PROTOCOL, gatherKubeconfigCopies, inventoryUsers, kubeconfigCopiesScript, parseKubeconfigCopies, type KubeconfigCopiesQuery } from '../../../src/facts/kubeconfig-copies.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { HostError } from '../../../src/errors.js';
import type { Remote } from '../../../src/ssh/remote.js';
import { sha256 } from '../../../src/hash.js';
import { kubeconfigText, makeClient, makeCa } from '../../support/kubeconfig-fixtures.js';

const w = new Workdir();
afterAll(() => w.remove());
const root = w.dir;
makeCa(w);
const admin = makeClient(w, 'admin', 'kubernetes-admin');
const earlier = makeClient(w, 'earlier', 'kubernetes-admin');
const jane = makeClient(w, 'jane', 'jane');
const b64 = (s: string) => Buffer.from(s).toString('base64');

const kdir = join(root, 'etc', 'kubernetes');
const adminConf = join(kdir, 'admin.conf');
const adminText = kubeconfigText(w, [{ name: 'kubernetes-admin', ...admin }]);
const rootKube = join(root, 'root', '.kube');
const opsKube = join(root, 'home', 'ops', '.kube');
const passwd = join(root, 'passwd');
const files = {
  rootConfig: join(rootKube, 'config'),
  rootLink: join(rootKube, 'admin-link'),
  opsConfig: join(opsKube, 'config'),
  opsCrlf: join(opsKube, 'crlf.conf'),
  opsFlow: join(opsKube, 'flow.conf'),
  opsMerged: join(opsKube, 'merged'),
  opsJane: join(opsKube, '.jane.conf'),
  opsToken: join(opsKube, 'robot.conf'),
  opsCorrupt: join(opsKube, 'corrupt.conf'),
};
mkdirSync(kdir, { recursive: true });
writeFileSync(adminConf, adminText, { mode: 0o600 });
mkdirSync(join(root, 'etc', 'kubernetes-bak-RUN1'));
writeFileSync(join(root, 'etc', 'kubernetes-bak-RUN1', 'admin.conf'), kubeconfigText(w, [{ name: 'kubernetes-admin', ...earlier }]));
mkdirSync(join(root, 'etc', 'kubernetes-bak-RUN2.partial'));
writeFileSync(join(root, 'etc', 'kubernetes-bak-RUN2.partial', 'admin.conf'), adminText);
mkdirSync(join(rootKube, 'cache', 'discovery'), { recursive: true });
mkdirSync(opsKube, { recursive: true });
writeFileSync(files.rootConfig, adminText, { mode: 0o600 });
symlinkSync(adminConf, files.rootLink);
writeFileSync(files.opsConfig, kubeconfigText(w, [{ name: 'kubernetes-admin', ...earlier }]), { mode: 0o644 });
const crlfText = kubeconfigText(w, [{ name: 'kubernetes-admin', ...admin }], { quote: '"' }).replace(/\n/g, '\r\n');
writeFileSync(files.opsCrlf, crlfText);
writeFileSync(files.opsFlow, `{users: [{name: a, user: {client-certificate-data: ${b64(admin.cert)}, client-key-data: ${b64(admin.key.reveal())}}}], clusters: [{name: c, cluster: {server: "https://h:6443"}}]}\n`);
writeFileSync(files.opsMerged, kubeconfigText(w, [{ name: 'kubernetes-admin', ...admin }, { name: 'jane', ...jane }]));
writeFileSync(files.opsJane, kubeconfigText(w, [{ name: 'jane', ...jane }]));
writeFileSync(files.opsToken, 'users:\n- name: robot\n  user:\n    token: s3cr3t-token-value\n    password: hunter2-password\n');
writeFileSync(files.opsCorrupt, adminText.replace(b64(admin.cert).slice(100, 130), '!!not base64!!'));
writeFileSync(passwd, [`root:x:0:0:root:${join(root, 'root')}:/bin/sh`, `ops:x:1000:1000::${join(root, 'home', 'ops')}/:/bin/sh`, `nokube:x:1001:1001::${join(root, 'home', 'nokube')}:/bin/sh`, ''].join('\n'));
chmodSync(files.opsJane, 0o640);

const query: KubeconfigCopiesQuery = { adminConf, users: ['ops', 'nokube', 'ghost', 'root'], alwaysDirs: [rootKube], passwdFile: passwd };

describe('the kubeconfig copies fact', async () => {
  const r = new LocalRemote('n1');
  const out = await r.sh(kubeconfigCopiesScript(query));
  const facts = parseKubeconfigCopies('n1', query, out.stdout);
  const file = (p: string) => facts.files.find((f) => f.path === p);

  it('reads admin.conf and its earlier copies in certroll backups (not a .partial one), hashing the DER of their certificates', () => {
    expect(out.stdout.split('\n')[0]).toBe(COPIES_PROTOCOL);
    expect(facts.adminConf).toEqual({ path: adminConf, state: 'file', sha256: sha256(adminText), certSha256: admin.derSha256, counts: { anyCert: 1, blockCert: 1, servers: 1, otherCredentials: 0, names: 3 } });
    expect(facts.earlier).toEqual([{ path: join(root, 'etc', 'kubernetes-bak-RUN1', 'admin.conf'), certSha256: earlier.derSha256 }]);
  });

  it('finds the homes in the passwd database and searches each .kube once', () => {
    expect(facts.homes).toEqual([
      { user: 'root', home: join(root, 'root') },
      { user: 'ops', home: join(root, 'home', 'ops') + '/' },
      { user: 'nokube', home: join(root, 'home', 'nokube') },
      { user: 'ghost', home: null },
    ]);
    expect(facts.dirs).toEqual([
      { path: rootKube, exists: true },
      { path: opsKube, exists: true },
      { path: join(root, 'home', 'nokube', '.kube'), exists: false },
    ]);
  });

  it('lists every file with mode, owner, sha256 and its client certificates; links are not followed; directories skipped', () => {
    expect(facts.files.map((f) => f.path).sort()).toEqual(Object.values(files).sort());
    expect(file(files.rootConfig)).toMatchObject({ kind: 'file', mode: 0o600, uid: process.getuid!(), sha256: sha256(adminText), certs: [{ line: 18, sha256: admin.derSha256 }] });
    expect(file(files.rootLink)).toMatchObject({ kind: 'link', linkTarget: adminConf, certs: [] });
    expect(file(files.opsConfig)).toMatchObject({ mode: 0o644, certs: [{ sha256: earlier.derSha256 }] });
    expect(file(files.opsCrlf)).toMatchObject({ certs: [{ sha256: admin.derSha256 }], counts: { anyCert: 1, blockCert: 1, servers: 1, names: 3 } });
    expect(file(files.opsJane)).toMatchObject({ mode: 0o640, certs: [{ sha256: jane.derSha256 }] });
    expect(file(files.opsMerged)).toMatchObject({ certs: [{ sha256: admin.derSha256 }, { sha256: jane.derSha256 }], counts: { anyCert: 2, blockCert: 2, names: 5 } });
    // Flow style: the certificate is counted but not hashed on the host (the plan leaves such a file alone).
    expect(file(files.opsFlow)).toMatchObject({ certs: [], counts: { anyCert: 1, blockCert: 0 } });
    expect(file(files.opsToken)).toMatchObject({ certs: [], counts: { anyCert: 0, otherCredentials: 2 } });
    expect(file(files.opsCorrupt)).toMatchObject({ certs: [{ sha256: null }] });
  });

  it('prints no key, token or password: only names, numbers and hashes', () => {
    for (const k of [admin, earlier, jane]) {
      const keyB64 = b64(k.key.reveal());
      for (let i = 40; i < keyB64.length - 20; i += 200) expect(out.stdout).not.toContain(keyB64.slice(i, i + 20));
      expect(out.stdout).not.toContain(b64(k.cert).slice(60, 90));
    }
    expect(out.stdout).not.toMatch(/s3cr3t|hunter2|PRIVATE|LS0t/);
    for (const line of out.stdout.split('\n')) expect(line.length).toBeLessThan(600);
  });

  it('refuses output of another protocol or cut short', () => {
    expect(() => parseKubeconfigCopies('n1', query, 'hello\n')).toThrow(/header/);
    expect(() => parseKubeconfigCopies('n1', query, out.stdout.replace(/end\n?$/, ''))).toThrow(/truncated/);
  });
});

describe('gathering the kubeconfig copies for a playbook', () => {
  const inv = parseInventory(
    [
      'vars: { certDir: /etc/kubernetes }',
      'ssh: { user: ops, identityFile: /tmp/id, knownHostsFile: /tmp/kh }',
      'hosts:',
      '  cp-1: { address: 10.9.0.1 }',
      '  cp-2: { address: 10.9.0.2, ssh: { user: admin } }',
      '  cp-3: { address: 10.9.0.3 }',
      '  w-1: { address: 10.9.0.4 }',
      'groups: { master: [cp-1], etcd: [cp-1], control-plane: [cp-1, cp-2, cp-3], workers: [w-1] }',
    ].join('\n'),
    'inv.yaml',
  );
  const pb = (extra: string) => parsePlaybook(`name: t\nsteps:\n  - type: preflight\n  - type: backup\n${extra}`, 'pb.yaml');

  it('asks nothing when the playbook has no refresh-kube-config step', async () => {
    expect(await gatherKubeconfigCopies(inv, pb(''), () => undefined)).toBeUndefined();
  });

  it("scans each target it can reach with the inventory's SSH users, and records a failed scan instead of throwing", async () => {
    expect(inventoryUsers(inv)).toEqual(['ops', 'admin']);
    const seen: string[] = [];
    const failing = { host: 'cp-2', sh: async () => { throw new HostError('cp-2', 'timeout', 'cp-2: command timed out after 60 s'); } } as unknown as Remote;
    const local = new LocalRemote('cp-1');
    const got = await gatherKubeconfigCopies(inv, pb(`  - type: refresh-kube-config\n    adminConf: ${adminConf}\n`), (n) => {
      seen.push(n);
      return n === 'cp-1' ? local : n === 'cp-2' ? failing : undefined;
    });
    expect(seen.sort()).toEqual(['cp-1', 'cp-2', 'cp-3']);
    expect(Object.keys(got!).sort()).toEqual(['cp-1', 'cp-2']);
    expect(got!['cp-1']!.adminConf).toMatchObject({ path: adminConf, state: 'file', certSha256: admin.derSha256 });
    expect(got!['cp-1']!.homes.map((h) => h.user)).toEqual(['root', 'ops', 'admin']);
    expect(local.log[0]!.script).toContain("for u in root ops admin; do");
    expect(got!['cp-2']).toMatchObject({ host: 'cp-2', error: 'cp-2: command timed out after 60 s', files: [] });
  });
});
