// The rollback plan as a pure function: every backup verified before any host is touched, byte-identical before-state, restart order.
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { loadPlaybook } from '../../../src/playbook/load.js';
import type { Playbook } from '../../../src/playbook/types.js';
import type { EtcdFacts } from '../../../src/facts/types.js';
import { diffState, nextRollbackNode, planRollback, type RollbackPlanInput } from '../../../src/rollback/plan.js';
import type { BeforeState, ExpectedFile, RollbackHostFacts } from '../../../src/rollback/types.js';
import { renderRollbackPlan } from '../../../src/rollback/render.js';
import { palette } from '../../../src/render/text.js';
import { inventory } from '../plan/fake-fleet.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const file = (path: string, content: string, mode = 0o644, uid = 0): ExpectedFile => ({ path, sha256: sha(content), mode, uid, gid: 0, size: content.length });
const OLD: ExpectedFile[] = [file('etcd-ca.pem', 'old-ca'), file('etcd.pem', 'old-leaf'), file('etcd-key.pem', 'old-key', 0o600), file('apiserver.pem', 'api')];
const NEW: ExpectedFile[] = [file('etcd-ca.pem', 'new-ca'), file('etcd.pem', 'new-leaf'), file('etcd-key.pem', 'new-key', 0o600), file('apiserver.pem', 'api')];
const RUN = '20261123T094300Z-a1b2c3';

let pb: Playbook;
beforeAll(async () => {
  pb = await loadPlaybook('playbooks/tos-etcd-renew.yaml');
});

/** A host after a successful run: new files in place, an intact backup of the old ones. */
function hostAfterRun(name: string, over: Partial<{ backup: Partial<RollbackHostFacts['backup']>; current: ExpectedFile[]; lock: RollbackHostFacts['lock']; inPlace: string[] }> = {}): RollbackHostFacts {
  return {
    host: name,
    certDir: '/srv/kubernetes',
    backupDir: `/srv/kubernetes-bak-${RUN}`,
    backup: { exists: true, verified: true, metaRunId: RUN, createdAt: '2026-11-23T09:43:01Z', meta: { files: OLD, dir: { mode: 0o755, uid: 0, gid: 0 } }, files: OLD, ...over.backup },
    current: { exists: true, files: over.current ?? NEW, dir: { mode: 0o755, uid: 0, gid: 0 } },
    lock: over.lock ?? null,
    manifests: { inPlace: over.inPlace ?? ['tos-etcd.manifest', 'tos-apiserver.manifest'], parked: [] },
  };
}

function etcd(leader: string, unhealthy: string[] = []): EtcdFacts {
  const hosts = ['n1', 'n2', 'n3'];
  return {
    queriedFrom: 'n1',
    members: [],
    statuses: hosts.map((h, i) => ({ endpoint: `https://10.9.0.${i + 1}:4001`, memberId: h, leaderId: leader, raftIndex: 10, raftTerm: 2, version: '3.4' })),
    health: hosts.map((h, i) => ({ endpoint: `https://10.9.0.${i + 1}:4001`, healthy: !unhealthy.includes(h) })),
    leaderHost: leader,
    memberOfHost: {},
  };
}

function input(over: Partial<RollbackPlanInput> = {}): RollbackPlanInput {
  const inv = inventory(['n1', 'n2', 'n3']);
  const before: Record<string, BeforeState> = Object.fromEntries(['n1', 'n2', 'n3'].map((h) => [h, { files: OLD, dir: { mode: 0o755, uid: 0, gid: 0 } }]));
  return {
    inventory: inv,
    playbook: pb,
    rollbackId: 'rb1',
    rollbackOf: RUN,
    now: new Date('2026-11-24T00:00:00Z'),
    source: 'journal',
    journal: { before, backedUp: ['n1', 'n2', 'n3'] },
    facts: { n1: hostAfterRun('n1'), n2: hostAfterRun('n2'), n3: hostAfterRun('n3') },
    unreachable: [],
    etcd: etcd('n2'),
    ...over,
  };
}

