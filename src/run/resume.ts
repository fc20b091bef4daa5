// What `run --resume` and `run --break-lock` decide before the plan is applied: the steps the stopped run finished (from
// its journal's events), the steps the operator did by hand (--skip), and a stale lock taken over.
import { UsageError } from '../errors.js';
import type { FleetFacts } from '../facts/types.js';
import { checkJournalHome, readRun } from '../journal/journal.js';
import type { Plan } from '../plan/types.js';
import type { PipelineArgs } from './prepare.js';

/** `run --resume RUN_ID [--skip STEP…]`: the stopped run's plan, the facts before it, the nodes it restarted, what it finished. */
export async function stoppedRun(runId: string, skip: string[]): Promise<NonNullable<PipelineArgs['resume']>> {
  checkJournalHome('write');
  const stored = await readRun(runId, undefined, '--resume');
  if (!stored) throw new UsageError(`--resume: no run ${runId} in the journal (certroll runs lists them); to undo a run without its journal use certroll rollback --from-backup`);
  if (stored.legacy) process.stderr.write(`note: run ${runId} is journaled in the old location ${stored.dir}; it goes on there (new runs go to the per-user state directory)\n`);
  if (stored.summary?.state === 'succeeded') throw new UsageError(`run ${runId} already succeeded: nothing to resume`);
  const plan = stored.plan as Plan;
  const restarted = stored.events.filter((e) => e.event === 'node-restarted' && e.host).map((e) => e.host!);
  const done = doneSteps(stored.events);
  const skipped = resolveSkips(skip, plan, done);
  for (const i of skipped) done[i] = 'operator';
  return { plan, preFacts: stored.facts as FleetFacts, restarted, done, skipped };
}

/** The steps a stopped run finished (or the operator marked done), by playbook index: the last outcome recorded wins. */
export function doneSteps(events: Array<{ event: string; index?: unknown }>): Record<number, 'earlier' | 'operator'> {
  const last = new Map<number, string>();
  for (const e of events) if (e.event.startsWith('step-') && typeof e.index === 'number') last.set(e.index, e.event);
  const done: Record<number, 'earlier' | 'operator'> = {};
  for (const [i, ev] of last) {
    if (ev === 'step-done' || ev === 'step-done-earlier') done[i] = 'earlier';
    else if (ev === 'step-done-by-operator') done[i] = 'operator';
  }
  return done;
}

/** --skip values → playbook step indexes of the stopped run's plan (title, type, number or "N. title"); refuses unknown or finished steps. */
export function resolveSkips(values: string[], plan: Plan, done: Record<number, unknown>): number[] {
  const out: number[] = [];
  for (const raw of values) {
    const v = raw.trim();
    const matches = plan.steps.filter((st) => v === st.title || v === st.type || v === String(st.index + 1) || v === `${st.index + 1}. ${st.title}`);
    const list = plan.steps.map((st) => `${st.index + 1}. ${st.title}`).join(', ');
    if (!v) throw new UsageError('--skip: name a step (its title, type or number)');
    if (!matches.length) throw new UsageError(`--skip ${JSON.stringify(v.slice(0, 80))}: run ${plan.runId} has no such step (steps: ${list})`);
    if (matches.length > 1) throw new UsageError(`--skip ${JSON.stringify(v)}: names ${matches.length} steps of run ${plan.runId}; use the number (steps: ${list})`);
    const st = matches[0]!;
    if (st.type === 'cleanup') throw new UsageError(`--skip ${v}: cleanup runs at the end of every run (it releases the locks), it cannot be skipped`);
    if (['preflight', 'backup', 'renew-ca', 'issue-cert', 'distribute'].includes(st.type))
      throw new UsageError(`--skip ${v}: ${st.type} cannot be skipped (it guards or makes the certificates every later step relies on)`);
    if (done[st.index] !== undefined) throw new UsageError(`--skip ${v}: step ${st.index + 1}. ${st.title} is already done`);
    out.push(st.index);
  }
  return out;
}

/** --break-lock: a lock-held finding becomes a warning, and a plan blocked by nothing else is ready. */
export function allowBreakingLock(plan: Plan): void {
  plan.warnings = plan.warnings.map((w) => (w.code === 'lock-held' ? { ...w, level: 'warn' as const, message: `${w.message} (--break-lock: it will be removed)` } : w));
  if (plan.status === 'blocked' && !plan.warnings.some((w) => w.level === 'block')) {
    plan.status = 'ready';
    plan.reasons = ['--break-lock: taking over a stale lock'];
  }
}
