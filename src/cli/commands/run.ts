// `certroll run`: make the same plan as `plan`, confirm, then apply it step by step with live progress and a journal.
import type { Argv, CommandModule } from 'yargs';
import { createInterface } from 'node:readline/promises';
import { ExitCode, Interrupted, SafetyStop } from '../../errors.js';
import { makeUi, setExitCode } from '../common.js';
import { controlIdentity, preparePlan } from '../pipeline.js';
import { renderPlan } from '../../plan/render.js';
import { planOptions, type PlanArgs } from './plan.js';
import { Journal } from '../../journal/journal.js';
import { applyPlan } from '../../apply/engine.js';
import { hostScope } from '../../plan/build.js';
import type { ApplyContext } from '../../steps/types.js';

interface RunArgs extends PlanArgs {
  yes: boolean;
  'break-lock': boolean;
}

export const runCommand: CommandModule<{}, RunArgs> = {
  command: 'run <playbook>',
  describe: 'Run a playbook against the inventory: plan, confirm, then apply with live progress',
  builder: (y) =>
    planOptions(y)
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Do not ask for confirmation' })
      .option('break-lock', { type: 'boolean', default: false, describe: 'Remove a stale lock left by a run that died' }) as unknown as Argv<RunArgs>,
  handler: async (args) => {
    const ui = makeUi(args);
    const prepared = await preparePlan({
      inventory: args.inventory,
      playbook: args.playbook,
      forks: args.forks,
      acceptNewHostKeys: args['accept-new-host-keys'],
      renewWithinDays: args['renew-within-days'],
      force: args.force,
      ...(args.pause !== undefined ? { pauseSeconds: args.pause } : {}),
    });
    const { plan, fleet } = prepared;
    try {
      if (args['break-lock']) {
        plan.warnings = plan.warnings.map((w) => (w.code === 'lock-held' ? { ...w, level: 'warn' as const, message: `${w.message} (--break-lock: it will be removed)` } : w));
        const blocked = plan.warnings.filter((w) => w.level === 'block');
        if (plan.status === 'blocked' && blocked.length === 0) {
          plan.status = 'ready';
          plan.reasons = ['--break-lock: taking over a stale lock'];
        }
      }
      if (!args.json) ui.say(renderPlan(plan, ui.p));
      if (plan.status === 'nothing-to-do') {
        if (args.json) ui.data({ runId: plan.runId, state: 'nothing-to-do', plan });
        return;
      }
      if (plan.status === 'blocked') throw new SafetyStop('plan-blocked', `the plan is blocked:\n${plan.reasons.map((r) => `  - ${r}`).join('\n')}`, 'fix the problems above and run again; nothing was changed');
      if (!args.yes) {
        if (!process.stdin.isTTY) throw new SafetyStop('confirm', 'confirmation needed but stdin is not a terminal', 'review the plan and pass --yes');
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const answer = (await rl.question(`Apply this plan to ${prepared.inventory.hosts.length} hosts? Type "yes": `)).trim();
        rl.close();
        if (answer !== 'yes') throw new SafetyStop('confirm', 'not confirmed; nothing was changed');
      }
      const journal = new Journal(plan.runId);
      await journal.init();
      await journal.put('plan.json', plan);
      await journal.put('facts.json', prepared.facts);
      const startedAt = new Date().toISOString();
      await journal.summary({ runId: plan.runId, state: 'running', inventory: plan.inventory, playbook: plan.playbook, startedAt });

      const abort = new AbortController();
      let sigints = 0;
      const onSignal = () => {
        sigints++;
        if (sigints === 1) {
          process.stderr.write('\ninterrupt: finishing the action in progress, then stopping at a safe point (Ctrl-C again to force)\n');
          abort.abort();
        } else process.exit(ExitCode.interrupted);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
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
        options: { breakLock: args['break-lock'], ...controlIdentity() },
        report: () => undefined,
        signal: abort.signal,
        locked: new Set(),
      };
      const t0 = Date.now();
      const result = await applyPlan(ctx, {
        renderer: args.json ? 'silent' : ui.mode.tty ? 'default' : 'simple',
        forks: args.forks,
        journal,
      }).finally(() => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      });
      const counters = fleet.counters();
      const ok = result.error === undefined;
      const interrupted = result.error instanceof Interrupted || abort.signal.aborted;
      await journal.summary({
        runId: plan.runId,
        state: ok ? 'succeeded' : interrupted ? 'interrupted' : 'failed',
        inventory: plan.inventory,
        playbook: plan.playbook,
        startedAt,
        endedAt: new Date().toISOString(),
        ...(result.stoppedAt ? { stoppedAt: result.stoppedAt } : {}),
        ...(result.error ? { error: (result.error as Error).message } : {}),
      });
      const stats = { wallMs: Date.now() - t0, connections: counters.connections, roundTrips: counters.roundTrips, hosts: fleet.remotes.size };
      if (args.json) ui.data({ runId: plan.runId, state: ok ? 'succeeded' : interrupted ? 'interrupted' : 'failed', stoppedAt: result.stoppedAt, error: result.error ? (result.error as Error).message : undefined, stats });
      if (!ok) {
        if (!args.json) ui.say(ui.p.red(`\nRun ${plan.runId} stopped at ${result.stoppedAt ?? 'the start'}. Journal: ${journal.dir}`));
        throw result.error;
      }
      if (!args.json) ui.say(ui.p.green(`\nRun ${plan.runId} succeeded in ${(stats.wallMs / 1000).toFixed(1)}s (${stats.connections} SSH connections, ${stats.roundTrips} round trips). Journal: ${journal.dir}`));
    } finally {
      await fleet.close();
    }
    setExitCode(ExitCode.ok);
  },
};