const blocks = (p: ReturnType<typeof planRollback>) => p.warnings.filter((w) => w.level === 'block').map((w) => w.code);

describe('rollback plan', () => {
  it('after a successful run: lock, verify every backup, restore, restart followers first and the leader last, check', () => {
    const p = planRollback(input());
    expect(p.status).toBe('ready');
    expect(p.steps.map((s) => s.type)).toEqual(['take-lock', 'verify-backup', 'restore', 'manager-restore', 'restart-restored', 'check-restored', 'cleanup']);
    expect(p.restartOrder).toEqual(['n1', 'n3', 'n2']);
    const restart = p.steps.find((s) => s.type === 'restart-restored')!.actions;
    expect(restart.map((a) => a.kind === 'restart' && [a.host, a.leader])).toEqual([['n1', false], ['n3', false], ['n2', true]]);
    const restore = p.steps.find((s) => s.type === 'restore')!.actions[0]!;
    expect(restore.kind === 'restore' && restore.changes.join('\n')).toMatch(/etcd-ca\.pem: sha256/);
    expect(restore.kind === 'restore' && restore.changes.some((c) => c.startsWith('apiserver.pem'))).toBe(false);
    expect(p.before.n1!.files).toEqual(OLD);
  });

  it('the --pause override reaches every restart action', () => {
    const p = planRollback(input({ pauseSeconds: 1 }));
    for (const a of p.steps.find((s) => s.type === 'restart-restored')!.actions) expect(a.kind === 'restart' && a.pauseSeconds).toBe(1);
  });

  it('refuses before touching any host when one backup does not verify (tampered file)', () => {
    const f = input();
    f.facts.n3 = hostAfterRun('n3', { backup: { verified: false, problem: './etcd.pem: FAILED', files: [OLD[0]!, file('etcd.pem', 'tampered'), OLD[2]!, OLD[3]!] } });
    const p = planRollback(f);
    expect(p.status).toBe('blocked');
    expect(blocks(p)).toEqual(['backup-corrupt']);
    expect(p.reasons.join('\n')).toMatch(/n3: the backup \/srv\/kubernetes-bak-.* does not verify: \.\/etcd\.pem: FAILED; no host will be touched/);
  });

  it('refuses a backup whose manifest verifies but whose content is not the state the journal recorded before the run', () => {
    const f = input();
    const forged = [OLD[0]!, file('etcd.pem', 'forged-with-matching-manifest'), OLD[2]!, OLD[3]!];
    f.facts.n2 = hostAfterRun('n2', { backup: { files: forged, meta: { files: forged } } });
    const p = planRollback(f);
    expect(p.status).toBe('blocked');
    expect(blocks(p)).toContain('backup-mismatch');
  });

  it('refuses when a host has no backup of the run, or a host is unreachable', () => {
    const f = input({ unreachable: [{ host: 'n1', message: 'connect ECONNREFUSED' }] });
    f.facts.n2 = hostAfterRun('n2', { backup: { exists: false, verified: false, problem: 'does not exist', files: [] } });
    delete f.facts.n1;
    const p = planRollback(f);
    expect(blocks(p).sort()).toEqual(['backup-missing', 'unreachable']);
  });

  it('with --from-backup the before-state comes from each backup\'s metadata', () => {
    const f = input({ source: 'backup' });
    delete f.journal;
    const p = planRollback(f);
    expect(p.status).toBe('ready');
    expect(p.source).toBe('backup');
    expect(p.before.n3!.files).toEqual(OLD);
  });

  it('removes what the run created, but refuses a file it did not create (the cert dir could not be as before)', () => {
    const f = input();
    f.facts.n1 = hostAfterRun('n1', { current: [...NEW, file('.etcd.pem.certroll-' + RUN, 'staged')] });
    const p = planRollback(f);
    const r = p.steps.find((s) => s.type === 'restore')!.actions.find((a) => a.host === 'n1')!;
    expect(r.kind === 'restore' && r.removes).toEqual(['.etcd.pem.certroll-' + RUN]);
    expect(p.status).toBe('ready');
    f.facts.n1 = hostAfterRun('n1', { current: [...NEW, file('notes.txt', 'mine')] });
    expect(blocks(planRollback(f))).toEqual(['foreign-file']);
  });

  it('refuses while another run holds the lock, naming it; --break-lock makes it a warning', () => {
    const f = input();
    f.facts.n2 = hostAfterRun('n2', { lock: { runId: RUN, startedAt: '2026-11-23T09:43:00Z', controlHost: 'ops-1' } });
    const p = planRollback(f);
    expect(blocks(p)).toEqual(['lock-held']);
    expect(p.reasons[0]).toMatch(/run 20261123T094300Z-a1b2c3, started .* from ops-1\); is that run still going\? if it died, pass --break-lock/);
    const q = planRollback({ ...f, breakLock: true });
    expect(q.status).toBe('ready');
    expect(q.warnings.find((w) => w.code === 'lock-held')!.level).toBe('warn');
  });

  it('refuses when an etcd manifest is not in place (a node left stopped)', () => {
    const f = input();
    f.facts.n3 = hostAfterRun('n3', { inPlace: ['tos-apiserver.manifest'] });
    expect(blocks(planRollback(f))).toEqual(['manifest-not-in-place']);
  });

  it('leaves hosts the run did not back up alone (journal mode)', () => {
    const f = input({ inventory: inventory(['n1', 'n2', 'n3'], { manager: ['m1'] }) });
    const p = planRollback(f);
    expect(p.status).toBe('ready');
    expect(p.skipped.map((s) => s.host)).toEqual(['m1']);
    expect(p.hosts).toEqual(['n1', 'n2', 'n3']);
  });

  it('an unhealthy cluster is a warning, not a block (rollback may be what repairs it)', () => {
    const p = planRollback(input({ etcd: etcd('n2', ['n3']) }));
    expect(p.status).toBe('ready');
    expect(p.warnings.map((w) => w.code)).toContain('cluster-unhealthy');
  });

  it('prints like a plan and never prints file contents', () => {
    const text = renderRollbackPlan(planRollback(input()), palette(false));
    expect(text).toMatch(/Rollback rb1 of run 20261123T094300Z-a1b2c3/);
    // The three hosts restore alike: one line for all of them.
    expect(text).toMatch(/n1–n3: restore \/srv\/kubernetes from \/srv\/kubernetes-bak-/);
    expect(text).toMatch(/n2: \(leader, last\) one at a time/);
    expect(text).not.toContain('old-key');
  });
});

