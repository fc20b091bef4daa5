// `check` on kubeadm nodes, end to end over a real (throw-away) sshd: each "node" is a directory tree made now with the
// openssl CLI in kubeadm's layout (CAs, leaves, kubeconfigs with embedded or file-named client certificates, the kubelet's
// symlinked client certificate; no key is committed), and the hosts' pkiDir / kubernetesDir / kubeletPkiDir point at it.
// Proves: every certificate of every file on every node is reported as openssl reads it; the link and its target; the
// kubeadm rows (stacked, external etcd, !MISSING!, externally managed) and their dates as GNU date formats them.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFleet } from '../../src/check/run-check.js';
import { renderKubeadm } from '../../src/check/render-kubeadm.js';
import type { CheckReport } from '../../src/check/model.js';
import { defaultCheckPaths, type Host } from '../../src/inventory/types.js';
import { startSshd, type TestSshd } from '../support/sshd.js';

const ADDRESS = process.env.CERTROLL_TEST_KUBEADM_SSHD_ADDRESS ?? '127.0.66.41';
const PORT = Number(process.env.CERTROLL_TEST_KUBEADM_SSHD_PORT ?? 2222);

const work = mkdtempSync(join(tmpdir(), 'certroll-kubeadm-check-'));
const ossl = (args: string[]) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
const read = (f: string) => readFileSync(f, 'utf8');
const b64 = (s: string) => Buffer.from(s).toString('base64');
let sshd: TestSshd;
let knownHosts: string;
const keys: string[] = [];

interface Pair { crt: string; key: string }

// Every openssl command is collected, then run by one sh (process starts are what costs on a loaded machine); the files
// that need their output (kubeconfigs, the kubelet's cert+key bundle) are written afterwards.
const commands: string[] = [];
const after: Array<() => void> = [];
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** A CA like kubeadm's (self-signed, CA:TRUE), EC keys to keep the test fast. */
function ca(dir: string, base: string, cn: string): Pair {
  const crt = join(dir, `${base}.crt`);
  const key = join(dir, `${base}.key`);
  commands.push(['openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650', `-keyout ${q(key)} -out ${q(crt)} -subj ${q(`/CN=${cn}`)}`,
    `-addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign'`].join(' '));
  after.push(() => keys.push(read(key)));
  return { crt, key };
}

/** A leaf signed by `signer` in one openssl call (`req -x509 -CA`, OpenSSL 3). */
function leaf(dir: string, base: string, subj: string, signer: Pair, days: number, ext: string[]): Pair {
  const crt = join(dir, `${base}.crt`);
  const key = join(dir, `${base}.key`);
  mkdirSync(join(crt, '..'), { recursive: true });
  commands.push([`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days ${days}`, `-keyout ${q(key)} -out ${q(crt)} -subj ${q(subj)}`,
    `-CA ${q(signer.crt)} -CAkey ${q(signer.key)}`, `-addext 'basicConstraints=critical,CA:FALSE' -addext 'keyUsage=critical,digitalSignature,keyEncipherment'`,
    ...ext.map((e) => `-addext ${q(e)}`)].join(' '));
  after.push(() => keys.push(read(key)));
  return { crt, key };
}

const SERVER = ['extendedKeyUsage=serverAuth'];
const CLIENT = ['extendedKeyUsage=clientAuth'];

function kubeconfig(caCrt: string, user: string, auth: { embed: Pair } | { file: string }): string {
  const userLines = 'embed' in auth
    ? [`    client-certificate-data: ${b64(read(auth.embed.crt))}`, `    client-key-data: ${b64(read(auth.embed.key))}`]
    : [`    client-certificate: ${auth.file}`, `    client-key: ${auth.file}`];
  return ['apiVersion: v1', 'clusters:', '- cluster:', `    certificate-authority-data: ${b64(read(caCrt))}`, '    server: https://10.0.0.1:6443', '  name: kubernetes',
    'contexts:', '- context:', '    cluster: kubernetes', `    user: ${user}`, `  name: ${user}@kubernetes`, `current-context: ${user}@kubernetes`, 'kind: Config', 'preferences: {}',
    'users:', `- name: ${user}`, '  user:', ...userLines, ''].join('\n');
}

