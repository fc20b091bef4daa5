// Executes a rollback plan as listr2 tasks: lock → verify every backup → restore → rolling restart → check as before; lock released at the end.
import type { ListrTask } from 'listr2';
import type * as listr2Module from 'listr2';
import { lazyRequire } from '../lazy.js';

const listr2 = lazyRequire<typeof listr2Module>('listr2');
import { topLevelListrOptions, type EngineEvent } from '../apply/engine.js';
import { hostInMessage } from '../apply/message-host.js';
import { releaseLock, takeLock } from '../steps/lock.js';
import { HostError, Interrupted, SafetyStop } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import type { Playbook } from '../playbook/types.js';
import type { Journal } from '../journal/journal.js';
import type { Remote } from '../ssh/remote.js';
import { sh } from '../ssh/quote.js';
import type { Scope } from '../playbook/template.js';
import { restoreHost } from '../steps/restore.js';
import { restartActionFor, restartOne, type RestartContext, type RestartTiming } from '../steps/rolling-restart.js';
import { queryCluster } from '../facts/etcd-cluster.js';
import { endpointOf } from '../inventory/targets.js';
import { readCertDir, readRollbackHost } from './gather.js';
import { diffState, nextRollbackNode, restartSpecOf } from './plan.js';
import type { RollbackAction, RollbackPlan, RollbackStep } from './types.js';
import { inspectTemplatesBackup, restoreManagerTemplates } from '../manager/templates.js';
import { restoreManagerDb } from '../manager/db.js';
import { managerDbPassword } from '../manager/mysql.js';

export interface RollbackContext {
  plan: RollbackPlan;
  inventory: Inventory;
  playbook: Playbook;
  remote(host: string): Remote;
  remotes: Map<string, Remote>;
  scope(name: string): Scope;
  signal: AbortSignal;
  journal: Journal;
  options: { breakLock: boolean; controlHost: string; user: string; pauseSeconds?: number };
  /** Replace a dropped connection; a parked node's restart retries for reconnectSeconds (src/steps/rolling-restart.ts). */
  reconnect?: (host: string) => Promise<Remote>;
  reconnectSeconds?: number;
}

export interface RollbackOptions {
  renderer: 'default' | 'simple' | 'silent';
  forks: number;
  /** The same events as the run engine's (src/apply/engine.ts), for the plain line log. */
  onEvent?: (e: EngineEvent) => void;
}

export interface RollbackResult {
  error?: unknown;
  /** The step where the rollback stopped, when it did not finish. */
  stoppedAt?: string;
  restarted: Array<{ host: string; leader: boolean; timing: RestartTiming }>;
  restored: Array<{ host: string; files: number; removed: string[] }>;
  /** Manager templates and DB rows put back (issue 6). */
  manager: Array<{ host: string; what: 'templates' | 'db'; found: boolean; restored: string[]; removed?: string[] }>;
}

type Item = { title: string; host?: string; run: (report: (m: string) => void) => Promise<void> };

/** Take this rollback's lock on a host (the same lock directory and owner file as `run`). */
async function takeRollbackLock(ctx: RollbackContext, host: string): Promise<void> {
  const h = ctx.inventory.hosts.find((x) => x.name === host)!;
  const owner = { runId: ctx.plan.rollbackId, startedAt: ctx.plan.createdAt, controlHost: ctx.options.controlHost, user: ctx.options.user, kind: 'rollback', rollbackOf: ctx.plan.rollbackOf };
  await takeLock(ctx.remote(host), h.vars.certDir, owner, ctx.options.breakLock || Boolean(ctx.plan.takeOver?.includes(host)));
}

