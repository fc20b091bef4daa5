// `certroll rollback`: put every host back as it was before a run, from the backups that run made (verified first), then
// rolling-restart etcd and check every cert dir is byte-identical to before. Works from the hosts alone with --from-backup.
import { leftOutOfPlace } from '../../status/left-out.js';
import type { Argv, CommandModule } from 'yargs';
import { ExitCode, SafetyStop, UsageError } from '../../errors.js';
import { confirmOrStop, makeUi, secretsEnv, setExitCode, sshPrompts, withFleetOptions } from '../common.js';
import { selectHosts } from '../../inventory/limit.js';
import { progressView } from '../output.js';
import { controlIdentity } from '../../run/prepare.js';
import { loadInputs } from '../../run/inputs.js';
import { endExecution, journaledExecution } from '../../run/execution.js';
import { Journal, newRunId, type RunSummary } from '../../journal/journal.js';
import { openFleet } from '../../ssh/fleet.js';
import { hostScope } from '../../inventory/targets.js';
import { gatherRollbackFacts } from '../../rollback/gather.js';
import { planRollback } from '../../rollback/plan.js';
import { renderRollbackPlan } from '../../rollback/render.js';
import { applyRollback } from '../../rollback/apply.js';
import { DEFAULT_PLAYBOOK, resolveRollbackArgs } from '../../rollback/target.js';
import { kubeconfigScope, managerScope, withinLimit } from '../../rollback/scope.js';
import { numberOption } from '../flags.js';
import { heads } from './heads.js';


interface RollbackArgs {
  playbook?: string;
  inventory?: string;
  limit?: string;
  run?: string;
  'from-backup'?: string;
  'dry-run': boolean;
  yes: boolean;
  json: boolean;
  color?: boolean;
  forks: number;
  pause?: number;
  'reconnect-timeout': number;
  'break-lock': boolean;
  'accept-new-host-keys': boolean;
}

