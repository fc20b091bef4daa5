// `certroll run`: make the same plan as `plan`, confirm, then apply it step by step with live progress and a journal;
// `--resume RUN_ID` continues a stopped run from where it stopped, after re-checking everything.
import { numberOption } from '../flags.js';
import { leftOutOfPlace } from '../../status/left-out.js';
import type { Argv, CommandModule } from 'yargs';
import { CompletedWithErrors, ExitCode, InputError, SafetyStop, UsageError } from '../../errors.js';
import { confirmOrStop, makeUi, secretsEnv, setExitCode, sshPrompts } from '../common.js';
import { progressView } from '../output.js';
import { controlIdentity, preparePlan, type PipelineArgs } from '../../run/prepare.js';
import { loadInputs, type Inputs } from '../../run/inputs.js';
import { endExecution, journaledExecution } from '../../run/execution.js';
import { allowBreakingLock, stoppedRun } from '../../run/resume.js';
import { renderPlan } from '../../plan/render.js';
import { planOptions, type PlanArgs } from './plan.js';
import { requirePlaybook } from '../flags.js';
import { Journal, checkJournalHome, journalRoot } from '../../journal/journal.js';
import { applyPlan } from '../../apply/engine.js';
import { hostScope } from '../../inventory/targets.js';
import type { ApplyContext, OnFailure } from '../../steps/types.js';
import { heads } from './heads.js';

interface RunArgs extends Omit<PlanArgs, 'playbook' | 'inventory'> {
  playbook?: string;
  inventory?: string;
  yes: boolean;
  'break-lock': boolean;
  resume?: string;
  skip?: string[];
  'on-failure': OnFailure;
  'reconnect-timeout': number;
}

