// Which run a rollback undoes, with which inventory and playbook, and where the state before that run comes from: the
// local journal (its facts.json and plan) or, with --from-backup, the backups on the hosts. Usage errors before anything is read.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { checkJournalHome, checkRunId, journalRoot, readRun, showValue } from '../journal/journal.js';
import type { FleetFacts } from '../facts/types.js';
import type { Plan } from '../plan/types.js';
import type { BeforeState } from './types.js';
import type { JournaledCopy } from '../steps/restore-kube-config.js';

export const DEFAULT_PLAYBOOK = 'playbooks/tos-etcd-renew.yaml';
/** Run ids are made by newRunId(); anything safe as one path component is accepted. */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface ResolvedRollback {
  runId: string;
  inventory: string;
  playbook: string;
  /** Set when the before-state comes from the local journal; kubeconfigCopies: the ~/.kube copies its plan would refresh. */
  journal?: { before: Record<string, BeforeState>; backedUp: string[]; kubeconfigCopies?: JournaledCopy[] };
  /** With --from-backup: the cert dir part of the path. */
  certDir?: string;
}

/** Which run, which files, and where the before-state comes from; usage errors before anything is read. */
export async function resolveRollbackArgs(args: { run?: string | undefined; 'from-backup'?: string | undefined; inventory?: string | undefined; playbook?: string | undefined }): Promise<ResolvedRollback> {
  let runId = args.run;
  let certDir: string | undefined;
  const fb = args['from-backup'];
  if (fb !== undefined) {
    const path = fb.replace(/\/+$/, '');
    const m = /^(\/.*)-bak-([^/]+)$/.exec(path);
    if (!m || !RUN_ID.test(m[2]!)) throw new UsageError(`--from-backup expects an absolute backup directory <certDir>-bak-<run-id> (e.g. /srv/kubernetes-bak-20261123T094300Z-a1b2c3), got ${showValue(fb)}`);
    if (runId !== undefined && runId !== m[2]) throw new UsageError(`--run ${showValue(runId)} and --from-backup ${showValue(fb)} name different runs`);
    runId = m[2]!;
    certDir = m[1]!;
  }
  if (runId === undefined) throw new UsageError('name the run to undo: certroll rollback -i INVENTORY --run RUN_ID (certroll runs lists them), or --from-backup <certDir>-bak-<run-id>');
  checkRunId(runId, args['from-backup'] !== undefined && args.run === undefined ? '--from-backup' : '--run');
  checkJournalHome('write');

  if (certDir !== undefined) {
    if (!args.inventory) throw new UsageError('name the inventory with -i FILE (with --from-backup there is no journal to take it from)');
    return { runId, certDir, inventory: args.inventory, playbook: args.playbook ?? DEFAULT_PLAYBOOK };
  }
  const stored = await readRun(runId, undefined, '--run');
  if (!stored) throw new UsageError(`--run: no run ${runId} in the journal ${journalRoot()} (certroll runs lists them); if the journal is lost, roll back from the hosts alone with --from-backup <certDir>-bak-${runId}`);
  if (stored.legacy) process.stderr.write(`note: run ${runId} is journaled in the old location ${stored.dir}\n`);
  const plan = stored.plan as Plan;
  const facts = stored.facts as FleetFacts | null;
  if (!facts?.hosts) throw new UsageError(`the journal of run ${runId} has no facts.json (the state before the run); use --from-backup <certDir>-bak-${runId}`);
  const before: Record<string, BeforeState> = {};
  for (const [h, f] of Object.entries(facts.hosts))
    before[h] = { files: f.certDir.files.map(({ path, sha256, mode, uid, gid, size }) => ({ path, sha256, mode, uid, gid, size })), dir: { mode: f.certDir.mode, uid: f.certDir.uid, gid: f.certDir.gid } };
  const backedUp = [...new Set(plan.steps.flatMap((s) => s.actions).filter((a) => a.kind === 'backup').map((a) => a.host))];
  const kubeconfigCopies = journaledCopies(plan, stored.dir);
  const inventory = args.inventory ?? plan.inventory;
  const playbook = args.playbook ?? (plan.playbook && existsSync(plan.playbook) ? plan.playbook : DEFAULT_PLAYBOOK);
  if (!inventory) throw new UsageError('name the inventory with -i FILE');
  return { runId, inventory, playbook, journal: { before, backedUp, kubeconfigCopies } };
}

/**
 * The ~/.kube copies a run's refresh-kube-config steps planned to replace: from its plan.json, then from the plans of its
 * resumes (plan-resume-*.json, in order), each copy once (the first plan that names it: its sha256 is the file before the run).
 */
export function journaledCopies(plan: Plan, dir: string): JournaledCopy[] {
  const plans: Plan[] = [plan];
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => /^plan-resume-\d+\.json$/.test(n)).sort((a, b) => Number(a.slice(12, -5)) - Number(b.slice(12, -5)));
  } catch {
    /* no directory listing: plan.json alone */
  }
  for (const n of names) {
    try {
      const p = JSON.parse(readFileSync(join(dir, n), 'utf8')) as Plan;
      if (Array.isArray(p?.steps)) plans.push(p);
    } catch {
      /* an unreadable resume plan adds nothing */
    }
  }
  const out = new Map<string, JournaledCopy>();
  for (const p of plans)
    for (const a of p.steps.flatMap((s) => s.actions ?? []))
      if (a.kind === 'refresh-kubeconfig' && !out.has(`${a.host}\0${a.path}`)) out.set(`${a.host}\0${a.path}`, { host: a.host, path: a.path, backup: a.backup, from: a.from, sha256: a.sha256 });
  return [...out.values()];
}