interface NodeSpec { name: string; controlPlane: boolean; etcd: boolean; superAdmin: boolean; frontProxyKey: boolean; drop: string[]; kubeletConfEmbeds: boolean }

const cas: Record<'ca' | 'fp' | 'etcd', Pair> = {} as never;
/** Client certificates a real cluster makes per node, made once here and copied to every node (the rows only need a certificate). */
const shared: Record<string, Pair> = {};

function makeShared(): void {
  const d = join(work, 'shared');
  shared['apiserver-kubelet-client'] = leaf(d, 'apiserver-kubelet-client', '/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client', cas.ca, 365, CLIENT);
  shared['front-proxy-client'] = leaf(d, 'front-proxy-client', '/CN=front-proxy-client', cas.fp, 365, CLIENT);
  shared['apiserver-etcd-client'] = leaf(d, 'apiserver-etcd-client', '/CN=kube-apiserver-etcd-client', cas.etcd, 365, CLIENT);
  shared['etcd/healthcheck-client'] = leaf(d, 'healthcheck-client', '/CN=kube-etcd-healthcheck-client', cas.etcd, 365, CLIENT);
  shared['controller-manager.conf'] = leaf(d, 'controller-manager', '/CN=system:kube-controller-manager', cas.ca, 365, CLIENT);
  shared['scheduler.conf'] = leaf(d, 'scheduler', '/CN=system:kube-scheduler', cas.ca, 365, CLIENT);
  shared['super-admin.conf'] = leaf(d, 'super-admin', '/O=system:masters/CN=kubernetes-super-admin', cas.ca, 365, CLIENT);
}

/** One node's tree: <root>/k8s (kubernetesDir), <root>/k8s/pki (pkiDir), <root>/kubelet (kubeletPkiDir). */
function makeNode(n: NodeSpec): string {
  const root = join(work, n.name);
  const k8s = join(root, 'k8s');
  const pki = join(k8s, 'pki');
  const kubelet = join(root, 'kubelet');
  const own = join(work, 'own', n.name);
  mkdirSync(join(pki, 'etcd'), { recursive: true });
  mkdirSync(kubelet, { recursive: true });
  const copy = (from: string, to: string, mode = 0o644) => after.push(() => writeFileSync(to, read(from), { mode }));
  if (n.controlPlane) {
    for (const [from, to] of [[cas.ca, 'ca'], [cas.fp, 'front-proxy-ca'], ...(n.etcd ? [[cas.etcd, 'etcd/ca']] : [])] as Array<[Pair, string]>) {
      copy(from.crt, join(pki, `${to}.crt`));
      if (to !== 'front-proxy-ca' || n.frontProxyKey) copy(from.key, join(pki, `${to}.key`), 0o600);
    }
    leaf(pki, 'apiserver', '/CN=kube-apiserver', cas.ca, 20, [...SERVER, `subjectAltName=DNS:${n.name},DNS:kubernetes,IP:10.96.0.1`]);
    for (const base of ['apiserver-kubelet-client', 'front-proxy-client', ...(n.etcd ? ['apiserver-etcd-client', 'etcd/healthcheck-client'] : [])]) {
      copy(shared[base]!.crt, join(pki, `${base}.crt`));
      copy(shared[base]!.key, join(pki, `${base}.key`), 0o600);
    }
    if (n.etcd) {
      leaf(pki, 'etcd/server', `/CN=${n.name}`, cas.etcd, 365, ['extendedKeyUsage=serverAuth,clientAuth', `subjectAltName=DNS:${n.name},DNS:localhost,IP:127.0.0.1`]);
      leaf(pki, 'etcd/peer', `/CN=${n.name}`, cas.etcd, 365, ['extendedKeyUsage=serverAuth,clientAuth', `subjectAltName=DNS:${n.name},IP:127.0.0.1`]);
    }
    const admin = leaf(own, 'admin', '/O=kubeadm:cluster-admins/CN=kubernetes-admin', cas.ca, 25, CLIENT);
    const confs: Array<[string, string, Pair]> = [
      ['admin.conf', 'kubernetes-admin', admin],
      ['controller-manager.conf', 'system:kube-controller-manager', shared['controller-manager.conf']!],
      ['scheduler.conf', 'system:kube-scheduler', shared['scheduler.conf']!],
      ...(n.superAdmin ? [['super-admin.conf', 'kubernetes-super-admin', shared['super-admin.conf']!] as [string, string, Pair]] : []),
    ];
    for (const [file, user, p] of confs) after.push(() => writeFileSync(join(k8s, file), kubeconfig(cas.ca.crt, user, { embed: p }), { mode: 0o600 }));
  }
  const kc = leaf(own, 'kubelet-client', `/O=system:nodes/CN=system:node:${n.name}`, cas.ca, 365, CLIENT);
  leaf(kubelet, 'kubelet', `/CN=${n.name}@1700000000`, cas.ca, 365, [...SERVER, `subjectAltName=DNS:${n.name}`]);
  const dated = join(kubelet, 'kubelet-client-2026-06-01-10-00-00.pem');
  const current = join(kubelet, 'kubelet-client-current.pem');
  after.push(() => {
    writeFileSync(dated, read(kc.crt) + read(kc.key), { mode: 0o600 });
    symlinkSync(dated, current);
    writeFileSync(join(k8s, 'kubelet.conf'), kubeconfig(cas.ca.crt, n.kubeletConfEmbeds ? `system:node:${n.name}` : 'default-auth', n.kubeletConfEmbeds ? { embed: kc } : { file: current }), { mode: 0o600 });
    for (const d of n.drop) unlinkSync(join(root, d));
  });
  return root;
}

