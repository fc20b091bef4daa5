// renew-cas on three kubeadm control-plane nodes (three temporary /etc/kubernetes, the real shell via LocalRemote): each
// CA renewed once with its key kept, the same new certificate on every node, every old leaf still verifying (openssl).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRemote } from '../../support/local-remote.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { resolveTargets } from '../../../src/inventory/targets.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { renewCas } from '../../../src/steps/renew-cas.js';
import type { ApplyContext, PlanContext, PrepareContext, StepModule } from '../../../src/steps/types.js';
import type { FleetFacts } from '../../../src/facts/types.js';
import type { Plan, PlannedStep } from '../../../src/plan/types.js';
import type { StepSpec } from '../../../src/playbook/types.js';
import { describeAction } from '../../../src/plan/describe.js';

const top = mkdtempSync(join(tmpdir(), 'certroll-kubeadm-cas-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));
const RUN = '20261202T170000Z-kbcas';
const NOW = new Date();
const NODES = ['kadm-1', 'kadm-2', 'kadm-3'];
const CAS = ['ca', 'front-proxy-ca', 'etcd/ca'];
const LEAVES: Record<string, string[]> = { ca: ['apiserver', 'apiserver-kubelet-client'], 'front-proxy-ca': ['front-proxy-client'], 'etcd/ca': ['etcd/server', 'etcd/peer', 'apiserver-etcd-client'] };

const sh = (script: string, cwd: string) => execFileSync('/bin/bash', ['-c', script], { cwd, encoding: 'utf8' });
const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: top, encoding: 'utf8' }).trim();
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** kubeadm's three CAs (10 years, 20 days left for `ca` so the step is needed) and leaves of each, made by openssl. */
function makePki(dir: string): void {
  mkdirSync(join(dir, 'pki', 'etcd'), { recursive: true });
  sh(
    `set -e; cd pki
ca() { openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -days "$3" -subj "/CN=$2" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign 2>/dev/null; chmod 600 "$1.key"; }
leaf() { openssl req -new -key leaf.pem -subj "/CN=$(basename "$1")" -out l.csr 2>/dev/null; cp leaf.pem "$1.key"; chmod 600 "$1.key"
  openssl x509 -req -in l.csr -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 300 -out "$1.crt" 2>/dev/null; rm -f l.csr; }
openssl genrsa -out leaf.pem 2048 2>/dev/null
ca ca kubernetes 20; ca front-proxy-ca front-proxy-ca 3650; ca etcd/ca etcd-ca 3650
${Object.entries(LEAVES).flatMap(([c, ls]) => ls.map((l) => `leaf ${l} ${c}`)).join('\n')}
rm -f *.srl etcd/*.srl leaf.pem`,
    dir,
  );
}

const dirOf = (set: string, node: string) => join(top, set, node, 'etc', 'kubernetes');
/** kubeadm copies the CAs (cert and key) to every control-plane node: the same files on all three. */
function makeCluster(set: string): void {
  makePki(dirOf(set, NODES[0]!));
  for (const n of NODES.slice(1)) cpSync(dirOf(set, NODES[0]!), dirOf(set, n), { recursive: true });
}

const inventoryFor = (set: string) =>
  parseInventory(
    [
      `vars: { etcdClientPort: 2379 }`,
      'ssh: { identityFile: /tmp/id, knownHostsFile: /tmp/kh }',
      'hosts:',
      ...NODES.map((n, i) => {
        const d = dirOf(set, n);
        return `  ${n}: { address: 127.21.0.1${i + 1}, vars: { certDir: ${d}, kubernetesDir: ${d}, pkiDir: ${d}/pki, manifestsDir: ${d}/manifests, parkDir: ${d}/certroll-parked } }`;
      }),
      `groups: { control-plane: [${NODES.join(', ')}], etcd: [${NODES.join(', ')}] }`,
    ].join('\n'),
    'kubeadm.yaml',
  );

