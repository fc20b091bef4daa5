// The rollback plan as a pure function of (inventory, playbook, before-state, what was read on each host): no network, unit-tested.
import { posix } from 'node:path';
import type { Inventory } from '../inventory/types.js';
import type { Playbook } from '../playbook/types.js';
import type { EtcdFacts } from '../facts/types.js';
import type { Action, PlannedStep, PlanStepType, Warning } from '../plan/types.js';
import { lockDirOf } from '../host-paths.js';
import { lockIsStale } from '../steps/lock.js';
import { parkedState } from '../plan/unfinished.js';
import { planRestartOrder, restartActionOf } from '../steps/rolling-restart.js';
import { resolveTargets } from '../inventory/targets.js';
import { restartSpecOf, restoreStagedPattern } from '../steps/rollback.js';
import { clusterProblems } from '../facts/etcd-cluster.js';
import { backupTableName } from '../manager/sql.js';
import { aboutHost } from '../errors.js';
import { diffState } from '../plan/before-state.js';
import type { ManagerScope } from './types.js';
import { planKubeconfigRestore, type JournaledCopy, type KubeCopiesRollbackFacts } from '../steps/restore-kube-config.js';
import type { BeforeSource, BeforeState, RollbackHostFacts, RollbackPlan } from './types.js';

export { diffState } from '../plan/before-state.js';
export { nextRollbackNode, restartSpecOf } from '../steps/rollback.js';

export interface RollbackPlanInput {
  inventory: Inventory;
  playbook: Playbook;
  rollbackId: string;
  rollbackOf: string;
  now: Date;
  source: BeforeSource;
  /** From the local journal (source 'journal'): the before-state per host and the hosts the run backed up. */
  journal?: { before: Record<string, BeforeState>; backedUp: string[]; kubeconfigCopies?: JournaledCopy[] };
  /** What was read on each reachable host. */
  facts: Record<string, RollbackHostFacts>;
  unreachable: Array<{ host: string; message: string }>;
  etcd: EtcdFacts | null;
  /** `--pause` override for the rolling restart. */
  pauseSeconds?: number;
  /** `--break-lock`: a lock held by another run is taken over (a warning, not a block). */
  breakLock?: boolean;
  /** What the playbook changed on the Manager (issue 6); omitted when it changes nothing there. */
  manager?: ManagerScope;
  /** This machine's host name: a lock of the rolled-back run taken here by a process that is gone is stale. */
  controlHost?: string;
  /** `--limit`: only these hosts are rolled back (and were read); the others are left alone. */
  limit?: readonly string[];
  /** kubeadm: the ~/.kube copies (and their backups) of the run's refresh-kube-config, as read on each host. */
  kubeconfigs?: Record<string, KubeCopiesRollbackFacts>;
}

/** Files a run can have created in a cert dir, which the restore removes: the playbook's managed files and certroll's own hidden staging files. */
export function createdByRun(path: string, playbook: Playbook): boolean {
  const managed = Object.values(playbook.files);
  return managed.includes(path) || path.includes('.certroll-');
}

/**
 * A manifest the rolling restart parked in a park dir inside the cert dir (kubeadm: /etc/kubernetes/certroll-parked inside
 * /etc/kubernetes), with certroll's marker beside it: the run's, not a foreign file. The restore removes the parked copy
 * and puts the manifest back in its place from the backup (taken before the park).
 */
export function parkedByCertroll(path: string, certDir: string, parkDir: string, current: ReadonlySet<string>): boolean {
  const rel = posix.relative(certDir, parkDir);
  if (!rel || rel.startsWith('..') || posix.isAbsolute(rel)) return false;
  return path.startsWith(`${rel}/`) && !path.endsWith('.certroll-park') && current.has(`${path}.certroll-park`);
}

