// The rollback's step types: apply halves the one engine (src/apply/engine.ts) runs, over actions the rollback planner
// (src/rollback/plan.ts) decides from what it read on the hosts. In plan order: take-lock, verify-backup (every host
// before any is touched), restore-kube-config (src/steps/restore-kube-config.ts), restore, manager-restore, restart-restored (the same restartOne as `run`), check-restored, and
// the final cleanup phase (also a run's end: staged files deleted after a failure, locks released).
import { SafetyStop } from '../errors.js';
import type { Host } from '../inventory/types.js';
import type { Action, PlannedStep } from '../plan/types.js';
import type { Playbook, RollingRestartStep } from '../playbook/types.js';
import { diffState } from '../plan/before-state.js';
import { endpointOf } from '../inventory/targets.js';
import { queryCluster } from '../facts/etcd-cluster.js';
import { inspectTemplatesBackup, restoreManagerTemplates } from '../manager/templates.js';
import { restoreManagerDb } from '../manager/db.js';
import { managerDbPassword } from '../manager/mysql.js';
import { lockOwner, releaseHost, takeLock } from './lock.js';
import { restoreCertDir } from './restore.js';
import { restoreKubeConfigStep } from './restore-kube-config.js';
import { nextNode, restartOne, type RestartContext } from './rolling-restart.js';
import { readCertDir, readRollbackHost } from './rollback-read.js';
import type { ApplyContext, ApplyHalf, WorkItem } from './types.js';

type Of<K extends Action['kind']> = Extract<Action, { kind: K }>;
const of = <K extends Action['kind']>(step: PlannedStep, k: K) => step.actions.filter((a): a is Of<K> => a.kind === k);
const hostOf = (ctx: ApplyContext, name: string): Host => ctx.inventory.hosts.find((h) => h.name === name)!;
/** The run a rollback undoes (its backups, park markers and Manager backups are named after it). */
const undoneRun = (ctx: ApplyContext) => ctx.plan.rollbackOf ?? ctx.runId;
/** Every step of a rollback stops the ones after it: nothing runs on a half-verified or half-restored fleet. */
const before = ['take-lock', 'verify-backup', 'restore-kube-config', 'restore', 'manager-restore', 'restart-restored', 'check-restored'] as const;
const after = (i: number) => [...before.slice(0, i)];

/** The find -name pattern of a rollback's restore staging files (src/steps/restore.ts restoreScript). */
export const restoreStagedPattern = (rollbackId: string) => `.*.certroll-restore-${rollbackId}`;

/** The rolling-restart step of the playbook (its parameters drive the rollback's restart), if any. */
export function restartSpecOf(playbook: Playbook): RollingRestartStep | undefined {
  return playbook.steps.find((s): s is RollingRestartStep & { at: { file: string }; title: string } => s.type === 'rolling-restart');
}

/**
 * The next etcd node to restart during a rollback: a member that is down or unhealthy first (restarting it cannot cost
 * quorum, so its quorum precheck is skipped), then followers, the leader last.
 */
export function nextRollbackNode(remaining: string[], leader: string | undefined, unhealthy: ReadonlySet<string>): { host: string; skipQuorumCheck: boolean } {
  const down = remaining.find((h) => unhealthy.has(h));
  if (down) return { host: down, skipQuorumCheck: true };
  return { host: nextNode(remaining, leader), skipQuorumCheck: false };
}

const perHost = <K extends Action['kind']>(step: PlannedStep, k: K, run: (a: Of<K>, report: (m: string) => void) => Promise<void>): WorkItem[] =>
  of(step, k).map((a) => ({ title: a.host, host: a.host, run: (report) => run(a, report) }));

export const takeLockStep: ApplyHalf = {
  type: 'take-lock',
  needs: [],
  changesLiveState: false,
  apply: (step, _spec, ctx) => ({
    concurrent: true,
    items: perHost(step, 'lock', async (a, report) => {
      // The same lock directory and owner file as `run` (owner.json also says kind: rollback and which run it undoes).
      await takeLock(ctx.remote(a.host), hostOf(ctx, a.host).vars.certDir, lockOwner(ctx), ctx.options.breakLock || Boolean(a.takeOver));
      ctx.locked.add(a.host);
      report('lock taken');
    }),
  }),
};