describe('rollback plan: the Manager (issue 6)', () => {
  const withManager = (t: RollbackHostFacts['managerTemplates'], passwordSet = true) => {
    const f = input({ inventory: inventory(['n1', 'n2', 'n3'], { manager: ['m1'] }), manager: { templateHosts: ['m1'], dbHost: 'm1', table: 'manager_info', passwordEnv: 'CERTROLL_DB_PASSWORD', passwordSet } });
    f.journal!.backedUp.push('m1');
    f.journal!.before.m1 = { files: OLD };
    f.facts.m1 = { ...hostAfterRun('m1'), ...(t ? { managerTemplates: t } : {}) };
    return planRollback(f);
  };
  const dir = `/srv/kubernetes-manager-bak-${RUN}`;

  it('restores the template files from their verified backup and the DB rows from the backup table', () => {
    const p = withManager({ dir, found: true, verified: true, files: 2 });
    expect(p.status).toBe('ready');
    expect(p.steps.find((s) => s.type === 'manager-restore')!.actions.map((a) => a.kind)).toEqual(['restore-templates', 'restore-db']);
  });

  it('refuses before touching any host when the template backup does not verify', () => {
    expect(blocks(withManager({ dir, found: true, verified: false, problem: 'a file does not match', files: 2 }))).toEqual(['backup-corrupt']);
  });

  it('notes a run that stopped before changing the templates; refuses without the DB password', () => {
    const p = withManager({ dir, found: false, verified: false, files: 0 }, false);
    expect(p.steps.find((s) => s.type === 'manager-restore')!.notes.join('\n')).toMatch(/no Manager template backup/);
    expect(blocks(p)).toEqual(['db-password-missing']);
    expect(p.reasons[0]).toMatch(/\$CERTROLL_DB_PASSWORD is not set/);
  });
});

