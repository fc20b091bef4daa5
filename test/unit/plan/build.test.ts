// The plan as a pure function of inventory, playbook, facts and material: order, no-ops, blockers, secrets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workdir } from '../pki/fixtures.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import { buildPlan, renewalNeed } from '../../../src/planner/build.js';
import { makeMaterial } from '../../../src/plan/material.js';
import type { Playbook } from '../../../src/playbook/types.js';
import type { Plan } from '../../../src/plan/types.js';
import { FakeFleet, inventory } from './fake-fleet.js';

const wd = new Workdir();
let pb: Playbook;
let ca: string, leaf: string, longCa: string, longLeaf: string;
const now = new Date();

beforeAll(async () => {
  pb = await loadPlaybook('playbooks/tos-etcd-renew.yaml');
  wd.cfsslCa('ca', 'etcd-ca');
  wd.cfsslLeaf('leaf', 'ca', ['n1', 'n2', 'n3', '127.0.0.1', '10.96.0.1', '10.9.0.1', '10.9.0.2', '10.9.0.3'], { expiry: '480h' });
  ca = wd.read('ca.pem');
  leaf = wd.read('leaf.pem');
  wd.cfsslLeaf('long', 'ca', ['n1'], { expiry: '8760h' });
  longLeaf = wd.read('long.pem');
  longCa = ca; // cfssl -initca makes a 5-year CA
});
afterAll(() => wd.remove());

async function plan(fleet: FakeFleet, inv = inventory(['n1', 'n2', 'n3'])): Promise<Plan> {
  const need = renewalNeed(inv, pb, fleet.facts, now, 90);
  const fm = fleet.facts.hosts[inv.firstMaster]!;
  const hasKey = fm.certDir.files.some((f) => f.path === 'etcd-ca-key.pem');
  const m = need.needed && hasKey ? await makeMaterial({ inventory: inv, playbook: pb, oldCaPem: fm.pems.ca!, oldLeafPem: fm.pems.cert!, caKeyPem: wd.secret('ca-key.pem'), now }) : null;
  return buildPlan({ inventory: inv, playbook: pb, facts: fleet.facts, material: m?.material ?? null, summary: m?.summary ?? null, findings: m?.findings ?? [], need, options: { runId: 'r1', now, renewWithinDays: 90, force: false } });
}

function healthy(leader = 'n1') {
  return new FakeFleet().host('n1', { ca, cert: leaf }, { caKey: true }).host('n2', { ca, cert: leaf }).host('n3', { ca, cert: leaf }).etcd(['n1', 'n2', 'n3'], leader);
}