export const verifyBackupStep: ApplyHalf = {
  type: 'verify-backup',
  needs: after(1),
  changesLiveState: false,
  apply: (step, _spec, ctx) => ({
    concurrent: true,
    items: perHost(step, 'verify-backup', async (a, report) => {
      const f = await readRollbackHost(ctx.remote(a.host), hostOf(ctx, a.host), ctx.playbook, undoneRun(ctx));
      const hint = 'no host has been touched; inspect the backup by hand';
      if (!f.backup.verified) throw new SafetyStop('backup-corrupt', `${a.host}: the backup ${a.backupDir} does not verify: ${f.backup.problem}`, hint, a.host);
      const d = diffState({ files: a.expected }, { files: f.backup.files });
      if (d.length) throw new SafetyStop('backup-mismatch', `${a.host}: ${a.backupDir} changed since the rollback was planned: ${d.slice(0, 3).map((x) => x.detail).join('; ')}`, hint, a.host);
      if (a.templatesDir) {
        const t = await inspectTemplatesBackup(ctx.remote(a.host), a.templatesDir);
        if (!t?.verified) throw new SafetyStop('backup-corrupt', `${a.host}: the Manager template backup ${a.templatesDir} does not verify: ${t?.problem ?? 'it is gone'}`, hint, a.host);
      }
      report(`${a.expected.length} files verified by sha256`);
    }),
  }),
};

export const restoreStep: ApplyHalf = {
  type: 'restore',
  needs: after(3),
  changesLiveState: true,
  apply: (step, _spec, ctx) => ({
    concurrent: true,
    items: perHost(step, 'restore', async (a, report) => {
      const v = ctx.inventory.hosts.find((h) => h.name === a.host)!.vars;
      const r = await restoreCertDir(ctx.remote(a.host), { certDir: a.to, backupDir: a.from, tag: ctx.runId, managed: Object.values(ctx.playbook.files), park: { parkDir: v.parkDir, manifestsDir: v.manifestsDir } }, report);
      ctx.results?.restored.push({ host: a.host, ...r });
      await ctx.journalNote?.({ event: 'host-restored', host: a.host, message: `${r.files} files${r.removed.length ? `; removed ${r.removed.join(', ')}` : ''}` });
    }),
  }),
};

export const managerRestoreStep: ApplyHalf = {
  type: 'manager-restore',
  needs: after(4),
  changesLiveState: true,
  apply: (step, _spec, ctx) => ({
    concurrent: false,
    items: step.actions.flatMap((a): WorkItem[] => {
      if (a.kind === 'restore-templates')
        return [{
          title: `${a.host}: templates`,
          host: a.host,
          run: async (report) => {
            const r = await restoreManagerTemplates(ctx.remote(a.host), { certDir: hostOf(ctx, a.host).vars.certDir, runId: undoneRun(ctx) });
            ctx.results?.manager.push({ host: a.host, what: 'templates', found: r.found, restored: r.restored, removed: r.removed });
            await ctx.journalNote?.({ event: 'manager-templates-restored', host: a.host, message: `${r.restored.length} restored, ${r.removed.length} removed` });
            report(r.found ? `templates restored (${r.restored.length} files${r.removed.length ? `, removed ${r.removed.length}` : ''})` : 'no template backup: nothing to restore');
          },
        }];
      if (a.kind === 'restore-db')
        return [{
          title: `${a.host}: ${a.table}`,
          host: a.host,
          run: async (report) => {
            const db = hostOf(ctx, a.host).vars.managerDb;
            const password = db ? managerDbPassword(db, ctx.env) : null;
            if (!db || !password) throw new SafetyStop('db-password-missing', `${a.host}: no Manager DB settings or password to restore ${a.table}`, `set $${db?.passwordEnv ?? 'CERTROLL_DB_PASSWORD'} and run the rollback again`, a.host);
            const r = await restoreManagerDb(ctx.remote(a.host), { db, password, runId: undoneRun(ctx), table: a.table });
            ctx.results?.manager.push({ host: a.host, what: 'db', found: r.found, restored: r.restored });
            await ctx.journalNote?.({ event: 'manager-db-restored', host: a.host, message: r.found ? r.restored.join(', ') : 'no backup table' });
            report(r.found ? `rows ${r.restored.join(', ')} restored from ${r.backup}` : `no backup table ${r.backup}: nothing to restore`);
          },
        }];
      return [];
    }),
  }),
};

