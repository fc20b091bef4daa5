// The kubeadm renewal steps below the lab: a kubeadm PKI made by openssl in a temporary /etc/kubernetes, the prepare half
// reading it with the real shell (LocalRemote), the plan half, then the apply half staging and swapping. Every certificate
// made is checked by openssl (verify against its CA; subject, SANs, EKUs, validity, issuer); kubeconfigs differ only in
// the two values; keys stay 0600 and never reach the plan.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRemote } from '../../support/local-remote.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { resolveTargets } from '../../../src/inventory/targets.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { renewLeaves } from '../../../src/steps/renew-leaves.js';
import { renewKubeconfigs } from '../../../src/steps/renew-kubeconfigs.js';
import type { ApplyContext, PlanContext, PrepareContext, StepModule } from '../../../src/steps/types.js';
import type { FleetFacts } from '../../../src/facts/types.js';
import type { Plan, PlannedStep, Warning } from '../../../src/plan/types.js';
import type { RenewKubeconfigsStep, RenewLeavesStep, StepSpec } from '../../../src/playbook/types.js';
import { describeAction } from '../../../src/plan/describe.js';
import { kubeconfigUsers } from '../../../src/pki/kubeconfig-embedded.js';
import { readSecrets, resumeState } from '../../../src/steps/kubeadm-files.js';
import { HostError } from '../../../src/errors.js';

const top = mkdtempSync(join(tmpdir(), 'certroll-kubeadm-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));
const RUN = '20261202T160000Z-kbrenew';
const NOW = new Date();

const sh = (script: string, cwd: string) => execFileSync('/bin/bash', ['-c', script], { cwd, encoding: 'utf8' });
const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, encoding: 'utf8' });

/** A kubeadm PKI as `kubeadm init` lays it out (RSA 2048, 10-year CAs, leaves with kubeadm's subjects, SANs and EKUs), some expiring soon. */
let template: string | undefined;
function makeKubeadmDir(dir: string): void {
  if (!template) generateKubeadmDir((template = join(top, 'template')));
  cpSync(template, dir, { recursive: true });
}
function generateKubeadmDir(dir: string): void {
  mkdirSync(join(dir, 'pki', 'etcd'), { recursive: true });
  sh(
    `set -e
ca() { openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -days 3650 -subj "/CN=$2" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign 2>/dev/null; chmod 600 "$1.key"; }
leaf() { # name ca subj days eku sans (one RSA 2048 key for every leaf: key generation is what costs here)
  cp leaf.pem "$1.key"; openssl req -new -key "$1.key" -subj "$3" -out "$1.csr" 2>/dev/null
  { echo "basicConstraints=critical,CA:FALSE"; echo "keyUsage=critical,digitalSignature,keyEncipherment"; echo "extendedKeyUsage=$5"; [ -n "$6" ] && echo "subjectAltName=$6"; } > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days "$4" -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"; chmod 600 "$1.key"; }
cd pki
openssl genrsa -out leaf.pem 2048 2>/dev/null
ca ca kubernetes; ca front-proxy-ca front-proxy-ca; ca etcd/ca etcd-ca
leaf apiserver ca /CN=kube-apiserver 20 serverAuth "DNS:kadm-1,DNS:kubernetes,DNS:kubernetes.default,IP:10.96.0.1,IP:127.21.0.11"
leaf apiserver-kubelet-client ca "/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client" 300 clientAuth ""
leaf apiserver-etcd-client etcd/ca /CN=kube-apiserver-etcd-client 300 clientAuth ""
leaf front-proxy-client front-proxy-ca /CN=front-proxy-client 300 clientAuth ""
leaf etcd/server etcd/ca /CN=kadm-1 300 serverAuth,clientAuth "DNS:kadm-1,DNS:localhost,IP:127.21.0.11,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1"
leaf etcd/peer etcd/ca /CN=kadm-1 300 serverAuth,clientAuth "DNS:kadm-1,DNS:localhost,IP:127.21.0.11,IP:127.0.0.1"
leaf etcd/healthcheck-client etcd/ca /CN=kube-etcd-healthcheck-client 300 clientAuth ""
leaf admin ca "/O=kubeadm:cluster-admins/CN=kubernetes-admin" 20 clientAuth ""
leaf cm ca /CN=system:kube-controller-manager 20 clientAuth ""
leaf kubelet ca "/O=system:nodes/CN=system:node:kadm-1" 10 clientAuth ""
rm -f *.srl etcd/*.srl leaf.pem`,
    dir,
  );
  const b64 = (f: string) => readFileSync(join(dir, 'pki', f)).toString('base64');
  const conf = (user: string, cert: string, extra = '') =>
    [
      'apiVersion: v1',
      'clusters:',
      '- cluster:',
      `    certificate-authority-data: ${b64('ca.crt')}`,
      '    server: https://127.21.0.11:6443',
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
      `    client-certificate-data: ${b64(`${cert}.crt`)}`,
      `    client-key-data: ${b64(`${cert}.key`)}`,
      extra,
    ].join('\n');
  writeFileSync(join(dir, 'admin.conf'), conf('kubernetes-admin', 'admin'), { mode: 0o600 });
  writeFileSync(join(dir, 'controller-manager.conf'), conf('system:kube-controller-manager', 'cm', '# kept as is\n'), { mode: 0o600 });
  writeFileSync(join(dir, 'kubelet.conf'), conf('system:node:kadm-1', 'kubelet'), { mode: 0o600 });
  for (const x of ['admin', 'cm', 'kubelet']) for (const e of ['crt', 'key']) unlinkSync(join(dir, 'pki', `${x}.${e}`));
}