const playbook = parsePlaybook(
  ['name: kubeadm-cas', 'files: { ca: pki/etcd/ca.crt, caKey: pki/etcd/ca.key, cert: pki/etcd/healthcheck-client.crt, key: pki/etcd/healthcheck-client.key }', 'steps:', '  - type: preflight', '  - type: backup', '  - { type: renew-cas, targets: control-plane }', '  - type: renew-leaves'].join('\n'),
  'kubeadm-cas.yaml',
);
const spec = playbook.steps[2] as StepSpec;
const remote = new LocalRemote('kadm-1');

function prepareCtx(set: string, over: Partial<PrepareContext> = {}): PrepareContext {
  const inventory = inventoryFor(set);
  return {
    inventory,
    playbook,
    facts: { gatheredAt: NOW.toISOString(), hosts: {}, unreachable: [], etcd: null } as FleetFacts,
    now: NOW,
    index: 2,
    renewWithinDays: 30,
    force: false,
    hostsOf: (t) => resolveTargets(inventory, t),
    host: (n) => inventory.hosts.find((h) => h.name === n)!,
    remote: () => remote,
    ...over,
  };
}

function planOf(p: PrepareContext, data: unknown): PlannedStep {
  const ctx = { inventory: p.inventory, playbook, facts: p.facts, material: null, runId: RUN, now: NOW, hostsOf: p.hostsOf, host: p.host, hostFacts: () => undefined, scope: () => ({}) as never, warn: () => undefined, planned: [], stepData: data } as unknown as PlanContext;
  const r = renewCas.plan(spec as never, ctx);
  return { index: 2, type: 'renew-cas', title: 'renew-cas', at: { file: 'x' }, hosts: r.hosts, actions: r.actions, notes: r.notes } as PlannedStep;
}

async function apply(step: PlannedStep, p: PrepareContext, data: unknown): Promise<string[]> {
  const reports: string[] = [];
  const ctx = { plan: { runId: RUN } as Plan, inventory: p.inventory, playbook, material: null, remotes: new Map(NODES.map((n) => [n, remote])), remote: () => remote, runId: RUN, facts: p.facts, stepData: { 2: data } } as unknown as ApplyContext;
  for (const ph of [(renewCas as StepModule<never>).apply(step, undefined as never, ctx)].flat()) for (const item of ph.items) await item.run((m) => reports.push(m));
  return reports;
}