/**
 * The rolling restart of the restored members, one at a time through the same restartOne as `run`: a member left parked
 * by the run goes first (its manifests put back), then any unhealthy member (no quorum precheck: it is down already),
 * then followers, the leader last; the order is re-decided from the cluster before each node.
 */
export const restartRestoredStep: ApplyHalf = {
  type: 'restart-restored',
  needs: after(5),
  changesLiveState: true,
  apply(step, _spec, ctx) {
    const spec = restartSpecOf(ctx.playbook);
    const planned = of(step, 'restart');
    if (!spec || !planned.length) return { concurrent: false, items: [] };
    const remaining = planned.map((a) => a.host);
    // Park markers and restore hints name the run being undone.
    const rctx: RestartContext = { ...ctx, runId: undoneRun(ctx) };
    const items: WorkItem[] = planned.map((_, i) => ({
      title: `node ${i + 1}/${planned.length}`,
      run: async (report) => {
        const pre = await queryCluster(rctx, remaining[0]!);
        const unhealthy = new Set(
          remaining.filter((h) => {
            const hh = pre.health.find((x) => x.endpoint === endpointOf(hostOf(ctx, h)));
            return hh !== undefined && !hh.healthy;
          }),
        );
        const parked = planned.find((p) => p.parked && remaining.includes(p.host));
        const next = parked ? { host: parked.host, skipQuorumCheck: true } : nextRollbackNode(remaining, pre.leaderHost, unhealthy);
        remaining.splice(remaining.indexOf(next.host), 1);
        const leader = next.host === pre.leaderHost;
        report(`${next.host}${leader ? ' (leader)' : ''}${next.skipQuorumCheck ? (parked ? ' (parked by the run: put back first)' : ' (unhealthy: restarted first)') : ''}: checking cluster health and quorum`);
        const action = { ...planned.find((p) => p.host === next.host)!, order: i + 1, leader };
        const timing = await restartOne(rctx, spec, action, report, { skipQuorumCheck: next.skipQuorumCheck });
        ctx.results?.restarted.push({ host: next.host, leader, timing });
        await ctx.journalNote?.({ event: 'node-restarted', host: next.host, message: leader ? 'leader' : 'follower' });
        report(`${next.host}: healthy with the restored certificates and caught up`);
      },
    }));
    return { concurrent: false, items };
  },
};

export const checkRestoredStep: ApplyHalf = {
  type: 'check-restored',
  needs: after(6),
  changesLiveState: false,
  apply: (step, _spec, ctx) => ({
    concurrent: true,
    items: perHost(step, 'check-restored', async (a, report) => {
      const now = await readCertDir(ctx.remote(a.host), hostOf(ctx, a.host));
      const d = diffState(a.expected, now).filter((x) => x.what !== 'dir-mode' && x.what !== 'dir-owner');
      if (d.length)
        throw new SafetyStop('not-as-before', `${a.host}: the cert dir is not as before run ${undoneRun(ctx)}: ${d.slice(0, 5).map((x) => x.detail).join('; ')}${d.length > 5 ? ` (+${d.length - 5} more)` : ''}`, `compare by hand with ${a.backupDir}`, a.host);
      report(`all ${now.files.length} files as before the run (sha256, mode and owner)`);
    }),
  }),
};

/** The final phase: it runs whatever happened before it (a failure, an interrupt); it never fails. */
export const cleanupStep: ApplyHalf = {
  type: 'cleanup',
  needs: [],
  changesLiveState: false,
  always: true,
  apply: (step, _spec, ctx) => ({
    concurrent: true,
    items: perHost(step, 'release', async (a, report) => {
      if (!ctx.remotes.has(a.host)) return report('not connected: nothing to release');
      const did = await releaseHost(ctx.remote(a.host), { dir: a.dir, staged: a.staged, runId: ctx.runId, deleteStaged: ctx.failed?.() ?? false, holdsLock: ctx.locked.has(a.host) });
      ctx.locked.delete(a.host);
      report(did);
    }),
  }),
};

export const rollbackSteps = [takeLockStep, verifyBackupStep, restoreKubeConfigStep, restoreStep, managerRestoreStep, restartRestoredStep, checkRestoredStep, cleanupStep];