describe('diffState', () => {
  it('reports missing, extra, content, mode and owner differences', () => {
    const d = diffState({ files: OLD }, { files: [OLD[0]!, file('etcd.pem', 'x'), { ...OLD[2]!, mode: 0o644 }, { ...OLD[3]!, uid: 5 }, file('new.pem', 'n')] });
    expect(d.map((x) => `${x.path}:${x.what}`)).toEqual(['etcd.pem:content', 'etcd-key.pem:mode', 'apiserver.pem:owner', 'new.pem:extra']);
    expect(diffState({ files: OLD }, { files: OLD.slice(1) }).map((x) => x.what)).toEqual(['missing']);
    expect(diffState({ files: OLD }, { files: [...OLD].reverse() })).toEqual([]);
  });
});

describe('nextRollbackNode', () => {
  it('restarts a member that is down first (no quorum precheck), then followers, the leader last', () => {
    expect(nextRollbackNode(['n1', 'n2', 'n3'], 'n1', new Set(['n3']))).toEqual({ host: 'n3', skipQuorumCheck: true });
    expect(nextRollbackNode(['n1', 'n2'], 'n1', new Set())).toEqual({ host: 'n2', skipQuorumCheck: false });
    expect(nextRollbackNode(['n1'], 'n1', new Set())).toEqual({ host: 'n1', skipQuorumCheck: false });
  });
});

describe('rollback plan of the kubeadm restart (pods)', () => {
  it('restarts the nodes of the restart step\'s targets in the run\'s order (a parked node first, the leader last), pod by pod', async () => {
    const k = await loadPlaybook('test/fixtures/playbooks/kubeadm-restart.yaml');
    const pods = ['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml'];
    const inv = { ...inventory(['n1', 'n2', 'n3']) };
    inv.groups = { ...inv.groups, 'control-plane': ['n1', 'n2', 'n3'] };
    const parked = { ...hostAfterRun('n3', { inPlace: pods.filter((m) => m !== 'kube-apiserver.yaml') }) };
    parked.manifests = { inPlace: parked.manifests.inPlace, parked: ['kube-apiserver.yaml'], markers: [{ file: 'kube-apiserver.yaml.certroll-park', readable: true, runId: RUN, host: 'n3', manifest: 'kube-apiserver.yaml', from: '/m/kube-apiserver.yaml', to: '/p/kube-apiserver.yaml', sha256: 'x', parkedAt: 'now' }] };
    const p = planRollback(input({ playbook: k, inventory: inv, facts: { n1: hostAfterRun('n1', { inPlace: pods }), n2: hostAfterRun('n2', { inPlace: pods }), n3: parked } }));
    expect(p.restartOrder).toEqual(['n3', 'n1', 'n2']);
    const step = p.steps.find((s) => s.type === 'restart-restored')!;
    expect(step.title).toBe('rolling restart of the static pods');
    const a = step.actions[0]!;
    expect(a.kind === 'restart' && [a.manifests, a.oneByOne, a.parked?.runIds, a.checksAfter[0]]).toEqual([pods, true, [RUN], 'etcd: a new container running, etcd member healthy with the restored certificates, raft index within 50 of the leader']);
  });
});
