// `certroll run`: make the same plan as `plan`, confirm, then apply it step by step with live progress and a journal;
// `--resume RUN_ID` continues a stopped run from where it stopped, after re-checking everything.
import type { Argv, CommandModule } from 'yargs';
import { ExitCode, Interrupted, SafetyStop, UsageError } from '../../errors.js';
import { confirmOrStop, interruptible, makeUi, setExitCode } from '../common.js';
import { progressView } from '../output.js';
import { controlIdentity, preparePlan, type PipelineArgs } from '../pipeline.js';
import { renderPlan } from '../../plan/render.js';
import { planOptions, type PlanArgs } from './plan.js';
import { Journal, readRun } from '../../journal/journal.js';
import { applyPlan } from '../../apply/engine.js';
import { hostScope } from '../../plan/build.js';
import type { ApplyContext, OnFailure } from '../../steps/types.js';
import type { Plan } from '../../plan/types.js';
import type { FleetFacts } from '../../facts/types.js';

interface RunArgs extends Omit<PlanArgs, 'playbook' | 'inventory'> {
  playbook?: string;
  inventory?: string;
  yes: boolean;
  'break-lock': boolean;
  resume?: string;
  'on-failure': OnFailure;
}

export const runCommand: CommandModule<{}, RunArgs> = {
  command: 'run [playbook]',
  describe: 'Run a playbook against the inventory: plan, confirm, then apply with live progress (--resume continues a stopped run)',
  builder: (y) =>
    planOptions(y, false)
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Do not ask for confirmation' })
      .option('break-lock', { type: 'boolean', default: false, describe: 'Remove a stale lock left by a run that died' })
      .option('resume', { type: 'string', describe: 'Continue the stopped run RUN_ID from its first unfinished step' })
      .option('on-failure', {
        choices: ['rollback-node', 'stop', 'rollback-all'] as const,
        default: 'rollback-node' as const,
        describe: 'When a restarted node fails its health check: restore that node from backup, stop as is, or restore every host',
      }) as unknown as Argv<RunArgs>,
  handler: async (args) => {
    const ui = makeUi(args);
    const pipelineArgs = await resolveArgs(args);
    const prepared = await preparePlan(pipelineArgs);
    const { plan, fleet } = prepared;
    try {
      if (args['break-lock']) allowBreakingLock(plan);
      if (!args.json) ui.say(renderPlan(plan, ui.p, { verbose: args.verbose }));
      if (plan.status === 'nothing-to-do') {
        if (args.json) ui.data({ runId: plan.runId, state: 'nothing-to-do', plan });
        return;
      }
      if (plan.status === 'blocked')
        throw new SafetyStop('plan-blocked', `the plan is blocked:\n${plan.reasons.map((r) => `  - ${r}`).join('\n')}`, 'fix the problems above and run again; nothing was changed');
      await confirmOrStop(args.yes, `Apply this plan to ${prepared.inventory.hosts.length} hosts?`, 'review the plan (certroll plan)');

      const journal = new Journal(plan.runId);
      await journal.init();
      await journal.put(pipelineArgs.resume ? `plan-resume-${Date.now()}.json` : 'plan.json', plan);
      if (!pipelineArgs.resume) await journal.put('facts.json', prepared.facts);
      const startedAt = pipelineArgs.resume?.plan.createdAt ?? plan.createdAt;
      const base = { runId: plan.runId, inventory: plan.inventory, playbook: plan.playbook, startedAt };
      await journal.summary({ ...base, state: 'running' });

      const interrupt = interruptible('run', () => journal.summary({ ...base, state: 'interrupted', endedAt: new Date().toISOString(), error: 'forced exit (second interrupt)' }));
      const ctx: ApplyContext = {
        plan,
        inventory: prepared.inventory,
        playbook: prepared.playbook,
        material: prepared.material,
        remotes: fleet.remotes,
        remote: (h) => {
          const r = fleet.remotes.get(h);
          if (!r) throw new SafetyStop('unreachable', `${h} is not connected`, undefined, h);
          return r;
        },
        scope: (n) => hostScope(prepared.inventory, prepared.playbook, n),
        runId: plan.runId,
        facts: prepared.facts,
        options: { breakLock: args['break-lock'], onFailure: args['on-failure'], ...controlIdentity() },
        report: () => undefined,
        journalNote: (e) => journal.event(e),
        signal: interrupt.signal,
        locked: new Set(),
      };
      const t0 = Date.now();
      const result = await applyPlan(ctx, {
        ...progressView(ui.mode, ui.say),
        forks: args.forks,
        journal,
      }).finally(() => interrupt.dispose());
      const counters = fleet.counters();
      const interrupted = result.error instanceof Interrupted || (result.error !== undefined && interrupt.signal.aborted);
      const state = result.error === undefined ? 'succeeded' : interrupted ? 'interrupted' : 'failed';
      const message = result.error ? (result.error as Error).message : undefined;
      await journal.summary({ ...base, state, endedAt: new Date().toISOString(), ...(result.stoppedAt ? { stoppedAt: result.stoppedAt } : {}), ...(message ? { error: message } : {}) });
      const stats = { wallMs: Date.now() - t0, connections: counters.connections, roundTrips: counters.roundTrips, hosts: fleet.remotes.size };
      if (args.json) ui.data({ runId: plan.runId, state, stoppedAt: result.stoppedAt, error: message, stats, journal: journal.dir });
      if (result.error) {
        const resume = `certroll run --resume ${plan.runId}`;
        if (!args.json) ui.say(ui.p.red(`\nRun ${plan.runId} ${state} at step "${result.stoppedAt ?? 'start'}". Journal: ${journal.dir}\nContinue with: ${resume}   or undo with: certroll rollback -i ${plan.inventory} --run ${plan.runId}`));
        if (interrupted && !(result.error instanceof Interrupted)) throw new Interrupted(`${message}\nstopped at a safe point; continue with: ${resume}`);
        throw result.error;
      }
      if (!args.json) ui.say(ui.p.green(`\nRun ${plan.runId} succeeded in ${(stats.wallMs / 1000).toFixed(1)}s (${stats.connections} SSH connections for ${stats.hosts} hosts, ${stats.roundTrips} round trips). Journal: ${journal.dir}`));
    } finally {
      await fleet.close();
    }
    setExitCode(ExitCode.ok);
  },
};