const NODES: NodeSpec[] = [
  { name: 'cp-1', controlPlane: true, etcd: true, superAdmin: true, frontProxyKey: true, drop: [], kubeletConfEmbeds: true },
  { name: 'cp-2', controlPlane: true, etcd: true, superAdmin: false, frontProxyKey: false, drop: ['k8s/pki/etcd/peer.crt'], kubeletConfEmbeds: false },
  { name: 'cp-3', controlPlane: true, etcd: false, superAdmin: true, frontProxyKey: true, drop: [], kubeletConfEmbeds: false },
  { name: 'w-1', controlPlane: false, etcd: false, superAdmin: false, frontProxyKey: false, drop: [], kubeletConfEmbeds: false },
];
const GROUPS: Record<string, string[]> = { 'control-plane': ['cp-1', 'cp-2', 'cp-3'], etcd: ['cp-1', 'cp-2'], workers: ['w-1'] };
const roots = new Map<string, string>();

function hostOf(n: NodeSpec): Host {
  const h = sshd.host(n.name, { knownHostsFile: knownHosts });
  const root = roots.get(n.name)!;
  const dirs = { certDir: join(root, 'no-tos'), kubernetesDir: join(root, 'k8s'), pkiDir: join(root, 'k8s/pki'), kubeletPkiDir: join(root, 'kubelet') };
  return { ...h, groups: Object.keys(GROUPS).filter((g) => GROUPS[g]!.includes(n.name)), vars: { ...h.vars, ...dirs, checkPaths: defaultCheckPaths(dirs) } };
}

type Facts = { fingerprint: string; notAfter: string };

/**
 * Every certificate file and kubeconfig entry under each node's tree, read independently of certroll: one sh runs
 * `openssl x509` on each (kubeconfig entries decoded to files first). Node → label → openssl's facts.
 */
