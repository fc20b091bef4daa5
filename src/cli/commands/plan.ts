// `certroll plan`: read the fleet and print exactly what `run` would do; writes nothing anywhere.
import type { Argv, CommandModule } from 'yargs';
import { ExitCode } from '../../errors.js';
import { makeUi, setExitCode } from '../common.js';
import { preparePlan } from '../pipeline.js';
import { renderPlan } from '../../plan/render.js';
import { checkFlags, numberOption, requirePlaybook } from '../flags.js';

export interface PlanArgs {
  inventory: string;
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

/** Options `plan` and `run` share. */
export function planOptions<T>(y: Argv<T>, required = true) {
  return y
    .positional('playbook', { type: 'string', describe: required ? 'Playbook YAML (e.g. playbooks/tos-etcd-renew.yaml)' : 'Playbook YAML (taken from the journal with --resume)' })
    .option('inventory', { alias: 'i', type: 'string', ...(required ? { demandOption: 'Name the inventory with -i FILE (see inventories/).' } : {}), describe: required ? 'Inventory YAML file' : 'Inventory YAML file (taken from the journal with --resume)' })
    .option('forks', numberOption('forks', 'Hosts handled in parallel', 20))
    .option('json', { type: 'boolean', default: false, describe: 'Print the plan as JSON on stdout' })
    .option('color', { type: 'boolean', describe: 'Force colours on/off (default: on for a TTY, off with NO_COLOR)' })
    .option('accept-new-host-keys', { type: 'boolean', default: false, describe: 'Add unknown host keys to known_hosts (changed keys are always refused)' })
    .option('renew-within-days', numberOption('renew-within-days', 'Renew when a certificate expires within this many days', 90))
    .option('force', { type: 'boolean', default: false, describe: 'Renew even when nothing expires soon' })
    .option('pause', numberOption('pause', 'Seconds to wait between stopping and starting each etcd node (overrides the playbook)'))
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'Print every action of every host with its details (sha256, mode, owner, staging name, whole diffs)' })
    .middleware(checkFlags as never, true);
}

export const planCommand: CommandModule<{}, PlanArgs> = {
  command: 'plan [playbook]',
  describe: 'Dry run: read the fleet, print every action the playbook would take (changes nothing)',
  builder: (y) => planOptions(y) as unknown as Argv<PlanArgs>,
  handler: async (args) => {
    const ui = makeUi(args);
    const prepared = await preparePlan({
      inventory: args.inventory,
      playbook: requirePlaybook('plan', args.playbook),
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
