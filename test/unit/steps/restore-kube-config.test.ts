// The rollback's restore-kube-config step: the planning as a pure function (which ~/.kube copies are put back, which are
// left with a warning), its place in the rollback plan, and the facts script and apply half with the real shell
// (LocalRemote) over a temporary tree where refresh-kube-config itself replaced the copies first.
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Workdir } from '../pki/fixtures.js';
import { LocalRemote } from '../../support/local-remote.js';
import { kubeconfigText, makeCa, makeClient } from '../../support/kubeconfig-fixtures.js';
import { kubeconfigCopiesScript, parseKubeconfigCopies, type KubeconfigCopiesQuery } from '../../../src/facts/kubeconfig-copies.js';
import { planRefreshHost, refreshKubeConfig } from '../../../src/steps/refresh-kube-config.js';
import {
  kubeCopiesScript,
  parseKubeCopies,
  planKubeconfigRestore,
  restoreKubeConfigStep,
  type KubeCopiesQuery,
  type KubeCopiesRollbackFacts,
  type KubeCopyFact,
  type RestoreKubeconfigAction,
} from '../../../src/steps/restore-kube-config.js';
import { rewriteClientCredentials } from '../../../src/pki/kubeconfig.js';
import { planRollback } from '../../../src/rollback/plan.js';
import { journaledCopies } from '../../../src/rollback/target.js';
import { renderRollbackPlan } from '../../../src/rollback/render.js';
import { palette } from '../../../src/render/text.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import { inventory } from '../plan/fake-fleet.js';
import type { ApplyContext, Phase } from '../../../src/steps/types.js';
import type { PlannedStep } from '../../../src/plan/types.js';
import type { Playbook, RefreshKubeConfigStep } from '../../../src/playbook/types.js';
import type { RollbackHostFacts } from '../../../src/rollback/types.js';

const RUN = '20261202T160000Z-abc123';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const A = '/etc/kubernetes/admin.conf';
const stat = (content: string, mode = 0o600, uid = 0, gid = 0) => ({ state: 'file' as const, sha256: sha(content), mode, uid, gid });
const copy = (path: string, now: KubeCopyFact['file'], backup: KubeCopyFact['backupFile']): KubeCopyFact => ({ path, backup: `${path}.certroll-bak-${RUN}`, file: now, backupFile: backup });
const facts = (copies: KubeCopyFact[], over: Partial<KubeCopiesRollbackFacts> = {}): KubeCopiesRollbackFacts => ({
  host: 'cp1',
  source: 'backup',
  adminConf: { path: A, ...stat('renewed') },
  dirs: ['/root/.kube', '/home/ops/.kube'],
  copies,
  ...over,
});