export const rollbackCommand: CommandModule<{}, RollbackArgs> = {
  ...heads.rollback,
  builder: (y) =>
    withFleetOptions(
      y.positional('playbook', { type: 'string', describe: `Playbook of the run, for the restart parameters and file names (default: the run's, else ${DEFAULT_PLAYBOOK})` }),
      { inventoryFromJournal: true, json: 'JSON on stdout (the plan with --dry-run, else the result)' },
    )
      .option('run', { type: 'string', describe: 'Run id to undo (certroll runs lists them)' })
      .option('from-backup', { type: 'string', describe: 'Without the local journal: a backup dir <certDir>-bak-<run-id>; the state before the run comes from each host\'s backup metadata' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Print what the rollback would do; change nothing' })
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Do not ask for confirmation' })
      .option('pause', numberOption('pause', 'Seconds between stopping and starting each etcd node (overrides the playbook)'))
      .option('break-lock', { type: 'boolean', default: false, describe: 'Remove a stale lock left by a run that died' })
      .option('reconnect-timeout', numberOption('reconnect-timeout', 'How long a parked etcd node\'s restart keeps reconnecting to its host when the SSH connection drops, before the run stops', 120))
      .epilogue('With --limit only the selected hosts are restored (and restarted); the others are left alone and the plan says so.') as unknown as Argv<RollbackArgs>,
  handler: async (args) => {
    const ui = makeUi(args);
    const r = await resolveRollbackArgs(args);
    const { inventory, playbook } = await loadInputs(r.inventory, r.playbook);
    // As run and plan do: the Manager database password from the environment, else asked on the terminal (kept in memory).
    const env = await secretsEnv({ inventory, playbook });
    if (r.certDir && !inventory.hosts.some((h) => h.vars.certDir === r.certDir))
      throw new UsageError(`--from-backup ${args['from-backup']}: no host of ${inventory.file} has the cert dir ${r.certDir} (cert dirs: ${[...new Set(inventory.hosts.map((h) => h.vars.certDir))].join(', ')})`);
    const now = new Date();
    const rollbackId = newRunId(now);
    const selected = selectHosts(inventory, args.limit);
    const fleet = await openFleet(selected, { forks: args.forks, acceptNewHostKeys: args['accept-new-host-keys'], ...sshPrompts() });
    try {
      const manager = withinLimit(managerScope(inventory, playbook, env), args.limit !== undefined ? selected.map((h) => h.name) : undefined);
      const kube = kubeconfigScope(inventory, playbook, r.runId, r.journal?.kubeconfigCopies, args.limit !== undefined ? selected.map((h) => h.name) : undefined);
      const g = await gatherRollbackFacts(fleet, inventory, playbook, r.runId, manager?.templateHosts ?? [], kube);
      const plan = planRollback({
        inventory,
        playbook,
        rollbackId,
        rollbackOf: r.runId,
        now,
        source: r.journal ? 'journal' : 'backup',
        ...(r.journal ? { journal: r.journal } : {}),
        facts: g.facts,
        unreachable: g.unreachable,
        etcd: g.etcd,
        breakLock: args['break-lock'],
        controlHost: controlIdentity().controlHost,
        ...(args.limit !== undefined ? { limit: selected.map((h) => h.name) } : {}),
        ...(manager ? { manager } : {}),
        ...(Object.keys(g.kubeconfigs).length ? { kubeconfigs: g.kubeconfigs } : {}),
        ...(args.pause !== undefined ? { pauseSeconds: args.pause } : {}),
      });
      if (args['dry-run']) {
        if (args.json) ui.data(plan);
        else ui.say(renderRollbackPlan(plan, ui.p) + '\n\n' + ui.p.dim('--dry-run: nothing was changed.'));
        if (plan.status === 'blocked') setExitCode(ExitCode.findings);
        return;
      }
      if (!args.json) ui.say(renderRollbackPlan(plan, ui.p));
      if (plan.status === 'blocked')
        throw new SafetyStop('rollback-blocked', `the rollback is blocked:\n${plan.reasons.map((x) => `  - ${x}`).join('\n')}`, 'fix the problems above and run again; no host was touched');
      await confirmOrStop(args.yes, `Roll back run ${r.runId} on ${plan.hosts.length} hosts (restore and restart etcd)?`, 'review it with --dry-run');

      const journal = new Journal(rollbackId);
      await journal.init();
      await journal.put('rollback-plan.json', plan);
      const base = { runId: rollbackId, inventory: inventory.file, playbook: playbook.file, startedAt: plan.createdAt, kind: 'rollback', rollbackOf: r.runId };
      const summary = (s: Partial<RunSummary> & { state: RunSummary['state'] }) => journal.put('run.json', { ...base, ...s });
      const original = r.journal ? new Journal(r.runId) : null;
      const x = await journaledExecution({
        what: 'rollback',
        summary: async (s) => {
          await summary(s);
          // The run it undoes learns that a rollback started, once run.json says so.
          if (s.state === 'running') await original?.event({ event: 'rollback-start', message: `rollback ${rollbackId}` }).catch(() => undefined);
        },
        apply: (signal) =>
          applyRollback(
            {
              plan,
              inventory,
              playbook,
              remotes: fleet.remotes,
              remote: (h) => {
                const x = fleet.remotes.get(h);
                if (!x) throw new SafetyStop('unreachable', `${h} is not connected`, undefined, h);
                return x;
              },
              scope: (n) => hostScope(inventory, playbook, n),
              signal,
              journal,
              etcd: g.etcd,
              options: { breakLock: args['break-lock'], ...controlIdentity() },
              env,
              reconnect: (h) => fleet.reconnect(h),
              reconnectSeconds: args['reconnect-timeout'],
            },
            { ...progressView(ui.mode, ui.say), forks: args.forks },
          ),
      });
      const { result, state, message } = x;
      const counters = fleet.counters();
      await original?.event({ event: state === 'succeeded' ? 'rolled-back' : 'rollback-failed', message: `rollback ${rollbackId}${message ? `: ${message.split('\n')[0]}` : ''}` }).catch(() => undefined);
      const stats = { wallMs: x.wallMs, connections: counters.connections, roundTrips: counters.roundTrips, hosts: fleet.remotes.size };
      const { restored, restarted } = result.results;
      if (args.json) ui.data({ rollbackId, rollbackOf: r.runId, state, stoppedAt: result.stoppedAt, error: message, restored, manager: result.results.manager, restarted, kubeconfigs: result.results.kubeconfigs ?? [], stats, journal: journal.dir });
      await endExecution(x, {
        json: args.json,
        say: ui.say,
        leftOut: () => leftOutOfPlace(fleet, inventory, playbook, { inventoryArg: inventory.file, playbookArg: r.playbook }),
        stopped: ui.p.red(`\nRollback ${rollbackId} of run ${r.runId} ${state} at step "${result.stoppedAt ?? 'start'}". Journal: ${journal.dir}\nIt can be run again: certroll rollback -i ${inventory.file} --run ${r.runId}${r.journal ? '' : ` --from-backup ${args['from-backup']}`}`),
        interruptedHint: 'stopped at a safe point',
      });
      if (!args.json) {
        const kube = result.results.kubeconfigs ?? [];
        const kubeLeft = kube.filter((k) => k.outcome === 'left');
        const kubeText = kube.length ? `, ${kube.length - kubeLeft.length} ~/.kube cop${kube.length - kubeLeft.length === 1 ? 'y' : 'ies'} as before${kubeLeft.length ? ` (${kubeLeft.length} left as changed: see above)` : ''}` : '';
        ui.say(ui.p.green(`\nRollback of run ${r.runId} succeeded in ${(stats.wallMs / 1000).toFixed(1)}s: ${restored.length} hosts restored, ${restarted.length} etcd nodes restarted${kubeText}, every cert dir byte-identical to before the run. Journal: ${journal.dir}`));
      }
    } finally {
      await fleet.close();
    }
  },
};