function opensslReadings(): Map<string, Map<string, Facts>> {
  const walk = (d: string): string[] => readdirSync(d).flatMap((e) => (statSync(join(d, e)).isDirectory() ? walk(join(d, e)) : [join(d, e)]));
  const pemDir = join(work, 'pems');
  mkdirSync(pemDir, { recursive: true });
  const items: Array<{ node: string; label: string; file: string }> = [];
  for (const [node, root] of roots) {
    for (const f of walk(root)) {
      const text = read(f);
      if ((text.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length === 1) items.push({ node, label: f, file: f });
      if (!f.endsWith('.conf')) continue;
      const decoded = (label: string, data: string) => {
        const file = join(pemDir, `${items.length}.pem`);
        writeFileSync(file, Buffer.from(data, 'base64').toString());
        items.push({ node, label, file });
      };
      const user = /- name: (\S+)\n {2}user:\n {4}client-certificate-data: (\S+)/.exec(text);
      if (user) decoded(`${f}#user=${user[1]}`, user[2]!);
      decoded(`${f}#cluster=kubernetes`, /certificate-authority-data: (\S+)/.exec(text)![1]!);
    }
  }
  // One openssl per distinct certificate (nodes share CAs and some client certificates), all at once.
  const distinct = [...new Map(items.map((i) => [read(i.file), i.file])).values()];
  execFileSync('sh', ['-c', 'for f; do openssl x509 -noout -fingerprint -sha256 -enddate -in "$f" > "$f.facts" & done; wait', 'sh', ...distinct]);
  const factsOf = new Map(distinct.map((f) => [read(f), read(`${f}.facts`)]));
  const byNode = new Map<string, Map<string, Facts>>();
  for (const it of items) {
    const text = factsOf.get(read(it.file))!;
    const m = byNode.get(it.node) ?? new Map<string, Facts>();
    m.set(it.label, { fingerprint: /Fingerprint=(\S+)/.exec(text)![1]!, notAfter: /notAfter=(.+)/.exec(text)![1]!.trim() });
    byNode.set(it.node, m);
  }
  return byNode;
}

/** kubeadm's dates, made by GNU date (`-f`: one process for all) from openssl's own notAfter texts: an independent formatter. */
function gnuDates(texts: string[]): Map<string, string> {
  const list = join(work, 'dates.txt');
  writeFileSync(list, texts.join('\n') + '\n');
  const out = execFileSync('date', ['-u', '-f', list, '+%b %d, %Y %H:%M UTC'], { encoding: 'utf8' }).trim().split('\n');
  return new Map(texts.map((t, i) => [t, out[i]!]));
}

let readings: Map<string, Map<string, Facts>>;
let dates: Map<string, string>;
let report: CheckReport;
const NOW = new Date();

beforeAll(async () => {
  mkdirSync(join(work, 'cas'));
  cas.ca = ca(join(work, 'cas'), 'ca', 'kubernetes');
  cas.fp = ca(join(work, 'cas'), 'front-proxy-ca', 'front-proxy-ca');
  cas.etcd = ca(join(work, 'cas'), 'etcd-ca', 'etcd-ca');
  makeShared();
  for (const n of NODES) roots.set(n.name, makeNode(n));
  // The CAs first, then every leaf at once.
  const run = (cmds: string[]) => {
    const r = spawnSync('sh', ['-c', `${cmds.map((c) => `{ ${c} 2>/dev/null || echo "failed: ${c.replace(/["$`\\]/g, '')}" >&2; } &`).join('\n')}\nwait`], { encoding: 'utf8' });
    if (r.status !== 0 || r.stderr) throw new Error(`openssl: ${r.stderr}`);
  };
  run(commands.splice(0, 3));
  run(commands);
  for (const f of after) f();
  readings = opensslReadings();
  dates = gnuDates([...new Set([...readings.values()].flatMap((m) => [...m.values()].map((f) => f.notAfter)))]);
  sshd = await startSshd({ address: ADDRESS, port: PORT });
  knownHosts = await sshd.writeKnownHosts();
  ({ report } = await checkFleet({ file: 'inventory.yaml', groups: GROUPS }, NODES.map(hostOf), { now: () => NOW }));
}, 120_000);

afterAll(async () => {
  await sshd?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('check on kubeadm nodes over ssh', () => {
  it('reports every certificate of every file on every node as openssl reads it', () => {
    expect(report.summary).toMatchObject({ hosts: 4, hostsRead: 4, hostsFailed: 0 });
    let compared = 0;
    for (const n of NODES) {
      for (const [label, want] of readings.get(n.name)!) {
        const rows = report.certificates.filter((r) => r.label === label && r.hosts.includes(n.name));
        expect(rows.map((r) => r.fingerprintSha256), `${n.name} ${label}`).toEqual([want.fingerprint]);
        expect(new Date(rows[0]!.notAfter).getTime()).toBe(new Date(want.notAfter).getTime());
        compared++;
      }
    }
    // cp-1: 10 PKI files + 4 kubeconfigs × 2 + kubelet.conf × 2 + 3 kubelet files; the others fewer.
    expect(compared).toBeGreaterThan(50);
    // apiserver.crt (20 days) and admin.conf's client certificate (25 days) are within --warn-days: exit 1.
    expect(report.summary.exitCode).toBe(1);
  });

  it('follows kubelet-client-current.pem and reports the link and its target; kubelet.conf naming it is no error', () => {
    for (const n of NODES) {
      const kubelet = join(roots.get(n.name)!, 'kubelet');
      const row = report.certificates.find((r) => r.path === `${kubelet}/kubelet-client-current.pem` && r.hosts.includes(n.name))!;
      expect(row.linkTarget).toBe(`${kubelet}/kubelet-client-2026-06-01-10-00-00.pem`);
    }
    const refs = (report.references ?? []).map((r) => [r.label.slice(work.length), r.file.slice(work.length), r.hosts]);
    expect(refs).toEqual([
      ['/cp-2/k8s/kubelet.conf#user=default-auth', '/cp-2/kubelet/kubelet-client-current.pem', ['cp-2']],
      ['/cp-3/k8s/kubelet.conf#user=default-auth', '/cp-3/kubelet/kubelet-client-current.pem', ['cp-3']],
      ['/w-1/k8s/kubelet.conf#user=default-auth', '/w-1/kubelet/kubelet-client-current.pem', ['w-1']],
    ]);
    expect(report.files.filter((f) => f.reason !== 'private-key')).toEqual([]);
  });

  it('gives kubeadm\'s rows per control-plane node: stacked or external etcd, !MISSING!, externally managed, dates as GNU date prints them', () => {
    expect(report.kubeadm!.map((v) => [v.host, v.etcd])).toEqual([['cp-1', 'stacked'], ['cp-2', 'stacked'], ['cp-3', 'external']]);
    const text = renderKubeadm(report);
    const sections = text.split(/^== /m).slice(1);
    expect(sections.map((s) => s.split(' ')[0])).toEqual(['cp-1', 'cp-2', 'cp-3']);
    for (const s of sections) {
      const host = s.split(' ')[0]!;
      const root = roots.get(host)!;
      const want = readings.get(host)!;
      const lines = s.split('\n');
      const certTable = lines.slice(lines.findIndex((l) => l.startsWith('CERTIFICATE  ')) + 1, lines.indexOf(''));
      const rows = new Map(certTable.map((l) => [l.split(/\s+/)[0] === '!MISSING!' ? `!${l.split(/\s+/)[1]}` : l.split(/\s+/)[0]!, l]));
      const spec = NODES.find((n) => n.name === host)!;
      const names = ['admin.conf', 'apiserver', ...(spec.etcd ? ['apiserver-etcd-client'] : []), 'apiserver-kubelet-client', 'controller-manager.conf',
        ...(spec.etcd ? ['etcd-healthcheck-client', 'etcd-peer', 'etcd-server'] : []), 'front-proxy-client', 'scheduler.conf', 'super-admin.conf'];
      expect([...rows.keys()].map((k) => k.replace(/^!/, ''))).toEqual(names);
      const files: Record<string, string> = {
        'admin.conf': 'k8s/admin.conf#user=kubernetes-admin', 'super-admin.conf': 'k8s/super-admin.conf#user=kubernetes-super-admin',
        'controller-manager.conf': 'k8s/controller-manager.conf#user=system:kube-controller-manager', 'scheduler.conf': 'k8s/scheduler.conf#user=system:kube-scheduler',
        apiserver: 'k8s/pki/apiserver.crt', 'apiserver-kubelet-client': 'k8s/pki/apiserver-kubelet-client.crt', 'front-proxy-client': 'k8s/pki/front-proxy-client.crt',
        'apiserver-etcd-client': 'k8s/pki/apiserver-etcd-client.crt', 'etcd-server': 'k8s/pki/etcd/server.crt', 'etcd-peer': 'k8s/pki/etcd/peer.crt', 'etcd-healthcheck-client': 'k8s/pki/etcd/healthcheck-client.crt',
      };
      const caOf = (name: string) => (name.startsWith('etcd-') || name === 'apiserver-etcd-client' ? 'etcd-ca' : name === 'front-proxy-client' ? 'front-proxy-ca' : 'ca');
      for (const name of names) {
        const facts = want.get(join(root, files[name]!));
        const line = rows.get(facts ? name : `!${name}`)!;
        if (!facts) {
          expect(line).toMatch(new RegExp(`^!MISSING! ${name} +$`));
          continue;
        }
        const managed = name === 'front-proxy-client' && !spec.frontProxyKey ? 'yes' : 'no';
        expect(line).toMatch(new RegExp(`^${name.replace('.', '\\.')} +${dates.get(facts.notAfter)} +(\\d+d|\\d+y) +${caOf(name)} +${managed} +$`));
        const days = Math.floor((new Date(facts.notAfter).getTime() - NOW.getTime()) / 86_400_000);
        expect(line).toContain(` ${days < 365 ? `${days}d` : `${Math.floor(days / 365)}y`} `);
      }
      const caTable = lines.slice(lines.findIndex((l) => l.startsWith('CERTIFICATE AUTHORITY  ')) + 1).filter((l) => /^(ca|etcd-ca|front-proxy-ca|!MISSING!) /.test(l));
      expect(caTable.map((l) => l.split(/\s+/)[0])).toEqual(spec.etcd ? ['ca', 'etcd-ca', 'front-proxy-ca'] : ['ca', 'front-proxy-ca']);
      expect(caTable.find((l) => l.startsWith('front-proxy-ca'))).toMatch(new RegExp(` ${spec.frontProxyKey ? 'no' : 'yes'} +$`));
      expect(caTable[0]).toContain(dates.get(want.get(join(root, 'k8s/pki/ca.crt'))!.notAfter)!);
    }
    expect(text).toContain('!MISSING! etcd-peer');
    expect(text).toContain('!MISSING! super-admin.conf');
    expect(text).toMatch(/not in group control-plane, so kubeadm lists nothing there: w-1/);
  });

  it('keeps --json whole: the kubeadm rows and references are in it, and no line of any private key', () => {
    const json = JSON.stringify(report);
    const back = JSON.parse(json) as CheckReport;
    expect(back.kubeadm!.find((v) => v.host === 'cp-2')!.certificates.find((c) => c.name === 'etcd-peer')).toMatchObject({ missing: true, caName: 'etcd-ca' });
    expect(back.kubeadm!.find((v) => v.host === 'cp-1')!.certificates.find((c) => c.name === 'apiserver')).toMatchObject({ missing: false, externallyManaged: false, caName: 'ca' });
    for (const k of keys) for (const l of k.split('\n').filter((x) => x.length > 20 && !x.startsWith('-----'))) expect(json).not.toContain(l);
  });
});