export const runCommand: CommandModule<{}, RunArgs> = {
  ...heads.run,
  builder: (y) =>
    planOptions(y, false)
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Do not ask for confirmation' })
      .option('break-lock', { type: 'boolean', default: false, describe: 'Remove a stale lock left by a run that died' })
      .option('reconnect-timeout', numberOption('reconnect-timeout', 'How long a parked etcd node\'s restart keeps reconnecting to its host when the SSH connection drops, before the run stops', 120))
      .option('resume', { type: 'string', describe: 'Continue the stopped run RUN_ID: retry only the steps that failed or did not run' })
      .option('skip', { type: 'string', array: true, describe: 'With --resume: record that you did STEP by hand (its title, type or number) and go on without it' })
      .option('on-failure', {
        choices: ['rollback-node', 'stop', 'rollback-all'] as const,
        default: 'rollback-node' as const,
        describe: 'When a restarted node fails its health check: restore that node from backup, stop as is, or restore every host',
      }) as unknown as Argv<RunArgs>,
  handler: async (args) => {
    const ui = makeUi(args);
    const pipelineArgs = await resolveArgs(args);
    const inputs = pipelineArgs.inputs ?? (await loadInputs(pipelineArgs.inventory, pipelineArgs.playbook));
    const prepared = await preparePlan({ ...pipelineArgs, inputs, env: await secretsEnv(inputs), prompts: sshPrompts() });
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
      for (const i of pipelineArgs.resume?.skipped ?? []) {
        const st = plan.steps.find((x) => x.index === i);
        await journal.intent({ event: 'step-done-by-operator', step: `${i + 1}. ${st?.title ?? '?'}`, index: i, message: `--skip by ${controlIdentity().user}@${controlIdentity().controlHost}` });
      }
      const startedAt = pipelineArgs.resume?.plan.createdAt ?? plan.createdAt;
      const base = { runId: plan.runId, inventory: plan.inventory, playbook: plan.playbook, startedAt };
      const ctx = (signal: AbortSignal): ApplyContext => ({
        plan,
        inventory: prepared.inventory,
        playbook: prepared.playbook,
        material: prepared.material,
        stepData: prepared.stepData,
        remotes: fleet.remotes,
        remote: (h) => {
          const r = fleet.remotes.get(h);
          if (!r) throw new SafetyStop('unreachable', `${h} is not connected`, undefined, h);
          return r;
        },
        scope: (n) => hostScope(prepared.inventory, prepared.playbook, n),
        runId: plan.runId,
        facts: prepared.facts,
        env: prepared.env,
        options: { breakLock: args['break-lock'], onFailure: args['on-failure'], ...controlIdentity() },
        journalNote: (e) => journal.intent(e),
        journalIntent: (e) => journal.intent(e),
        signal,
        locked: new Set(),
        reconnect: (h) => fleet.reconnect(h),
        reconnectSeconds: args['reconnect-timeout'],
      });
      const x = await journaledExecution({
        what: 'run',
        summary: (s) => journal.summary({ ...base, ...s }),
        apply: (signal) => applyPlan(ctx(signal), { ...progressView(ui.mode, ui.say), forks: args.forks, journal }),
      });
      const { result, state, undone, message } = x;
      const counters = fleet.counters();
      const stats = { wallMs: x.wallMs, connections: counters.connections, roundTrips: counters.roundTrips, hosts: fleet.remotes.size };
      const steps = result.outcomes.map((o) => ({ step: o.label, type: o.type, state: o.state, ...(o.reason ? { reason: o.reason } : {}), ...(o.error ? { error: (o.error as Error).message } : {}) }));
      if (args.json) ui.data({ runId: plan.runId, state, stoppedAt: result.stoppedAt, error: message, steps, stats, journal: journal.dir });
      const resume = `certroll run --resume ${plan.runId}`;
      const rollback = `certroll rollback -i ${plan.inventory} --run ${plan.runId}`;
      if (state === 'completed-with-errors') {
        const lines = undone.map((o) => `  - ${o.label}: ${o.state === 'failed' ? `failed: ${((o.error as Error)?.message ?? String(o.error)).replace(/\n/g, '\n      ')}` : `not run: ${o.reason}`}`);
        const text = `run ${plan.runId}: the new certificates are in place, but ${undone.length} step${undone.length > 1 ? 's' : ''} did not complete:\n${lines.join('\n')}\nFinish with: ${resume}   (retries only these steps)\nor, for a step you did by hand: ${resume} --skip ${JSON.stringify(undone[0]!.title)}\nJournal: ${journal.dir}`;
        throw new CompletedWithErrors(text);
      }
      await endExecution(x, {
        json: args.json,
        say: ui.say,
        // Name what is out of place from the hosts themselves (parked members, hosts holding other files, locks).
        ...(result.pastNoReturn || x.interrupted ? { leftOut: () => leftOutOfPlace(fleet, prepared.inventory, prepared.playbook, { inventoryArg: plan.inventory, playbookArg: plan.playbook }) } : {}),
        stopped: ui.p.red(`\nRun ${plan.runId} ${state} at step "${result.stoppedAt ?? 'start'}". Journal: ${journal.dir}\nContinue with: ${resume}   or undo with: ${rollback}`),
        interruptedHint: `stopped at a safe point; continue with: ${resume}`,
      });
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
    breakLock: args['break-lock'],
    ...(args.pause !== undefined ? { pauseSeconds: args.pause } : {}),
  };
  if (!args.resume) {
    if (args.skip?.length) throw new UsageError('--skip goes with --resume RUN_ID: it records a step of a stopped run as done by hand');
    const playbook = requirePlaybook('run', args.playbook, ' (or --resume RUN_ID)');
    if (!args.inventory) throw new UsageError('missing INVENTORY: name it with -i FILE');
    const inputs = await inputsAndJournal(args.inventory, playbook);
    return { ...common, inventory: args.inventory, playbook, inputs };
  }
  const resume = await stoppedRun(args.resume, args.skip ?? []);
  const { plan } = resume;
  return {
    ...common,
    inventory: args.inventory ?? plan.inventory,
    playbook: args.playbook ?? plan.playbook,
    runId: plan.runId,
    resume,
  };
}

/** Before any host: bad inventory or playbook and a journal that cannot be written are named together. */
async function inputsAndJournal(inventory: string, playbook: string): Promise<Inputs> {
  let journal: UsageError | undefined;
  try {
    checkJournalHome('write');
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    journal = e;
  }
  let inputs: Inputs;
  try {
    inputs = await loadInputs(inventory, playbook);
  } catch (e) {
    if (e instanceof InputError && journal) throw new InputError([...e.issues, { file: journalRoot(), path: '', message: journal.message }]);
    throw e;
  }
  if (journal) throw journal;
  return inputs;
}