describe('planKubeconfigRestore (pure)', () => {
  it('puts back a copy still holding what the run wrote, with its backup\'s mode and owner', () => {
    const p = planKubeconfigRestore({ host: 'cp1', runId: RUN, facts: facts([copy('/root/.kube/config', stat('renewed'), stat('old')), copy('/home/ops/.kube/config', stat('renewed'), stat('old-lb', 0o644, 1000, 1001))]) });
    expect(p.warnings).toEqual([]);
    expect(p.actions).toEqual<RestoreKubeconfigAction[]>([
      { kind: 'restore-kubeconfig', host: 'cp1', path: '/root/.kube/config', backup: `/root/.kube/config.certroll-bak-${RUN}`, sha256: sha('renewed'), backupSha256: sha('old'), mode: 0o600, uid: 0, gid: 0 },
      { kind: 'restore-kubeconfig', host: 'cp1', path: '/home/ops/.kube/config', backup: `/home/ops/.kube/config.certroll-bak-${RUN}`, sha256: sha('renewed'), backupSha256: sha('old-lb'), mode: 0o644, uid: 1000, gid: 1001 },
    ]);
  });

  it('leaves a copy changed since the run, gone, or only re-moded, with a warning saying how to put it back by hand', () => {
    const p = planKubeconfigRestore({
      host: 'cp1',
      runId: RUN,
      facts: facts([
        copy('/root/.kube/config', stat('renewed + edited'), stat('old')),
        copy('/root/.kube/gone', { state: 'missing' }, stat('old')),
        copy('/root/.kube/moded', stat('old', 0o644), stat('old')),
        copy('/root/.kube/link', { state: 'other' }, stat('old')),
      ]),
    });
    expect(p.actions).toEqual([]);
    expect(p.warnings.map((w) => [w.level, w.code])).toEqual([['warn', 'kubeconfig-changed'], ['warn', 'kubeconfig-gone'], ['warn', 'kubeconfig-changed'], ['warn', 'kubeconfig-changed']]);
    expect(p.warnings[0]!.message).toBe(
      `cp1: /root/.kube/config changed since run ${RUN} replaced it (it is neither the renewed ${A} nor its backup): left as it is; to put it back by hand: cmp the backup with what you expect, then cp -p /root/.kube/config.certroll-bak-${RUN} /root/.kube/config`,
    );
    expect(p.warnings[2]!.message).toMatch(/holds its content from before run .* but its mode or owner changed since/);
  });

  it('is idempotent: a copy already as its backup (content, mode, owner) is a note, not an action', () => {
    const p = planKubeconfigRestore({ host: 'cp1', runId: RUN, facts: facts([copy('/root/.kube/config', stat('old'), stat('old'))]) });
    expect(p.actions).toEqual([]);
    expect(p.warnings).toEqual([]);
    expect(p.notes).toEqual([`cp1: /root/.kube/config: already as before run ${RUN} (content, mode and owner of config.certroll-bak-${RUN}): nothing to do`]);
  });

  it('with the journal: a copy without a backup was not replaced; a backup not holding the file from before the run is a warning', () => {
    const journaled = [
      { host: 'cp1', path: '/root/.kube/config', backup: `/root/.kube/config.certroll-bak-${RUN}`, from: A, sha256: sha('old') },
      { host: 'cp1', path: '/root/.kube/other', backup: `/root/.kube/other.certroll-bak-${RUN}`, from: A, sha256: sha('old') },
    ];
    const p = planKubeconfigRestore({
      host: 'cp1',
      runId: RUN,
      journaled,
      facts: facts([copy('/root/.kube/config', stat('renewed'), stat('tampered')), copy('/root/.kube/other', stat('old'), { state: 'missing' })], { source: 'journal', dirs: [] }),
    });
    expect(p.actions).toEqual([]);
    expect(p.warnings.map((w) => w.code)).toEqual(['kubeconfig-backup-mismatch']);
    expect(p.notes).toEqual([`cp1: /root/.kube/other: no backup other.certroll-bak-${RUN}: run ${RUN} did not replace it, nothing to put back`]);
    const ok = planKubeconfigRestore({ host: 'cp1', runId: RUN, journaled, facts: facts([copy('/root/.kube/config', stat('renewed'), stat('old'))], { source: 'journal' }) });
    expect(ok.actions.map((a) => a.path)).toEqual(['/root/.kube/config']);
  });

  it('when admin.conf cannot be read, or the scan failed, nothing is put back and a warning says so', () => {
    const noAdmin = planKubeconfigRestore({ host: 'cp1', runId: RUN, facts: facts([copy('/root/.kube/config', stat('renewed'), stat('old'))], { adminConf: { path: A, state: 'missing' } }) });
    expect(noAdmin.actions).toEqual([]);
    expect(noAdmin.warnings[0]!.message).toMatch(/admin\.conf is missing, so whether \/root\/\.kube\/config is still what run .* wrote cannot be told/);
    const failed = planKubeconfigRestore({ host: 'cp1', runId: RUN, facts: facts([], { error: 'timed out' }) });
    expect(failed.warnings.map((w) => [w.level, w.code])).toEqual([['warn', 'kubeconfig-restore-scan']]);
    const none = planKubeconfigRestore({ host: 'cp1', runId: RUN, facts: facts([]) });
    expect(none.notes).toEqual([`cp1: no ~/.kube backup of run ${RUN} in /root/.kube, /home/ops/.kube: nothing to put back`]);
  });
});