export function planRollback(input: RollbackPlanInput): RollbackPlan {
  const { inventory: inv, playbook, rollbackOf } = input;
  const warnings: Warning[] = [];
  const warn = (w: Warning) => warnings.push(w);
  const skipped: RollbackPlan['skipped'] = [];
  const before: Record<string, BeforeState> = {};
  const restoreActions: Action[] = [];
  const verifyActions: Extract<Action, { kind: 'verify-backup' }>[] = [];
  const lockActions: Extract<Action, { kind: 'lock' }>[] = [];
  const checkActions: Action[] = [];
  const hosts: string[] = [];
  const unreachable = new Map(input.unreachable.map((u) => [u.host, u.message]));
  /** Hosts whose cert dir the run changed: only their etcd members need a restart. */
  const changedHosts = new Set<string>();
  /** Hosts whose lock a dead process of the rolled-back run left behind (on this machine): taken over. */
  const staleLocks = new Set<string>();

  for (const h of inv.hosts) {
    if (input.limit && !input.limit.includes(h.name)) {
      skipped.push({ host: h.name, why: 'not selected by --limit' });
      continue;
    }
    if (input.source === 'journal' && input.journal && !input.journal.backedUp.includes(h.name)) {
      skipped.push({ host: h.name, why: `run ${rollbackOf} did not back it up (not one of its hosts)` });
      continue;
    }
    if (unreachable.has(h.name)) {
      warn({ level: 'block', code: 'unreachable', host: h.name, message: aboutHost(h.name, unreachable.get(h.name)!) });
      continue;
    }
    const f = input.facts[h.name];
    if (!f) {
      warn({ level: 'block', code: 'unreachable', host: h.name, message: `${h.name}: nothing could be read from it` });
      continue;
    }
    const b = f.backup;
    // A run that died before backing up this host never changed it (nothing is written before every backup is verified):
    // with the journal's before-state, a cert dir still as before is simply left alone.
    const journalState = input.source === 'journal' ? input.journal?.before[h.name] : undefined;
    if (!b.exists && journalState && !diffState(journalState, f.current).some((d) => d.what !== 'dir-mode' && d.what !== 'dir-owner')) {
      skipped.push({ host: h.name, why: `run ${rollbackOf} stopped before backing it up: its cert dir is as before, nothing to restore` });
      // Its lock, left by the dead run, is still taken over and released.
      if (f.lock?.runId === rollbackOf && f.lock.runId !== input.rollbackId) {
        if (lockIsStale(f.lock, input.controlHost ?? '')) staleLocks.add(h.name);
        else if (!input.breakLock) warn({ level: 'block', code: 'lock-held', host: h.name, message: `${h.name}: run ${rollbackOf} holds the lock ${lockDirOf(f.certDir)}${f.lock.controlHost ? ` (from ${f.lock.controlHost})` : ''}; is that run still going? if it died, pass --break-lock` });
        lockActions.push({ kind: 'lock', host: h.name, path: lockDirOf(f.certDir), ...(staleLocks.has(h.name) ? { takeOver: true } : {}) });
      }
      continue;
    }
    hosts.push(h.name);
    if (!b.exists) {
      warn({ level: 'block', code: 'backup-missing', host: h.name, message: `${h.name}: there is no backup ${f.backupDir}; nothing can be restored there` });
      continue;
    }
    if (!b.verified) {
      warn({ level: 'block', code: 'backup-corrupt', host: h.name, message: `${h.name}: the backup ${f.backupDir} does not verify: ${b.problem ?? 'unknown problem'}; no host will be touched` });
      continue;
    }
    if (b.metaRunId !== rollbackOf) {
      warn({ level: 'block', code: 'backup-wrong-run', host: h.name, message: `${h.name}: ${f.backupDir} says it belongs to run ${b.metaRunId ?? '?'}, not ${rollbackOf}` });
      continue;
    }
    const state = input.source === 'journal' ? input.journal?.before[h.name] : b.meta;
    if (!state) {
      warn({ level: 'block', code: 'no-before-state', host: h.name, message: `${h.name}: ${input.source === 'journal' ? `the journal of run ${rollbackOf} has no facts for it` : `${f.backupDir} has no readable metadata`}; use --from-backup to rely on the backup alone` });
      continue;
    }
    if (input.source === 'journal' && b.meta) {
      const d = diffState(state, b.meta).filter((x) => x.what !== 'dir-mode' && x.what !== 'dir-owner');
      if (d.length)
        warn({ level: 'block', code: 'backup-mismatch', host: h.name, message: `${h.name}: the metadata of ${f.backupDir} differs from what the journal recorded before run ${rollbackOf}: ${d.slice(0, 3).map((x) => x.detail).join('; ')}` });
    }
    const inBackup = diffState({ files: state.files }, { files: b.files });
    if (inBackup.length) {
      warn({ level: 'block', code: 'backup-mismatch', host: h.name, message: `${h.name}: ${f.backupDir} does not hold the files from before run ${rollbackOf}: ${inBackup.slice(0, 3).map((x) => x.detail).join('; ')}${inBackup.length > 3 ? ` (+${inBackup.length - 3} more)` : ''}` });
      continue;
    }
    before[h.name] = state;

    const now = diffState(state, f.current);
    const changes = now.filter((d) => d.what !== 'extra' && d.what !== 'dir-mode' && d.what !== 'dir-owner').map((d) => d.detail);
    const extras = now.filter((d) => d.what === 'extra');
    const currentPaths = new Set(f.current.files.map((x) => x.path));
    const ours = (path: string) => createdByRun(path, playbook) || parkedByCertroll(path, f.certDir, h.vars.parkDir, currentPaths);
    const removes = extras.filter((d) => ours(d.path)).map((d) => d.path);
    for (const d of extras.filter((x) => !ours(x.path)))
      warn({ level: 'block', code: 'foreign-file', host: h.name, message: `${h.name}: ${f.certDir}/${d.path} was not there before run ${rollbackOf} and certroll did not create it; move it away by hand (the rollback leaves it, and the cert dir would not be as before)` });
    for (const d of now.filter((x) => x.what === 'dir-mode' || x.what === 'dir-owner'))
      warn({ level: 'warn', code: 'dir-changed', host: h.name, message: `${h.name}: ${d.detail} (a restore keeps the directory itself as it is)` });

    if (f.lock && f.lock.runId !== input.rollbackId && f.lock.runId === rollbackOf && lockIsStale(f.lock, input.controlHost ?? '')) {
      warn({ level: 'info', code: 'lock-stale', host: h.name, message: `${h.name}: run ${rollbackOf} died holding the lock ${lockDirOf(f.certDir)} (its process ${f.lock.pid} on this machine is gone): taken over` });
      staleLocks.add(h.name);
    } else if (f.lock && f.lock.runId !== input.rollbackId) {
      const who = `run ${f.lock.runId}${f.lock.startedAt ? `, started ${f.lock.startedAt}` : ''}${f.lock.controlHost ? ` from ${f.lock.controlHost}` : ''}`;
      if (input.breakLock) warn({ level: 'warn', code: 'lock-held', host: h.name, message: `${h.name}: the lock ${lockDirOf(f.certDir)} is held by ${who} (--break-lock: it will be removed)` });
      else
        warn({
          level: 'block',
          code: 'lock-held',
          host: h.name,
          message: `${h.name}: another certroll run holds the lock ${lockDirOf(f.certDir)} (${who})${f.lock.runId === rollbackOf ? '; is that run still going? if it died, pass --break-lock' : '; wait for it to finish, or use --break-lock if it is stale'}`,
        });
    }

    lockActions.push({ kind: 'lock', host: h.name, path: lockDirOf(f.certDir), ...(staleLocks.has(h.name) ? { takeOver: true } : {}) });
    verifyActions.push({ kind: 'verify-backup', host: h.name, backupDir: f.backupDir, files: state.files.length, expected: state.files });
    restoreActions.push({ kind: 'restore', host: h.name, from: f.backupDir, to: f.certDir, files: state.files.length, changes, removes });
    if (changes.length || removes.length) changedHosts.add(h.name);
    checkActions.push({ kind: 'check-restored', host: h.name, files: state.files.length, expected: state, backupDir: f.backupDir });
  }

  // kubeadm: the ~/.kube copies the run's refresh-kube-config replaced, put back from their backups beside them (only the
  // hosts whose cert dir is restored: the run backed them up before refreshing anything).
  const kubeActions: Action[] = [];
  const kubeNotes: string[] = [];
  for (const n of hosts) {
    const k = input.kubeconfigs?.[n];
    if (!k) continue;
    const journaled = input.source === 'journal' ? (input.journal?.kubeconfigCopies ?? []).filter((c) => c.host === n) : undefined;
    const r = planKubeconfigRestore({ host: n, runId: rollbackOf, facts: k, ...(journaled ? { journaled } : {}) });
    kubeActions.push(...r.actions);
    kubeNotes.push(...r.notes);
    for (const w of r.warnings) warn(w);
  }
  if (input.kubeconfigs && Object.keys(input.kubeconfigs).length)
    kubeNotes.unshift(`before the cert dirs are restored; copied on the host from <file>.certroll-bak-${rollbackOf} (cp -p, cmp), renamed over the copy; a copy changed since the run is left alone`);

  // The Manager (issue 6): template files from their backup beside the cert dir, then the manager_info rows from their backup table.
  const managerActions: Action[] = [];
  const managerNotes: string[] = [];
  const m = input.manager;
  if (m) {
    for (const n of m.templateHosts) {
      const t = input.facts[n]?.managerTemplates;
      if (!t) continue;
      if (!t.found) managerNotes.push(`${n}: no Manager template backup ${t.dir} (run ${rollbackOf} stopped before changing the templates): nothing to restore`);
      else if (!t.verified) warn({ level: 'block', code: 'backup-corrupt', host: n, message: `${n}: the Manager template backup ${t.dir} does not verify: ${t.problem ?? 'unknown problem'}; no host will be touched` });
      else {
        managerActions.push({ kind: 'restore-templates', host: n, backupDir: t.dir, files: t.files });
        // Verified again with the cert dir backups, before any host is touched.
        const v = verifyActions.find((x) => x.host === n);
        if (v) v.templatesDir = t.dir;
      }
    }
    if (m.dbHost) {
      const table = m.table ?? 'manager_info';
      if (!m.passwordSet) warn({ level: 'block', code: 'db-password-missing', host: m.dbHost, message: `${m.dbHost}: the Manager DB rows may need restoring, but $${m.passwordEnv ?? 'CERTROLL_DB_PASSWORD'} is not set; set it (never on the command line) and run again` });
      else managerActions.push({ kind: 'restore-db', host: m.dbHost, table, backup: backupTableName(table, rollbackOf) });
      managerNotes.push('the DB rows are restored from the backup table when the run made one; other rows are left alone');
    }
  }

  // The rolling restart: every etcd host whose cert dir is restored, followers first, the leader last.
  const spec = restartSpecOf(playbook);
  const parkedOf = (n: string) => {
    const f = input.facts[n];
    return spec && f ? parkedState({ host: n, manifests: { markers: [], ...f.manifests } } as never, spec.manifests, inv.hosts.find((x) => x.name === n)!.vars.parkDir) : null;
  };
  // A node of the restart's targets restarts when its files change back, or when the run left it stopped; one whose files
  // never changed keeps running. The order is the run's (planRestartOrder): parked nodes first, the etcd leader's node last.
  const restartHosts = spec ? resolveTargets(inv, spec.targets).filter((n) => hosts.includes(n) && (changedHosts.has(n) || parkedOf(n)?.byCertroll)) : [];
  const leader = input.etcd?.leaderHost;
  const order = spec ? planRestartOrder(restartHosts, leader, (n) => Boolean(parkedOf(n)?.byCertroll)) : [];
  const restartNotes: string[] = [];
  if (!spec) restartNotes.push(`the playbook ${playbook.file} has no rolling-restart step: etcd is not restarted`);
  else {
    const pause = input.pauseSeconds ?? spec.pauseSeconds;
    for (const n of order) {
      const f = input.facts[n];
      const p = parkedOf(n);
      if (f && p && !p.byCertroll)
        warn({ level: 'block', code: 'manifest-not-in-place', host: n, message: `${n}: ${p.unmarked.join(', ')} not in ${inv.hosts.find((x) => x.name === n)!.vars.manifestsDir}${p.unmarked.some((m) => f.manifests.parked.includes(m)) ? ` (in the park dir without a certroll marker: not parked by certroll); move it back first` : ''}` });
      else if (p?.byCertroll) restartNotes.push(`${n}: left stopped by run ${p.byCertroll.runIds.join(', ')} (${p.byCertroll.files.join(', ')}): its manifests are put back first`);
    }
    if (order.length) restartNotes.push(`restart order: ${order.join(' → ')}${leader ? ` (leader ${leader} last)` : ' (leader unknown)'}; re-decided before each node`, 'before each node: cluster healthy and keeps quorum without it (a member that is already down goes first)', `pause ${pause}s between stop and start`);
    const n = (inv.groups.etcd ?? []).length;
    if (input.etcd && n) {
      const problems = input.etcd.error ? [input.etcd.error] : clusterProblems(input.etcd, n);
      if (problems.length) warn({ level: 'warn', code: 'cluster-unhealthy', message: `etcd cluster now: ${problems.join('; ')} (unhealthy members are restarted first)` });
    }
  }
  const restartActions: Action[] = spec
    ? order.map((h, i) => restartActionOf(spec, inv.hosts.find((x) => x.name === h)!, { order: i + 1, leader: h === leader, pauseSeconds: input.pauseSeconds ?? spec.pauseSeconds, restored: true, parked: parkedOf(h)?.byCertroll ?? null }))
    : [];
  // Every lock taken is released at the end, whatever happens; after a failure the restore's staged copies go first.
  const cleanupActions: Action[] = lockActions.map((l) => {
    const dir = inv.hosts.find((x) => x.name === l.host)!.vars.certDir;
    return { kind: 'release', host: l.host, path: l.path, dir, staged: restoreStagedPattern(input.rollbackId) };
  });

  const at = { file: playbook.file };
  const step = (type: PlanStepType, title: string, actions: Action[], notes: string[]): PlannedStep => ({ index: 0, type, title, at, hosts: [...new Set(actions.map((a) => a.host))], actions, notes });
  const steps: PlannedStep[] = [
    step('take-lock', 'take the run lock', lockActions, ['released in the last step, whatever happens']),
    step('verify-backup', 'verify every backup', verifyActions, ['every host before touching any: sha256 manifest, and content equal to the state before the run']),
    ...(input.kubeconfigs && Object.keys(input.kubeconfigs).length ? [step('restore-kube-config', 'put back the ~/.kube copies of admin.conf the run replaced', kubeActions, kubeNotes)] : []),
    step('restore', 'restore the cert dirs', restoreActions, ['staged copies (owner and mode kept), then back-to-back renames; files the run created are removed']),
    step('manager-restore', 'restore the Manager templates and DB rows', managerActions, managerNotes),
    step('restart-restored', spec?.pods ? 'rolling restart of the static pods' : 'rolling restart of etcd', restartActions, restartNotes),
    step('check-restored', 'check every cert dir is as before the run', checkActions, ['sha256, mode and owner of every file']),
    step('cleanup', 'release the locks', cleanupActions, ['always runs, also after a failure or an interrupt']),
  ].map((x, i) => ({ ...x, index: i }));
  const blocks = warnings.filter((w) => w.level === 'block');
  if (!hosts.length && !lockActions.length && !blocks.length) blocks.push({ level: 'block', code: 'no-hosts', message: `no host of ${inv.file} holds a backup of run ${rollbackOf}` }), warnings.push(blocks[0]!);
  return {
    kind: 'rollback',
    runId: input.rollbackId,
    rollbackId: input.rollbackId,
    rollbackOf,
    createdAt: input.now.toISOString(),
    inventory: inv.file,
    playbook: playbook.file,
    source: input.source,
    ...(staleLocks.size ? { takeOver: [...staleLocks] } : {}),
    status: blocks.length ? 'blocked' : 'ready',
    reasons: blocks.length ? blocks.map((b) => b.message) : !hosts.length ? [`run ${rollbackOf} changed nothing on any host: only its lock is released`] : [`put ${hosts.length} host${hosts.length === 1 ? '' : 's'} back as before run ${rollbackOf} (before-state from ${input.source === 'journal' ? 'the local journal' : 'the backups on the hosts'})`],
    warnings,
    hosts,
    skipped,
    restartOrder: order,
    material: null,
    steps,
    before,
  };
}
