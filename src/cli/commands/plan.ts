// `certroll plan`: read the fleet and print exactly what `run` would do; writes nothing anywhere.
import type { Argv, CommandModule } from 'yargs';
import { ExitCode, UsageError } from '../../errors.js';
import { makeUi, secretsEnv, setExitCode, sshPrompts, withFleetOptions } from '../common.js';
import { preparePlan } from '../../run/prepare.js';
import { loadInputs } from '../../run/inputs.js';
import { renderPlan } from '../../plan/render.js';
import { numberOption, requirePlaybook } from '../flags.js';
import { heads } from './heads.js';

export interface PlanArgs {
  inventory: string;
  limit?: string;
  playbook: string;
  forks: number;
  json: boolean;
  color?: boolean;
  'accept-new-host-keys': boolean;
  'renew-within-days': number;
  force: boolean;
  pause?: number;
  verbose: boolean;
}

/**
 * Options `plan` and `run` share. A renewal replaces the CA every host of the cluster trusts, so plan and run always
 * cover the whole inventory: --limit (declared with the other fleet options) is refused, before any host is contacted.
 */
export function planOptions<T>(y: Argv<T>, required = true) {
  return withFleetOptions(
    y.positional('playbook', { type: 'string', describe: required ? 'Playbook YAML (e.g. playbooks/tos-etcd-renew.yaml)' : 'Playbook YAML (taken from the journal with --resume)' }),
    { inventoryFromJournal: !required, json: 'Print the plan as JSON on stdout' },
  )
    .option('renew-within-days', numberOption('renew-within-days', 'Renew when a certificate expires within this many days', 90))
    .option('force', { type: 'boolean', default: false, describe: 'Renew even when nothing expires soon' })
    .option('pause', numberOption('pause', 'Seconds to wait between stopping and starting each etcd node (overrides the playbook)'))
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'Print every action of every host with its details (sha256, mode, owner, staging name, whole diffs)' })
    .middleware(((a: { limit?: unknown; _: unknown[] }) => {
      if (a.limit !== undefined) throw new UsageError(limitRefused(String(a._[0] ?? 'plan')));
    }) as never, true);
}

/** Why `plan` and `run` take no --limit. */
export function limitRefused(command: string): string {
  return `--limit: ${command} always covers the whole inventory (a renewal replaces the CA that every host trusts, so a part of the cluster cannot be renewed alone); --limit selects hosts for check, status, backups and rollback`;
}

export const planCommand: CommandModule<{}, PlanArgs> = {
  ...heads.plan,
  builder: (y) => planOptions(y) as unknown as Argv<PlanArgs>,
  handler: async (args) => {
    const ui = makeUi(args);
    const playbook = requirePlaybook('plan', args.playbook);
    const inputs = await loadInputs(args.inventory, playbook);
    const prepared = await preparePlan({
      inventory: args.inventory,
      playbook,
      inputs,
      env: await secretsEnv(inputs),
      prompts: sshPrompts(),
      forks: args.forks,
      acceptNewHostKeys: args['accept-new-host-keys'],
      renewWithinDays: args['renew-within-days'],
      force: args.force,
      ...(args.pause !== undefined ? { pauseSeconds: args.pause } : {}),
    });
    await prepared.fleet.close();
    if (args.json) ui.data(prepared.plan);
    else ui.say(renderPlan(prepared.plan, ui.p, { verbose: args.verbose }));
    if (prepared.plan.status === 'blocked') setExitCode(ExitCode.findings);
  },
};