const inventoryFor = (dir: string, extra = '') =>
  parseInventory(
    [
      `vars: { certDir: ${dir}, kubernetesDir: ${dir}, pkiDir: ${dir}/pki, manifestsDir: ${dir}/manifests, parkDir: ${dir}/certroll-parked, etcdClientPort: 2379, extraSans: [api.example.com]${extra} }`,
      'ssh: { identityFile: /tmp/id, knownHostsFile: /tmp/kh }',
      'hosts:',
      '  kadm-1: { address: 127.21.0.11 }',
      'groups: { control-plane: [kadm-1], etcd: [kadm-1] }',
    ].join('\n'),
    'kubeadm.yaml',
  );

const playbookFor = (keepKeys = false) =>
  parsePlaybook(
    ['name: kubeadm-unit', 'files: { ca: pki/etcd/ca.crt, caKey: pki/etcd/ca.key, cert: pki/etcd/healthcheck-client.crt, key: pki/etcd/healthcheck-client.key }', 'steps:', '  - type: preflight', '  - type: backup', `  - { type: renew-leaves, keepKeys: ${keepKeys} }`, `  - { type: renew-kubeconfigs, keepKeys: ${keepKeys} }`].join('\n'),
    'kubeadm-unit.yaml',
  );

const remote = new LocalRemote('kadm-1');

function prepareCtx(dir: string, index: number, over: Partial<PrepareContext> = {}, keepKeys = false): PrepareContext {
  const inventory = inventoryFor(dir);
  return {
    inventory,
    playbook: playbookFor(keepKeys),
    facts: { gatheredAt: NOW.toISOString(), hosts: {}, unreachable: [], etcd: null } as FleetFacts,
    now: NOW,
    index,
    renewWithinDays: 30,
    force: false,
    hostsOf: (t) => resolveTargets(inventory, t),
    host: (n) => inventory.hosts.find((h) => h.name === n)!,
    remote: () => remote,
    ...over,
  };
}

function planOf(mod: StepModule<never>, spec: StepSpec, p: PrepareContext, data: unknown, index: number): { step: PlannedStep; warnings: Warning[] } {
  const warnings: Warning[] = [];
  const ctx = {
    inventory: p.inventory,
    playbook: p.playbook,
    facts: p.facts,
    material: null,
    runId: RUN,
    now: NOW,
    hostsOf: p.hostsOf,
    host: p.host,
    hostFacts: () => undefined,
    scope: () => ({}) as never,
    warn: (w: Warning) => warnings.push(w),
    planned: [],
    stepData: data,
  } as unknown as PlanContext;
  const r = mod.plan(spec as never, ctx);
  return { step: { index, type: spec.type, title: spec.type, at: { file: 'x' }, hosts: r.hosts, actions: r.actions, notes: r.notes }, warnings };
}

async function applyStep(mod: StepModule<never>, step: PlannedStep, p: PrepareContext, data: unknown): Promise<string[]> {
  const reports: string[] = [];
  const ctx = {
    plan: { runId: RUN } as Plan,
    inventory: p.inventory,
    playbook: p.playbook,
    material: null,
    remotes: new Map([['kadm-1', remote]]),
    remote: () => remote,
    runId: RUN,
    facts: p.facts,
    stepData: { [step.index]: data },
  } as unknown as ApplyContext;
  const phases = [mod.apply(step, undefined as never, ctx)].flat();
  for (const ph of phases) for (const item of ph.items) await item.run((m) => reports.push(m));
  return reports;
}