describe('the rollback plan with ~/.kube copies', () => {
  let pb: Playbook;
  beforeAll(async () => {
    pb = await loadPlaybook('playbooks/tos-etcd-renew.yaml');
  });
  const f = (file: string, content: string) => ({ path: file, sha256: sha(content), mode: 0o644, uid: 0, gid: 0, size: content.length });
  const OLD = [f('a.pem', 'old')];
  const host = (name: string): RollbackHostFacts => ({
    host: name,
    certDir: '/srv/kubernetes',
    backupDir: `/srv/kubernetes-bak-${RUN}`,
    backup: { exists: true, verified: true, metaRunId: RUN, meta: { files: OLD }, files: OLD },
    current: { exists: true, files: [f('a.pem', 'new')] },
    lock: null,
    manifests: { inPlace: ['tos-etcd.manifest', 'tos-apiserver.manifest'], parked: [] },
  });
  const input = (kube: Record<string, KubeCopiesRollbackFacts>) => ({
    inventory: inventory(['n1', 'n2', 'n3']),
    playbook: pb,
    rollbackId: 'rb1',
    rollbackOf: RUN,
    now: new Date('2026-12-03T00:00:00Z'),
    source: 'backup' as const,
    facts: { n1: host('n1'), n2: host('n2'), n3: host('n3') },
    unreachable: [],
    etcd: null,
    kubeconfigs: kube,
  });

  it('puts the copies back after every backup is verified and before the cert dirs are restored; a changed copy warns, never blocks', () => {
    const p = planRollback(
      input({
        n1: { ...facts([copy('/root/.kube/config', stat('renewed'), stat('old'))]), host: 'n1' },
        n2: { ...facts([copy('/root/.kube/config', stat('edited'), stat('old'))]), host: 'n2' },
      }),
    );
    expect(p.status).toBe('ready');
    expect(p.steps.map((s) => s.type)).toEqual(['take-lock', 'verify-backup', 'restore-kube-config', 'restore', 'manager-restore', 'restart-restored', 'check-restored', 'cleanup']);
    const step = p.steps.find((s) => s.type === 'restore-kube-config')!;
    expect(step.actions.map((a) => [a.host, a.kind])).toEqual([['n1', 'restore-kubeconfig']]);
    expect(p.warnings.filter((w) => w.code === 'kubeconfig-changed').map((w) => [w.level, w.host])).toEqual([['warn', 'n2']]);
    const text = renderRollbackPlan(p, palette(false));
    expect(text).toMatch(/put back the ~\/\.kube copies of admin\.conf the run replaced/);
    expect(text).toContain(`put /root/.kube/config back from config.certroll-bak-${RUN}`);
    expect(text).toMatch(/n2: \/root\/\.kube\/config changed since run/);
  });

  it('without kubeconfig facts (a TOS playbook) the plan has no such step; a host left alone gets none either', () => {
    expect(planRollback(input({})).steps.map((s) => s.type)).not.toContain('restore-kube-config');
    const p = planRollback({ ...input({ n1: { ...facts([copy('/root/.kube/config', stat('renewed'), stat('old'))]), host: 'n1' } }), limit: ['n2', 'n3'] });
    expect(p.steps.find((s) => s.type === 'restore-kube-config')!.actions).toEqual([]);
  });
});

