// What a rollback touches on the Manager: the hosts of the playbook's manager-templates step and the host of its
// manager-db step, cut down to the --limit selection.
import type { Inventory } from '../inventory/types.js';
import type { Playbook } from '../playbook/types.js';
import { resolveTargets } from '../inventory/targets.js';
import type { ManagerScope } from './types.js';
import type { JournaledCopy, KubeCopiesQuery } from '../steps/restore-kube-config.js';
import { adminConfOf, inventoryUsers } from '../facts/kubeconfig-copies.js';

/** Under --limit, the Manager's part of a rollback keeps only the selected hosts: a Manager host outside it is left alone. */
export function withinLimit(scope: ManagerScope | undefined, limit: readonly string[] | undefined): ManagerScope | undefined {
  if (!scope || !limit) return scope;
  const templateHosts = scope.templateHosts.filter((h) => limit.includes(h));
  const { dbHost, table, passwordEnv, passwordSet } = scope;
  const db = dbHost !== undefined && limit.includes(dbHost) ? { dbHost, table, passwordEnv, passwordSet } : {};
  if (!templateHosts.length && !('dbHost' in db)) return undefined;
  return { templateHosts, ...db } as ManagerScope;
}

/** What the playbook changes on the Manager (issue 6); passwordSet: whether env holds the database password. */
export function managerScope(inv: Inventory, playbook: Playbook, env: NodeJS.ProcessEnv = process.env): ManagerScope | undefined {
  const templateHosts = [...new Set(playbook.steps.flatMap((s) => (s.type === 'manager-templates' ? resolveTargets(inv, s.targets) : [])))];
  const dbStep = playbook.steps.find((s) => s.type === 'manager-db');
  const dbHost = dbStep && dbStep.type === 'manager-db' ? resolveTargets(inv, [dbStep.on])[0] : undefined;
  const db = dbHost ? inv.hosts.find((h) => h.name === dbHost)!.vars.managerDb : undefined;
  if (!templateHosts.length && !db) return undefined;
  return {
    templateHosts,
    ...(db && dbHost && dbStep?.type === 'manager-db' ? { dbHost, table: dbStep.table, passwordEnv: db.passwordEnv, passwordSet: Boolean(env[db.passwordEnv]) } : {}),
  };
}


/**
 * Where a rollback looks for the ~/.kube copies the run's refresh-kube-config replaced, per host: with the journal, the
 * copies its plan names (and their admin.conf); without it, every host of the playbook's refresh-kube-config steps,
 * searching root's and the inventory's SSH users' ~/.kube for the run's backups. Cut down to the --limit selection.
 */
export function kubeconfigScope(inv: Inventory, playbook: Playbook, runId: string, journaled: readonly JournaledCopy[] | undefined, limit?: readonly string[]): Record<string, KubeCopiesQuery> {
  const out: Record<string, KubeCopiesQuery> = {};
  const inLimit = (h: string) => !limit || limit.includes(h);
  if (journaled) {
    for (const c of journaled) {
      if (!inLimit(c.host)) continue;
      const q = (out[c.host] ??= { adminConf: c.from, runId, candidates: [] });
      q.candidates!.push({ path: c.path, backup: c.backup });
    }
    return out;
  }
  for (const s of playbook.steps) {
    if (s.type !== 'refresh-kube-config') continue;
    for (const h of resolveTargets(inv, s.targets)) {
      if (!inLimit(h) || out[h]) continue;
      out[h] = { adminConf: adminConfOf(s, inv.hosts.find((x) => x.name === h)!), runId, users: inventoryUsers(inv) };
    }
  }
  return out;
}
