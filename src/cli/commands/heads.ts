// The name and one-line description of every certroll command, in the order --help lists them: all that `certroll --help`
// needs. A command's module (its options and handler, and everything they import) is loaded only when its name is on the
// command line (commands/index.ts), so that --help, `runs` or a refused flag start without loading the rest.
export const heads = {
  check: { command: 'check', describe: 'Read every certificate on every host (one SSH round trip each): expiry, issuer, SANs, copies that differ' },
  plan: { command: 'plan [playbook]', describe: 'Dry run: read the fleet, print every action the playbook would take (changes nothing)' },
  run: { command: 'run [playbook]', describe: 'Run a playbook against the inventory: plan, confirm, then apply with live progress (--resume continues a stopped run)' },
  status: { command: 'status [playbook]', describe: 'Read-only: the lock, parked members, certificate versions per host, backups, etcd health, and the one command to run next' },
  runs: { command: 'runs', describe: 'List past runs from the local journal ($XDG_STATE_HOME/certroll/runs, or $CERTROLL_HOME/runs)' },
  rollback: { command: 'rollback [playbook]', describe: 'Put every host back as it was before a run: verify all backups, restore the cert dirs, rolling-restart etcd, check byte-identical' },
  backups: { command: 'backups', describe: 'List the backups on every host (run, date, size, verified); --prune --keep N deletes older ones' },
  inventory: { command: 'inventory', describe: 'Inventories: `inventory show -i FILE` prints the resolved inventory (certroll or Ansible), --format yaml converts it' },
} as const;

export type CommandName = keyof typeof heads;