describe('restore-kube-config with the real shell (after refresh-kube-config replaced the copies)', () => {
  const w = new Workdir();
  afterAll(() => w.remove());
  makeCa(w);
  const old = makeClient(w, 'old', 'kubernetes-admin');
  const renewed = makeClient(w, 'new', 'kubernetes-admin');
  const root = join(w.dir, 'host');
  const adminConf = join(root, 'etc', 'kubernetes', 'admin.conf');
  const rootKube = join(root, 'root', '.kube');
  const opsKube = join(root, 'home', 'ops', '.kube');
  const passwd = join(w.dir, 'passwd');
  const oldAdmin = kubeconfigText(w, [{ name: 'kubernetes-admin', ...old }]);
  const newAdmin = rewriteClientCredentials(oldAdmin, 'admin.conf', 'kubernetes-admin', { certPem: renewed.cert, keyPem: renewed.key }).reveal();
  const lbCopy = kubeconfigText(w, [{ name: 'kubernetes-admin', ...old }], { server: 'https://lb.example:6443' });
  const spec: RefreshKubeConfigStep = { type: 'refresh-kube-config', targets: ['control-plane'], adminConf };
  const remote = new LocalRemote('cp-1');
  const intents: string[] = [];
  const events: string[] = [];
  const RB = '20261203T010000Z-rb0001';
  const ctx = (runId: string) =>
    ({
      remote: () => remote,
      runId,
      journalIntent: async (e: { event: string; message?: string }) => void intents.push(`${e.event} ${e.message ?? ''}`),
      journalNote: async (e: { event: string; message?: string }) => void events.push(`${e.event} ${e.message ?? ''}`),
    }) as unknown as ApplyContext;
  const read = (p: string) => readFileSync(p, 'utf8');
  const owner = (p: string) => {
    const s = statSync(p);
    return { mode: s.mode & 0o7777, uid: s.uid, gid: s.gid };
  };
  const rootCopy = join(rootKube, 'config');
  const opsCopy = join(opsKube, 'config');
  const scan: KubeCopiesQuery = { adminConf, runId: RUN, users: ['ops'], alwaysDirs: [rootKube], passwdFile: passwd };

  /** The host after a run: refresh-kube-config replaced root's copy (0600 root) and ops's (0644, 1000:1001) by the renewed admin.conf. */
  async function afterRun(): Promise<void> {
    w.run('rm', ['-rf', root]);
    mkdirSync(join(root, 'etc', 'kubernetes'), { recursive: true });
    mkdirSync(rootKube, { recursive: true });
    mkdirSync(opsKube, { recursive: true });
    writeFileSync(adminConf, oldAdmin, { mode: 0o600 });
    writeFileSync(rootCopy, oldAdmin, { mode: 0o600 });
    writeFileSync(opsCopy, lbCopy);
    chmodSync(opsCopy, 0o644);
    chownSync(opsCopy, 1000, 1001);
    writeFileSync(passwd, `root:x:0:0:root:${join(root, 'root')}:/bin/sh\nops:x:1000:1000::${join(root, 'home', 'ops')}:/bin/sh\n`);
    const q: KubeconfigCopiesQuery = { adminConf, users: ['ops'], alwaysDirs: [rootKube], passwdFile: passwd };
    const f = parseKubeconfigCopies('cp-1', q, (await remote.sh(kubeconfigCopiesScript(q))).stdout);
    const p = planRefreshHost({ facts: f, adminConf, renewed: true, runId: RUN });
    writeFileSync(adminConf, newAdmin);
    const step: PlannedStep = { index: 6, type: 'refresh-kube-config', title: 'refresh', at: { file: 'x' }, hosts: ['cp-1'], actions: p.actions, notes: [] };
    await runStep(refreshKubeConfig.apply(step, spec, ctx(RUN)));
    expect(read(rootCopy)).toBe(newAdmin);
    expect(read(opsCopy)).toBe(newAdmin);
    intents.length = 0;
    events.length = 0;
    remote.log.length = 0;
  }
  async function runStep(phases: Phase | Phase[]): Promise<string[]> {
    const said: string[] = [];
    for (const p of ([] as Phase[]).concat(phases)) for (const item of p.items) await item.run((m) => said.push(m));
    return said;
  }
  async function planNow(q: KubeCopiesQuery = scan): Promise<PlannedStep & { warnings: string[] }> {
    const f = parseKubeCopies('cp-1', q, (await remote.sh(kubeCopiesScript(q))).stdout);
    const p = planKubeconfigRestore({ host: 'cp-1', runId: RUN, facts: f });
    return { index: 2, type: 'restore-kube-config', title: 'restore-kube-config', at: { file: 'x' }, hosts: ['cp-1'], actions: p.actions, notes: p.notes, warnings: p.warnings.map((x) => x.message) };
  }
  const apply = (step: PlannedStep) => runStep(restoreKubeConfigStep.apply(step, undefined as never, ctx(RB)));

  beforeEach(afterRun);

  it('finds the backups in root\'s and the users\' ~/.kube, puts every copy back byte for byte with mode and owner, journaled; a second pass does nothing', async () => {
    const step = await planNow();
    expect(step.warnings).toEqual([]);
    expect(step.actions.map((a) => (a as RestoreKubeconfigAction).path)).toEqual([rootCopy, opsCopy]);
    expect(await apply(step)).toEqual([`${rootCopy} put back from config.certroll-bak-${RUN} (mode 600, owner 0:0)`, `${opsCopy} put back from config.certroll-bak-${RUN} (mode 644, owner 1000:1001)`]);
    expect(read(rootCopy)).toBe(oldAdmin);
    expect(read(opsCopy)).toBe(lbCopy);
    expect(owner(rootCopy)).toEqual({ mode: 0o600, uid: 0, gid: 0 });
    expect(owner(opsCopy)).toEqual({ mode: 0o644, uid: 1000, gid: 1001 });
    // The backups stay (as the cert dir's does); no staged file is left.
    expect(readdirSync(opsKube).sort()).toEqual(['config', `config.certroll-bak-${RUN}`]);
    expect(intents.filter((i) => i.startsWith('intent'))).toEqual([
      `intent restore-kube-config: ${rootCopy} ← ${rootCopy}.certroll-bak-${RUN} (mode 600, owner 0:0)`,
      `intent restore-kube-config: ${opsCopy} ← ${opsCopy}.certroll-bak-${RUN} (mode 644, owner 1000:1001)`,
    ]);
    expect(events.map((e) => e.split(' ')[0])).toEqual(['kubeconfig-restored', 'kubeconfig-restored']);
    // No kubeconfig content in any script or stdin.
    for (const entry of remote.log) {
      expect(entry.stdin ?? '').toBe('');
      for (const k of [old, renewed]) expect(entry.script).not.toContain(Buffer.from(k.key.reveal()).toString('base64').slice(80, 120));
    }
    // Resumed with the same plan: already; planned again: nothing to do.
    expect(await apply(step)).toEqual([`${rootCopy} already as before the run (config.certroll-bak-${RUN})`, `${opsCopy} already as before the run (config.certroll-bak-${RUN})`]);
    const again = await planNow();
    expect(again.actions).toEqual([]);
    expect(again.notes).toHaveLength(2);
  });

  it('with the journal\'s candidates the same; a copy the user changed after the run is left alone with a warning', async () => {
    writeFileSync(opsCopy, newAdmin + '# my own line\n');
    const step = await planNow({ adminConf, runId: RUN, candidates: [rootCopy, opsCopy].map((p) => ({ path: p, backup: `${p}.certroll-bak-${RUN}` })) });
    expect(step.actions.map((a) => (a as RestoreKubeconfigAction).path)).toEqual([rootCopy]);
    expect(step.warnings).toEqual([`cp-1: ${opsCopy} changed since run ${RUN} replaced it (it is neither the renewed ${adminConf} nor its backup): left as it is; to put it back by hand: cmp the backup with what you expect, then cp -p ${opsCopy}.certroll-bak-${RUN} ${opsCopy}`]);
    await apply(step);
    expect(read(rootCopy)).toBe(oldAdmin);
    expect(read(opsCopy)).toBe(newAdmin + '# my own line\n');
  });

  it('a copy changed between plan and apply is left (said, journaled); a backup changed since the plan stops with nothing touched', async () => {
    const step = await planNow();
    writeFileSync(rootCopy, newAdmin + '# edited after the plan\n');
    const said = await apply(step);
    expect(said[0]).toBe(`${rootCopy} left as it is: ${rootCopy} changed since the plan (it is no longer what the run wrote); to put it back by hand: cmp the backup with what you expect, then cp -p ${rootCopy}.certroll-bak-${RUN} ${rootCopy}`);
    expect(events[0]).toMatch(/^kubeconfig-left /);
    expect(read(rootCopy)).toBe(newAdmin + '# edited after the plan\n');
    expect(read(opsCopy)).toBe(lbCopy);

    await afterRun();
    const again = await planNow();
    writeFileSync(`${rootCopy}.certroll-bak-${RUN}`, 'not the old file\n');
    await expect(apply(again)).rejects.toThrow(`the backup ${rootCopy}.certroll-bak-${RUN} changed since the plan: ${rootCopy} not touched`);
    expect(read(rootCopy)).toBe(newAdmin);
    expect(existsSync(join(rootKube, `.config.certroll-restore-${RB}`))).toBe(false);
  });
});