function itemsOf(ctx: RollbackContext, step: RollbackStep, result: RollbackResult, locked: Set<string>): Item[] {
  const host = (name: string) => ctx.inventory.hosts.find((h) => h.name === name)!;
  const managed = Object.values(ctx.playbook.files);
  const backupOf = (name: string) => ctx.plan.steps.flatMap((s) => s.actions).find((x): x is Extract<RollbackAction, { kind: 'restore' }> => x.kind === 'restore' && x.host === name)?.from ?? 'the backup';
  const of = <K extends RollbackAction['kind']>(k: K) => step.actions.filter((a): a is Extract<RollbackAction, { kind: K }> => a.kind === k);
  switch (step.id) {
    case 'lock':
      return of('lock').map((a) => ({
        title: a.host,
        host: a.host,
        run: async (report) => {
          await takeRollbackLock(ctx, a.host);
          locked.add(a.host);
          report('lock taken');
        },
      }));
    case 'verify':
      return of('verify-backup').map((a) => ({
        title: a.host,
        host: a.host,
        run: async (report) => {
          const f = await readRollbackHost(ctx.remote(a.host), host(a.host), ctx.playbook, ctx.plan.rollbackOf);
          const before = ctx.plan.before[a.host]!;
          if (!f.backup.verified) throw new SafetyStop('backup-corrupt', `${a.host}: the backup ${a.backupDir} does not verify: ${f.backup.problem}`, 'no host has been touched; inspect the backup by hand', a.host);
          const d = diffState({ files: before.files }, { files: f.backup.files });
          if (d.length) throw new SafetyStop('backup-mismatch', `${a.host}: ${a.backupDir} changed since the rollback was planned: ${d.slice(0, 3).map((x) => x.detail).join('; ')}`, 'no host has been touched; inspect the backup by hand', a.host);
          const tpl = ctx.plan.steps.flatMap((s) => s.actions).find((x): x is Extract<RollbackAction, { kind: 'manager-templates' }> => x.kind === 'manager-templates' && x.host === a.host);
          if (tpl) {
            const t = await inspectTemplatesBackup(ctx.remote(a.host), tpl.backupDir);
            if (!t?.verified) throw new SafetyStop('backup-corrupt', `${a.host}: the Manager template backup ${tpl.backupDir} does not verify: ${t?.problem ?? 'it is gone'}`, 'no host has been touched; inspect the backup by hand', a.host);
          }
          report(`${before.files.length} files verified by sha256`);
        },
      }));
    case 'restore':
      return of('restore').map((a) => ({
        title: a.host,
        host: a.host,
        run: async (report) => {
          if (ctx.signal.aborted) throw new Interrupted(`stopped before restoring ${a.host}`);
          const r = await restoreHost(ctx.remote(a.host), a.to, a.from, ctx.plan.rollbackId, managed);
          result.restored.push({ host: a.host, ...r });
          await ctx.journal.event({ event: 'host-restored', host: a.host, message: `${r.files} files${r.removed.length ? `; removed ${r.removed.join(', ')}` : ''}` });
          report(`restored ${r.files} files${r.removed.length ? `, removed ${r.removed.join(', ')}` : ''}`);
        },
      }));
    case 'manager':
      return step.actions.flatMap((a): Item[] => {
        if (a.kind === 'manager-templates')
          return [{
            title: `${a.host}: templates`,
            host: a.host,
            run: async (report) => {
              const r = await restoreManagerTemplates(ctx.remote(a.host), { certDir: host(a.host).vars.certDir, runId: ctx.plan.rollbackOf });
              result.manager.push({ host: a.host, what: 'templates', found: r.found, restored: r.restored, removed: r.removed });
              await ctx.journal.event({ event: 'manager-templates-restored', host: a.host, message: `${r.restored.length} restored, ${r.removed.length} removed` });
              report(r.found ? `templates restored (${r.restored.length} files${r.removed.length ? `, removed ${r.removed.length}` : ''})` : 'no template backup: nothing to restore');
            },
          }];
        if (a.kind === 'manager-db')
          return [{
            title: `${a.host}: ${a.table}`,
            host: a.host,
            run: async (report) => {
              const db = host(a.host).vars.managerDb;
              const password = db ? managerDbPassword(db) : null;
              if (!db || !password) throw new SafetyStop('db-password-missing', `${a.host}: no Manager DB settings or password to restore ${a.table}`, `set $${db?.passwordEnv ?? 'CERTROLL_DB_PASSWORD'} and run the rollback again`, a.host);
              const r = await restoreManagerDb(ctx.remote(a.host), { db, password, runId: ctx.plan.rollbackOf, table: a.table });
              result.manager.push({ host: a.host, what: 'db', found: r.found, restored: r.restored });
              await ctx.journal.event({ event: 'manager-db-restored', host: a.host, message: r.found ? r.restored.join(', ') : 'no backup table' });
              report(r.found ? `rows ${r.restored.join(', ')} restored from ${r.backup}` : `no backup table ${r.backup}: nothing to restore`);
            },
          }];
        return [];
      });
    case 'restart': {
      const spec = restartSpecOf(ctx.playbook);
      const planned = of('restart');
      if (!spec || !planned.length) return [];
      const pause = ctx.options.pauseSeconds ?? spec.pauseSeconds;
      const remaining = planned.map((a) => a.host);
      const rctx: RestartContext = { inventory: ctx.inventory, playbook: ctx.playbook, remote: ctx.remote, scope: ctx.scope, runId: ctx.plan.rollbackOf, signal: ctx.signal, reconnect: ctx.reconnect, reconnectSeconds: ctx.reconnectSeconds };
      return planned.map((_, i) => ({
        title: `node ${i + 1}/${planned.length}`,
        run: async (report) => {
          if (ctx.signal.aborted) throw new Interrupted(`stopped before restarting node ${i + 1}/${planned.length} (${remaining.join(', ')} not restarted yet)`);
          const pre = await queryCluster(rctx, remaining[0]!);
          const unhealthy = new Set(
            remaining.filter((h) => {
              const ep = endpointOf(host(h));
              const hh = pre.health.find((x) => x.endpoint === ep);
              return hh !== undefined && !hh.healthy;
            }),
          );
          const next = nextRollbackNode(remaining, pre.leaderHost, unhealthy);
          remaining.splice(remaining.indexOf(next.host), 1);
          const leader = next.host === pre.leaderHost;
          report(`${next.host}${leader ? ' (leader)' : ''}${next.skipQuorumCheck ? ' (unhealthy: restarted first)' : ''}: checking cluster health and quorum`);
          const parked = planned.find((p) => p.host === next.host)?.parked;
          const action = { ...restartActionFor(rctx, spec, next.host, i + 1, leader, pause), ...(parked ? { parked } : {}) };
          const timing = await restartOne(rctx, { ...spec, pauseSeconds: pause }, action, report, { skipQuorumCheck: next.skipQuorumCheck });
          result.restarted.push({ host: next.host, leader, timing });
          await ctx.journal.event({ event: 'node-restarted', host: next.host, message: leader ? 'leader' : 'follower' });
          report(`${next.host}: healthy with the restored certificates and caught up`);
        },
      }));
    }
    case 'check':
      return of('check').map((a) => ({
        title: a.host,
        host: a.host,
        run: async (report) => {
          const now = await readCertDir(ctx.remote(a.host), host(a.host));
          const d = diffState(ctx.plan.before[a.host]!, now).filter((x) => x.what !== 'dir-mode' && x.what !== 'dir-owner');
          if (d.length)
            throw new SafetyStop('not-as-before', `${a.host}: the cert dir is not as before run ${ctx.plan.rollbackOf}: ${d.slice(0, 5).map((x) => x.detail).join('; ')}${d.length > 5 ? ` (+${d.length - 5} more)` : ''}`, `compare by hand with ${backupOf(a.host)}`, a.host);
          report(`all ${now.files.length} files as before the run (sha256, mode, owner)`);
        },
      }));
  }
}