const x509 = (file: string) => openssl(['x509', '-in', file, '-noout', '-text'], top);
const verify = (ca: string, file: string) => openssl(['verify', '-CAfile', ca, file], top).trim();

describe('renew-leaves and renew-kubeconfigs on a kubeadm /etc/kubernetes (real shell, openssl-checked)', () => {
  const dir = join(top, 'a', 'etc', 'kubernetes');
  let before: Record<string, Buffer>;
  let prepared: Awaited<ReturnType<NonNullable<typeof renewLeaves.prepare>>> | undefined;
  beforeAll(() => {
    makeKubeadmDir(dir);
    before = Object.fromEntries(
      ['pki/apiserver.crt', 'pki/apiserver.key', 'pki/etcd/server.crt', 'pki/ca.key', 'admin.conf', 'controller-manager.conf', 'kubelet.conf'].map((f) => [f, readFileSync(join(dir, f))]),
    );
  }, 180_000);

  it('plans every leaf with subject, SANs (+extraSans on serving certs), issuer, validity and a new key; writes nothing; no key in the plan', async () => {
    const p = prepareCtx(dir, 2);
    const spec = p.playbook.steps[2] as RenewLeavesStep & StepSpec;
    const r = (prepared = await renewLeaves.prepare!(spec as never, p));
    expect(r.findings.filter((f) => f.level === 'block')).toEqual([]);
    expect(r.needed).toBe(true);
    expect(r.reasons[0]).toMatch(/apiserver\.crt expires .*within 30 days/);
    const { step } = planOf(renewLeaves as StepModule<never>, spec, p, r.data, 2);
    const renew = step.actions.filter((a) => a.kind === 'renew-cert');
    expect(renew.map((a) => a.kind === 'renew-cert' && a.path.slice(dir.length + 1))).toEqual([
      'pki/apiserver.crt',
      'pki/apiserver-kubelet-client.crt',
      'pki/apiserver-etcd-client.crt',
      'pki/front-proxy-client.crt',
      'pki/etcd/server.crt',
      'pki/etcd/peer.crt',
      'pki/etcd/healthcheck-client.crt',
    ]);
    const api = renew[0]!;
    expect(api.kind === 'renew-cert' && api.sansAdded).toEqual(['DNS:api.example.com']);
    expect(describeAction(api)).toMatch(/CN=kube-apiserver; serverAuth; signed by ca \(CN=kubernetes\); valid until .*; SANs: .*DNS:kubernetes.*\(\+ DNS:api\.example\.com\); new RSA 2048 key/);
    const kcc = renew[1]!;
    expect(describeAction(kcc)).toMatch(/O=kubeadm:cluster-admins, CN=kube-apiserver-kubelet-client|CN=kube-apiserver-kubelet-client, O=kubeadm:cluster-admins/);
    expect(step.actions.filter((a) => a.kind === 'stage')).toHaveLength(14);
    const swap = step.actions.find((a) => a.kind === 'swap')!;
    expect(swap.kind === 'swap' && swap.renames.slice(0, 2).map((x) => x.to.split('/').pop())).toEqual(['apiserver.key', 'apiserver.crt']);
    const json = JSON.stringify(step);
    expect(json).not.toMatch(/PRIVATE KEY/);
    for (const [f, b] of Object.entries(before)) expect(readFileSync(join(dir, f)).equals(b), f).toBe(true);
  }, 180_000);

  it('applies: every new leaf verifies against its CA, keeps subject, SANs and EKUs, lasts 365 days; keys are new, 0600, same size', async () => {
    // The new files the previous test's prepare made (in memory): what `run` applies is what `plan` showed.
    const p = prepareCtx(dir, 2);
    const spec = p.playbook.steps[2] as RenewLeavesStep & StepSpec;
    const r = prepared!;
    const { step } = planOf(renewLeaves as StepModule<never>, spec, p, r.data, 2);
    const reports = await applyStep(renewLeaves as StepModule<never>, step, p, r.data);
    expect(reports.join('\n')).toMatch(/14 files replaced and checked by sha256/);
    const pki = join(dir, 'pki');
    const cases: Array<[string, string, RegExp, RegExp]> = [
      ['apiserver', 'ca', /Subject: CN\s*=\s*kube-apiserver/, /TLS Web Server Authentication/],
      ['apiserver-kubelet-client', 'ca', /Subject: O\s*=\s*kubeadm:cluster-admins, CN\s*=\s*kube-apiserver-kubelet-client/, /TLS Web Client Authentication/],
      ['apiserver-etcd-client', 'etcd/ca', /Subject: CN\s*=\s*kube-apiserver-etcd-client/, /TLS Web Client Authentication/],
      ['front-proxy-client', 'front-proxy-ca', /Subject: CN\s*=\s*front-proxy-client/, /TLS Web Client Authentication/],
      ['etcd/server', 'etcd/ca', /Subject: CN\s*=\s*kadm-1/, /TLS Web Server Authentication, TLS Web Client Authentication/],
      ['etcd/peer', 'etcd/ca', /Subject: CN\s*=\s*kadm-1/, /TLS Web Server Authentication, TLS Web Client Authentication/],
      ['etcd/healthcheck-client', 'etcd/ca', /Subject: CN\s*=\s*kube-etcd-healthcheck-client/, /TLS Web Client Authentication/],
    ];
    for (const [leaf, ca, subject, eku] of cases) {
      const crt = join(pki, `${leaf}.crt`);
      expect(verify(join(pki, `${ca}.crt`), crt)).toBe(`${crt}: OK`);
      const text = x509(crt);
      expect(text, leaf).toMatch(subject);
      expect(text, leaf).toMatch(eku);
      expect(text, leaf).toMatch(/Digital Signature, Key Encipherment/);
      expect(text, leaf).toMatch(/CA:FALSE/);
      expect(text, leaf).toMatch(/Public-Key: \(2048 bit\)/);
      const issuer = openssl(['x509', '-in', join(pki, `${ca}.crt`), '-noout', '-subject'], top).replace('subject=', '').trim();
      expect(openssl(['x509', '-in', crt, '-noout', '-issuer'], top).replace('issuer=', '').trim()).toBe(issuer);
      const end = Date.parse(openssl(['x509', '-in', crt, '-noout', '-enddate'], top).replace('notAfter=', '').trim());
      expect(Math.abs(end - (NOW.getTime() + 365 * 86_400_000))).toBeLessThan(2000);
      // The key on disk is the certificate's key: same public key, mode 0600.
      const pub = (f: string, kind: 'x509' | 'pkey') => openssl(kind === 'x509' ? ['x509', '-in', f, '-noout', '-pubkey'] : ['pkey', '-in', f, '-pubout'], top);
      expect(pub(join(pki, `${leaf}.key`), 'pkey')).toBe(pub(crt, 'x509'));
      expect(statSync(join(pki, `${leaf}.key`)).mode & 0o777).toBe(0o600);
    }
    const api = x509(join(pki, 'apiserver.crt'));
    for (const san of ['DNS:kadm-1', 'DNS:kubernetes', 'DNS:kubernetes.default', 'IP Address:10.96.0.1', 'IP Address:127.21.0.11', 'DNS:api.example.com']) expect(api).toContain(san);
    const etcd = x509(join(pki, 'etcd/server.crt'));
    for (const san of ['DNS:kadm-1', 'DNS:localhost', 'IP Address:127.21.0.11', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1']) expect(etcd).toContain(san);
    expect(readFileSync(join(pki, 'apiserver.key')).equals(before['pki/apiserver.key']!)).toBe(false);
    expect(readFileSync(join(pki, 'ca.key')).equals(before['pki/ca.key']!)).toBe(true);
    // Nothing staged is left behind.
    expect(sh(`find . -name '.*certroll-*' | wc -l`, dir).trim()).toBe('0');
    // A second plan has nothing to renew.
    const again = await renewLeaves.prepare!(spec as never, prepareCtx(dir, 2));
    expect(again.needed).toBe(false);
    expect(again.reasons[0]).toMatch(/beyond 30 days, nothing to renew/);
  }, 180_000);

  it('kubeconfigs: admin.conf, controller-manager.conf and the expiring embedded kubelet.conf rewritten; only the two values change', async () => {
    const p = prepareCtx(dir, 3);
    const spec = p.playbook.steps[3] as RenewKubeconfigsStep & StepSpec;
    const r = await renewKubeconfigs.prepare!(spec as never, p);
    expect(r.findings.filter((f) => f.level === 'block')).toEqual([]);
    const { step } = planOf(renewKubeconfigs as StepModule<never>, spec, p, r.data, 3);
    expect(step.actions.filter((a) => a.kind === 'renew-cert').map((a) => a.kind === 'renew-cert' && `${a.path.split('/').pop()} ${a.user}`)).toEqual([
      'admin.conf kubernetes-admin',
      'controller-manager.conf system:kube-controller-manager',
      'kubelet.conf system:node:kadm-1',
    ]);
    expect(JSON.stringify(step)).not.toMatch(/PRIVATE KEY|LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVk/);
    await applyStep(renewKubeconfigs as StepModule<never>, step, p, r.data);
    for (const [conf, ca] of [
      ['admin.conf', 'O = kubeadm:cluster-admins, CN = kubernetes-admin'],
      ['controller-manager.conf', 'CN = system:kube-controller-manager'],
      ['kubelet.conf', 'O = system:nodes, CN = system:node:kadm-1'],
    ] as const) {
      const now = readFileSync(join(dir, conf), 'utf8');
      const old = before[conf]!.toString('utf8');
      const a = now.split('\n');
      const b = old.split('\n');
      expect(a.length).toBe(b.length);
      const changed = a.map((l, i) => (l === b[i] ? null : l.split(':')[0]!.trim())).filter(Boolean);
      expect(changed, conf).toEqual(['client-certificate-data', 'client-key-data']);
      expect(statSync(join(dir, conf)).mode & 0o777).toBe(0o600);
      const u = kubeconfigUsers(now)[0]!;
      const crt = join(top, `${conf}.crt`);
      writeFileSync(crt, Buffer.from(u.cert.kind === 'embedded' ? u.cert.data : '', 'base64'));
      expect(verify(join(dir, 'pki', 'ca.crt'), crt)).toBe(`${crt}: OK`);
      expect(x509(crt)).toContain(`Subject: ${ca}`);
      expect(x509(crt)).toMatch(/TLS Web Client Authentication/);
    }
  }, 180_000);

  it('keepKeys: the certificate is renewed with the same key; the key file is not rewritten', async () => {
    const d = join(top, 'k', 'etc', 'kubernetes');
    makeKubeadmDir(d);
    const key = readFileSync(join(d, 'pki/apiserver.key'));
    const p = prepareCtx(d, 2, {}, true);
    const spec = p.playbook.steps[2] as RenewLeavesStep & StepSpec;
    const r = await renewLeaves.prepare!(spec as never, p);
    const { step } = planOf(renewLeaves as StepModule<never>, spec, p, r.data, 2);
    expect(step.actions.filter((a) => a.kind === 'stage')).toHaveLength(7);
    expect(describeAction(step.actions[0]!)).toMatch(/key kept \(RSA 2048\)/);
    await applyStep(renewLeaves as StepModule<never>, step, p, r.data);
    expect(readFileSync(join(d, 'pki/apiserver.key')).equals(key)).toBe(true);
    expect(verify(join(d, 'pki/ca.crt'), join(d, 'pki/apiserver.crt'))).toMatch(/OK$/);
  }, 180_000);

  it('blocks before any write: CA key missing, a leaf signed by another CA, a kubeconfig naming its certificate by path', async () => {
    const d = join(top, 'b', 'etc', 'kubernetes');
    makeKubeadmDir(d);
    unlinkSync(join(d, 'pki/front-proxy-ca.key'));
    cpSync(join(d, 'pki/apiserver-etcd-client.crt'), join(d, 'pki/apiserver-kubelet-client.crt'));
    writeFileSync(join(d, 'controller-manager.conf'), readFileSync(join(d, 'controller-manager.conf'), 'utf8').replace(/client-certificate-data: .*/, 'client-certificate: /var/lib/cm.crt').replace(/client-key-data: .*/, 'client-key: /var/lib/cm.key'));
    const p = prepareCtx(d, 2);
    const r = await renewLeaves.prepare!(p.playbook.steps[2] as never, p);
    const codes = r.findings.filter((f) => f.level === 'block').map((f) => f.code);
    expect(codes).toEqual(expect.arrayContaining(['ca-key-missing', 'wrong-issuer']));
    expect(r.findings.find((f) => f.code === 'ca-key-missing')!.message).toContain(`${d}/pki/front-proxy-ca.key is missing`);
    expect((r.data as { renewals: unknown[] }).renewals).toEqual([]);
    const k = await renewKubeconfigs.prepare!(p.playbook.steps[3] as never, prepareCtx(d, 3));
    expect(k.findings.find((f) => f.code === 'kubeconfig-by-path')!.message).toMatch(/controller-manager\.conf user system:kube-controller-manager names its client certificate or key by path/);
    // An inventory whose certDir (what the backup holds) is not the kubernetes dir is refused before anything is read.
    const inv = inventoryFor(d);
    inv.hosts[0]!.vars.certDir = '/srv/kubernetes';
    const c = await renewLeaves.prepare!(p.playbook.steps[2] as never, { ...prepareCtx(d, 2), inventory: inv, host: () => inv.hosts[0]! });
    expect(c.findings.map((f) => f.code)).toEqual(['cert-dir-not-kubernetes-dir']);
  }, 180_000);
});

describe('the prepare halves read a host\'s keys and kubeconfigs in one exec', () => {
  it('renew-leaves (CA keys and, with keepKeys, the leaf keys) and renew-kubeconfigs (CA key, kubeconfigs): the kubeadm query and one read each', async () => {
    const d = join(top, 'r', 'etc', 'kubernetes');
    makeKubeadmDir(d);
    const p = prepareCtx(d, 2, {}, true);
    let trips = remote.counters.roundTrips;
    const r = await renewLeaves.prepare!(p.playbook.steps[2] as never, p);
    expect(r.findings.filter((f) => f.level === 'block')).toEqual([]);
    expect((r.data as { renewals: unknown[] }).renewals).toHaveLength(7);
    expect(remote.counters.roundTrips - trips).toBe(2);
    trips = remote.counters.roundTrips;
    const k = await renewKubeconfigs.prepare!(p.playbook.steps[3] as never, prepareCtx(d, 3));
    expect(k.findings.filter((f) => f.level === 'block')).toEqual([]);
    expect((k.data as { renewals: unknown[] }).renewals.length).toBeGreaterThan(0);
    expect(remote.counters.roundTrips - trips).toBe(2);
    // No key content on any command line.
    for (const l of remote.log) expect(l.script).not.toMatch(/PRIVATE KEY/);
  }, 180_000);

  it('readSecrets: each file byte for byte; one that cannot be read throws when asked for, naming it', async () => {
    const d = join(top, 'rs');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'a.key'), 'A\nno final newline');
    writeFileSync(join(d, 'b.conf'), '\n\nB\n\n');
    const trips = remote.counters.roundTrips;
    const read = await readSecrets(prepareCtx(d, 2), 'kadm-1', [join(d, 'a.key'), join(d, 'b.conf'), join(d, 'missing.key'), join(d, 'a.key')]);
    expect(remote.counters.roundTrips - trips).toBe(1);
    expect(read(join(d, 'a.key')).reveal()).toBe('A\nno final newline');
    expect(read(join(d, 'b.conf')).reveal()).toBe('\n\nB\n\n');
    const e = (() => {
      try {
        read(join(d, 'missing.key'));
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(HostError);
    expect((e as HostError).message).toContain(`${join(d, 'missing.key')}\` exited with 1`);
    expect((e as HostError).detail).toMatch(/No such file/);
    expect(() => read(join(d, 'other'))).toThrow(/was not read/);
  });
});

describe('resume: files the stopped run already wrote are recognised by sha256', () => {
  const plan = {
    runId: 'stopped',
    steps: [{ index: 2, actions: [
      { kind: 'stage', host: 'kadm-1', path: '/k/pki/apiserver.crt', sha256: 'c1' },
      { kind: 'stage', host: 'kadm-1', path: '/k/pki/apiserver.key', sha256: 'k1' },
    ] }],
  } as unknown as Plan;
  const ctx = { index: 2, resume: { plan, preFacts: {} as FleetFacts } } as unknown as PrepareContext;
  const paths = ['/k/pki/apiserver.crt', '/k/pki/apiserver.key'];
  it('both new: done; neither: made anew; one of the pair: blocks (mixed); not resuming: made anew', () => {
    expect(resumeState(ctx, 'kadm-1', paths, (p) => ({ '/k/pki/apiserver.crt': 'c1', '/k/pki/apiserver.key': 'k1' })[p])).toBe('done');
    expect(resumeState(ctx, 'kadm-1', paths, () => 'old')).toBe('todo');
    expect(resumeState(ctx, 'kadm-1', paths, (p) => (p.endsWith('.crt') ? 'c1' : 'old'))).toBe('mixed');
    expect(resumeState(ctx, 'kadm-2', paths, () => 'c1')).toBe('todo');
    expect(resumeState({ ...ctx, resume: undefined } as PrepareContext, 'kadm-1', paths, () => 'c1')).toBe('todo');
  });
});