describe('renew-cas on three kubeadm control-plane nodes (real shell, openssl-checked)', () => {
  const before: Record<string, { subject: string; pubkey: string; end: string; keySha: string; crtSha: string }> = {};
  beforeAll(() => {
    makeCluster('a');
    for (const ca of CAS) {
      const f = join(dirOf('a', 'kadm-1'), 'pki', ca);
      before[ca] = { subject: openssl(['x509', '-in', `${f}.crt`, '-noout', '-subject']), pubkey: openssl(['x509', '-in', `${f}.crt`, '-noout', '-pubkey']), end: openssl(['x509', '-in', `${f}.crt`, '-noout', '-enddate']), keySha: sha(`${f}.key`), crtSha: sha(`${f}.crt`) };
    }
  }, 120_000);

  it('plans each CA once, the same certificate staged on every node, key kept; applies; old leaves verify against the new CAs', async () => {
    const p = prepareCtx('a', { force: true });
    const r = await renewCas.prepare!(spec as never, p);
    expect(r.findings.filter((f) => f.level === 'block')).toEqual([]);
    expect(r.needed).toBe(true);
    expect(r.reasons[0]).toMatch(/kubeadm CA ca .* expires .*within 30 days/);
    const step = planOf(p, r.data);
    const renew = step.actions.filter((a) => a.kind === 'renew-cert');
    expect(renew).toHaveLength(9);
    const line = describeAction(renew[0]!);
    expect(line).toMatch(/renew .*\/pki\/ca\.crt: CN=kubernetes; .*signed by ca \(itself, same key\) \(CN=kubernetes\); valid until .* \(was .*\); SANs: none; key kept \(RSA 2048\)/);
    const stages = step.actions.filter((a) => a.kind === 'stage');
    expect(stages).toHaveLength(9);
    for (const ca of CAS) expect(new Set(stages.filter((a) => a.kind === 'stage' && a.path.endsWith(`/pki/${ca}.crt`)).map((a) => a.kind === 'stage' && a.sha256)).size).toBe(1);
    expect(stages.every((a) => a.kind === 'stage' && !a.secret)).toBe(true);
    expect(JSON.stringify(step)).not.toMatch(/PRIVATE KEY/);
    // Nothing written by the plan.
    for (const n of NODES) for (const ca of CAS) expect(sha(join(dirOf('a', n), 'pki', `${ca}.crt`))).toBe(before[ca]!.crtSha);

    const reports = await apply(step, p, r.data);
    expect(reports.filter((m) => /3 files replaced and checked by sha256/.test(m))).toHaveLength(3);
    for (const ca of CAS) {
      const files = NODES.map((n) => join(dirOf('a', n), 'pki', `${ca}.crt`));
      // Byte-identical on the three nodes, and new.
      expect(new Set(files.map(sha)).size, ca).toBe(1);
      expect(sha(files[0]!), ca).not.toBe(before[ca]!.crtSha);
      for (const n of NODES) {
        const base = join(dirOf('a', n), 'pki', ca);
        expect(openssl(['x509', '-in', `${base}.crt`, '-noout', '-subject']), ca).toBe(before[ca]!.subject);
        expect(openssl(['x509', '-in', `${base}.crt`, '-noout', '-pubkey']), ca).toBe(before[ca]!.pubkey);
        const end = Date.parse(openssl(['x509', '-in', `${base}.crt`, '-noout', '-enddate']).replace('notAfter=', ''));
        expect(Math.abs(end - (NOW.getTime() + 3650 * 86_400_000)), ca).toBeLessThan(2000);
        expect(openssl(['x509', '-in', `${base}.crt`, '-noout', '-enddate'])).not.toBe(before[ca]!.end);
        expect(sha(`${base}.key`), ca).toBe(before[ca]!.keySha);
        expect(statSync(`${base}.key`).mode & 0o777).toBe(0o600);
        // Mixed trust: every leaf the old CA signed verifies against the renewed one.
        for (const l of LEAVES[ca]!) {
          const leaf = join(dirOf('a', n), 'pki', `${l}.crt`);
          expect(openssl(['verify', '-CAfile', `${base}.crt`, leaf])).toBe(`${leaf}: OK`);
        }
      }
    }
    expect(sh(`find . -name '.*certroll-*' | wc -l`, join(top, 'a')).trim()).toBe('0');
    // A second plan: valid for 10 years now, nothing to renew.
    const again = await renewCas.prepare!(spec as never, prepareCtx('a'));
    expect(again.needed).toBe(false);
    expect(again.reasons[0]).toMatch(/beyond 30 days, nothing to renew/);
  }, 120_000);

  it('blocks when the nodes hold different certificates or keys for one CA; leaves an external CA (no key anywhere) alone', async () => {
    makeCluster('b');
    // kadm-3's front-proxy-ca is another CA with the same name (a node not joined with kubeadm's copied CAs).
    sh(`cd pki && openssl req -x509 -newkey rsa:2048 -nodes -keyout front-proxy-ca.key -out front-proxy-ca.crt -days 3650 -subj /CN=front-proxy-ca -addext basicConstraints=critical,CA:TRUE 2>/dev/null`, dirOf('b', 'kadm-3'));
    for (const n of NODES) rmSync(join(dirOf('b', n), 'pki', 'etcd', 'ca.key'));
    const r = await renewCas.prepare!(spec as never, prepareCtx('b', { force: true }));
    const blocks = r.findings.filter((f) => f.level === 'block');
    expect(blocks.map((f) => f.code)).toEqual(['ca-differs']);
    expect(blocks[0]!.message).toMatch(/front-proxy-ca: the nodes hold different front-proxy-ca\.key files .*kadm-3 sha256/);
    expect((r.data as { notes: string[] }).notes.join('\n')).toMatch(/etcd\/ca: no key on any node .*an external CA, left alone/);
    expect((r.data as { renewals: unknown[] }).renewals).toEqual([]);

    // Only the key missing on one node: blocks, naming it.
    makeCluster('c');
    rmSync(join(dirOf('c', 'kadm-2'), 'pki', 'ca.key'));
    const c = await renewCas.prepare!(spec as never, prepareCtx('c', { force: true }));
    expect(c.findings.filter((f) => f.level === 'block').map((f) => f.message)).toEqual([expect.stringMatching(/ca: the key pki\/ca\.key is on kadm-1, kadm-3 but not on kadm-2/)]);

    // An external etcd CA only: the other two are renewed on every node, etcd/ca is not touched.
    makeCluster('d');
    for (const n of NODES) rmSync(join(dirOf('d', n), 'pki', 'etcd', 'ca.key'));
    const pd = prepareCtx('d', { force: true });
    const d = await renewCas.prepare!(spec as never, pd);
    expect(d.findings.filter((f) => f.level === 'block')).toEqual([]);
    const step = planOf(pd, d.data);
    expect(step.actions.filter((a) => a.kind === 'stage').map((a) => a.kind === 'stage' && a.path.replace(/^.*\/pki\//, ''))).toEqual(['ca.crt', 'front-proxy-ca.crt', 'ca.crt', 'front-proxy-ca.crt', 'ca.crt', 'front-proxy-ca.crt']);
  }, 120_000);
});

describe('playbooks/kubeadm-renew.yaml', () => {
  it('holds a commented renew-cas step, before renew-leaves, that loads once uncommented', () => {
    const text = readFileSync(join(__dirname, '../../../playbooks/kubeadm-renew.yaml'), 'utf8');
    // The step and its indented fields, uncommented.
    const on = text.replace(/^  # - type: renew-cas\n(?:  #   .*\n)*/m, (block) => block.replace(/^  # /gm, '  '));
    expect(on).not.toBe(text);
    const pb = parsePlaybook(on, 'kubeadm-renew.yaml');
    const types = pb.steps.map((s) => s.type);
    expect(types.indexOf('renew-cas')).toBeGreaterThan(types.indexOf('backup'));
    expect(types.indexOf('renew-cas')).toBeLessThan(types.indexOf('renew-leaves'));
    expect(pb.steps[types.indexOf('renew-cas')]).toMatchObject({ days: 3650, cas: ['ca', 'front-proxy-ca', 'etcd/ca'], pkiDir: 'pki', targets: ['control-plane'] });
    expect(parsePlaybook(text, 'kubeadm-renew.yaml').steps.map((s) => s.type)).not.toContain('renew-cas');
  });
});

describe('playbook rule: renew-cas before renew-leaves and renew-kubeconfigs, once', () => {
  const pb = (steps: string[]) => () => parsePlaybook(['name: x', 'files: { ca: pki/etcd/ca.crt, caKey: pki/etcd/ca.key, cert: pki/etcd/healthcheck-client.crt, key: pki/etcd/healthcheck-client.key }', 'steps:', '  - type: preflight', '  - type: backup', ...steps.map((s) => `  - type: ${s}`)].join('\n'), 'x.yaml');
  it('refuses it after renew-leaves, or twice, naming the step', () => {
    expect(pb(['renew-leaves', 'renew-cas'])).toThrow(/steps\[3\]\.type: renew-cas \(step 4\) comes after renew-leaves \(step 3\); it must come before/);
    expect(pb(['renew-cas', 'renew-cas', 'renew-leaves'])).toThrow(/a second renew-cas step \(the first is step 3\)/);
    expect(pb(['renew-cas', 'renew-leaves', 'renew-kubeconfigs'])).not.toThrow();
  });
});