/** Run the plan; never throws (the error is in the result). Locks taken are released and restore staging files removed at the end. */
export async function applyRollback(ctx: RollbackContext, opts: RollbackOptions): Promise<RollbackResult> {
  const result: RollbackResult = { restarted: [], restored: [], manager: [] };
  const locked = new Set<string>();
  let current: string | undefined;
  const concurrent = (id: RollbackStep['id']) => id !== 'restart' && id !== 'manager';
  const names = ctx.inventory.hosts.map((h) => h.name);
  const emit = (e: EngineEvent) => opts.onEvent?.(e);
  const tasks: ListrTask[] = ctx.plan.steps
    .filter((s) => s.actions.length)
    .map((step, i) => {
      const label = `${i + 1}. ${step.title}`;
      return {
        title: label,
        task: async (_c, task) => {
          current = label;
          emit({ event: 'step-start', step: label });
          await ctx.journal.event({ event: 'step-start', step: label });
          const errors: unknown[] = [];
          const sub = task.newListr(
            itemsOf(ctx, step, result, locked).map(
              (item): ListrTask => ({
                title: item.title,
                task: async (_c2, t) => {
                  // The restart items ("node 1/3") name their host in their messages: every event carries it.
                  let host = item.host;
                  const on = () => (host ? { host } : {});
                  emit({ event: 'item-start', step: label, ...on(), title: item.title });
                  try {
                    await item.run((m) => {
                      t.output = m;
                      t.title = `${item.title}: ${m}`;
                      host = item.host ?? hostInMessage(m, names) ?? host;
                      emit({ event: 'message', step: label, ...on(), title: item.title, message: m });
                      void ctx.journal.event({ event: 'message', step: label, ...on(), message: m }).catch(() => undefined);
                    });
                    emit({ event: 'item-end', step: label, ...on(), title: item.title });
                  } catch (e) {
                    errors.push(e);
                    emit({ event: 'item-failed', step: label, ...on(), title: item.title, message: (e as Error).message });
                    await ctx.journal.event({ event: 'item-failed', step: label, ...on(), message: (e as Error).message }).catch(() => undefined);
                    throw e;
                  }
                },
              }),
            ),
            { concurrent: concurrent(step.id) ? opts.forks : false, exitOnError: !concurrent(step.id) },
          );
          await sub.run();
          if (errors.length) throw errors[0];
          emit({ event: 'step-end', step: label });
          await ctx.journal.event({ event: 'step-end', step: label });
        },
      };
    });
  const list = new listr2.Listr(tasks, topLevelListrOptions(opts.renderer));
  try {
    await list.run();
  } catch (e) {
    result.error = e;
    result.stoppedAt = current;
  } finally {
    await cleanUp(ctx, locked, result.error !== undefined);
  }
  return result;
}

/** Release the locks this rollback took; after a failure also remove its restore staging files. Never throws. */
async function cleanUp(ctx: RollbackContext, locked: Set<string>, failed: boolean): Promise<void> {
  await Promise.all(
    [...ctx.remotes.entries()].map(async ([name, r]) => {
      const h = ctx.inventory.hosts.find((x) => x.name === name);
      if (!h) return;
      try {
        if (failed) await r.sh(sh`find ${h.vars.certDir} -name ${`.*.certroll-restore-${ctx.plan.rollbackId}`} -type f -delete`, { allowFailure: true, timeoutMs: 15_000 });
        if (locked.has(name)) {
          await releaseLock(r, h.vars.certDir, ctx.plan.rollbackId);
          locked.delete(name);
        }
      } catch (e) {
        if (!(e instanceof HostError)) throw e;
        /* connection lost: the lock stays and names this rollback; --break-lock clears it */
      }
    }),
  ).catch(() => undefined);
}