describe('journaledCopies: the copies a run planned to refresh, from plan.json and its resume plans', () => {
  it('takes each copy once, from the first plan naming it (its sha256 is the file before the run)', () => {
    const w = new Workdir();
    try {
      const act = (path: string, sha256: string) => ({ kind: 'refresh-kubeconfig', host: 'cp1', path, from: A, backup: `${path}.certroll-bak-${RUN}`, sha256, certSha256: 'c', mode: 0o600, uid: 0, gid: 0, matched: A });
      const plan = (actions: unknown[]) => ({ steps: [{ type: 'refresh-kube-config', actions }] });
      writeFileSync(join(w.dir, 'plan-resume-200.json'), JSON.stringify(plan([act('/root/.kube/b', 'b2'), act('/root/.kube/c', 'c2')])));
      writeFileSync(join(w.dir, 'plan-resume-100.json'), JSON.stringify(plan([act('/root/.kube/b', 'b1')])));
      writeFileSync(join(w.dir, 'plan-resume-300.json'), '{ not json');
      const got = journaledCopies(plan([act('/root/.kube/config', 'a0')]) as never, w.dir);
      expect(got.map((c) => [c.path, c.sha256, c.backup])).toEqual([
        ['/root/.kube/config', 'a0', `/root/.kube/config.certroll-bak-${RUN}`],
        ['/root/.kube/b', 'b1', `/root/.kube/b.certroll-bak-${RUN}`],
        ['/root/.kube/c', 'c2', `/root/.kube/c.certroll-bak-${RUN}`],
      ]);
      expect(journaledCopies(plan([]) as never, join(w.dir, 'absent'))).toEqual([]);
    } finally {
      w.remove();
    }
  });
});