async function resolveArgs(args: RunArgs): Promise<PipelineArgs> {
  const common = {
    forks: args.forks,
    acceptNewHostKeys: args['accept-new-host-keys'],
    renewWithinDays: args['renew-within-days'],
    force: args.force,
    ...(args.pause !== undefined ? { pauseSeconds: args.pause } : {}),
  };
  if (!args.resume) {
    if (!args.playbook) throw new UsageError('name the playbook: certroll run -i INVENTORY PLAYBOOK (or --resume RUN_ID)');
    if (!args.inventory) throw new UsageError('name the inventory with -i FILE');
    return { ...common, inventory: args.inventory, playbook: args.playbook };
  }
  const stored = await readRun(args.resume);
  if (!stored) throw new UsageError(`no run ${args.resume} in the journal (certroll runs lists them); to undo a run without its journal use certroll rollback --from-backup`);
  if (stored.summary?.state === 'succeeded') throw new UsageError(`run ${args.resume} already succeeded: nothing to resume`);
  const plan = stored.plan as Plan;
  const restarted = stored.events.filter((e) => e.event === 'node-restarted' && e.host).map((e) => e.host!);
  return {
    ...common,
    inventory: args.inventory ?? plan.inventory,
    playbook: args.playbook ?? plan.playbook,
    runId: plan.runId,
    resume: { plan, preFacts: stored.facts as FleetFacts, restarted },
  };
}

function allowBreakingLock(plan: Plan): void {
  plan.warnings = plan.warnings.map((w) => (w.code === 'lock-held' ? { ...w, level: 'warn' as const, message: `${w.message} (--break-lock: it will be removed)` } : w));
  if (plan.status === 'blocked' && !plan.warnings.some((w) => w.level === 'block')) {
    plan.status = 'ready';
    plan.reasons = ['--break-lock: taking over a stale lock'];
  }
}