describe('plan', () => {
  it('restarts followers first and the leader last', async () => {
    const p = await plan(healthy('n1'));
    expect(p.status).toBe('ready');
    expect(p.restartOrder).toEqual(['n2', 'n3', 'n1']);
    const restart = p.steps.find((s) => s.type === 'rolling-restart')!;
    expect(restart.actions.map((a) => a.kind === 'restart' && [a.host, a.leader])).toEqual([['n2', false], ['n3', false], ['n1', true]]);
  });

  it('backs up every host to a per-run directory before anything is written', async () => {
    const p = await plan(healthy());
    const types = p.steps.map((s) => s.type);
    expect(types.indexOf('backup')).toBeLessThan(types.indexOf('renew-ca'));
    const b = p.steps.find((s) => s.type === 'backup')!;
    expect(b.actions.map((a) => a.kind === 'backup' && a.to)).toEqual(['/srv/kubernetes-bak-r1', '/srv/kubernetes-bak-r1', '/srv/kubernetes-bak-r1']);
  });

  it('swaps key and certificate by one back-to-back action per host, key 0600', async () => {
    const p = await plan(healthy());
    const d = p.steps.find((s) => s.type === 'distribute')!;
    const swaps = d.actions.filter((a) => a.kind === 'swap');
    expect(swaps).toHaveLength(3);
    for (const s of swaps) if (s.kind === 'swap') expect(s.renames.map((r) => r.role)).toEqual(['key', 'cert', 'ca']);
    const keys = p.steps.flatMap((s) => s.actions).filter((a) => a.kind === 'stage' && a.role === 'key');
    expect(keys).toHaveLength(3);
    for (const k of keys) if (k.kind === 'stage') expect([k.mode, k.secret]).toEqual([0o600, true]);
  });

  it('never puts private key material in the plan', async () => {
    const text = JSON.stringify(await plan(healthy()));
    expect(text).not.toMatch(/PRIVATE KEY/);
  });

  it('new certificates outlive the old ones and keep every old SAN', async () => {
    const p = await plan(healthy());
    expect(Date.parse(p.material!.newCa.notAfter)).toBeGreaterThan(Date.parse(p.material!.oldCa.notAfter));
    expect(Date.parse(p.material!.newLeaf.notAfter)).toBeGreaterThan(Date.parse(p.material!.oldLeaf.notAfter));
    expect(p.material!.sanDiff.removed).toEqual([]);
    expect(p.material!.newCa.subject).toBe(p.material!.oldCa.subject);
  });

  it('says there is nothing to do when everything is valid beyond the window, and why', async () => {
    const f = new FakeFleet().host('n1', { ca: longCa, cert: longLeaf }, { caKey: true }).host('n2', { ca: longCa, cert: longLeaf }).host('n3', { ca: longCa, cert: longLeaf }).etcd(['n1', 'n2', 'n3'], 'n1');
    const p = await plan(f);
    expect(p.status).toBe('nothing-to-do');
    expect(p.steps).toEqual([]);
    expect(p.reasons.join('\n')).toMatch(/valid until .*nothing to renew/);
  });

  it('blocks when the CA key is missing on the first master, saying where to put it', async () => {
    const f = new FakeFleet().host('n1', { ca, cert: leaf }).host('n2', { ca, cert: leaf }).host('n3', { ca, cert: leaf }).etcd(['n1', 'n2', 'n3'], 'n1');
    const p = await plan(f);
    expect(p.status).toBe('blocked');
    expect(p.reasons.join()).toContain('n1: the CA key /srv/kubernetes/etcd-ca-key.pem is missing');
  });

  it('blocks on an unreachable host, a held lock, too little disk and an unhealthy cluster', async () => {
    const f = new FakeFleet()
      .host('n1', { ca, cert: leaf }, { caKey: true })
      .host('n2', { ca, cert: leaf }, { lock: { runId: 'other-run', startedAt: '2026-11-23T01:00:00Z', controlHost: 'ops1' } })
      .host('n3', { ca, cert: leaf }, { availKiB: 100 })
      .unreachable('m1')
      .etcd(['n1', 'n2', 'n3'], 'n1', ['n1', 'n2']);
    const p = await plan(f);
    expect(p.status).toBe('blocked');
    const codes = p.warnings.filter((w) => w.level === 'block').map((w) => w.code);
    expect(codes).toEqual(expect.arrayContaining(['unreachable', 'lock-held', 'disk-full', 'cluster-unhealthy']));
    expect(p.reasons.join('\n')).toContain('run other-run, started 2026-11-23T01:00:00Z from ops1');
    expect(p.reasons.join('\n')).toMatch(/n3: not enough disk .* 100 KiB free, need \d+ KiB/);
  });

  it('warns when copies differ across hosts', async () => {
    const f = new FakeFleet().host('n1', { ca, cert: leaf }, { caKey: true }).host('n2', { ca, cert: longLeaf }).host('n3', { ca, cert: leaf }).etcd(['n1', 'n2', 'n3'], 'n2');
    const p = await plan(f);
    expect(p.warnings.find((w) => w.code === 'divergent-files')?.message).toContain('etcd.pem differs across hosts: n1, n3 | n2');
  });
});
