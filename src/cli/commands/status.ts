// `certroll status -i INV [PLAYBOOK]`: read-only, from the hosts alone, one screen — who holds the lock, which members are
// parked, which hosts hold which CA and certificate, the backups by run, etcd health — and the one command to run next.
import type { Argv, CommandModule } from 'yargs';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeUi, setExitCode, sshPrompts, withFleetOptions } from '../common.js';
import { selectHosts } from '../../inventory/limit.js';
import { loadInputs } from '../../run/inputs.js';
import { listRuns } from '../../journal/journal.js';
import { openFleet } from '../../ssh/fleet.js';
import { gatherFacts } from '../../facts/gather.js';
import { listHostBackups, type HostBackups } from '../../rollback/backups.js';
import { buildStatus } from '../../status/verdict.js';
import { statusInputOf } from '../../status/left-out.js';
import { renderStatus } from '../../status/render.js';
import type { Host, Inventory } from '../../inventory/types.js';
import { heads } from './heads.js';


const DEFAULT_PLAYBOOK = 'playbooks/tos-etcd-renew.yaml';

interface StatusArgs {
  inventory: string;
  limit?: string;
  playbook?: string;
  forks: number;
  json: boolean;
  color?: boolean;
  'accept-new-host-keys': boolean;
}

/** The playbook named, else the shipped TOS playbook: from the current directory, else from certroll's own install. */
function playbookOf(arg: string | undefined): { file: string; shown: string } {
  if (arg) return { file: arg, shown: arg };
  if (existsSync(DEFAULT_PLAYBOOK)) return { file: DEFAULT_PLAYBOOK, shown: DEFAULT_PLAYBOOK };
  const shipped = fileURLToPath(new URL(`../../../${DEFAULT_PLAYBOOK}`, import.meta.url));
  return { file: shipped, shown: shipped };
}

/** Whether a process id is alive on this machine (EPERM: it exists, owned by someone else). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The hosts `status` reads: every host, or those --limit selects and the first master (the files every host is compared with). */
export function statusHosts(inventory: Inventory, limit: string | undefined): Host[] {
  if (limit === undefined) return [...inventory.hosts];
  const selected = new Set(selectHosts(inventory, limit).map((h) => h.name));
  return inventory.hosts.filter((h) => selected.has(h.name) || h.name === inventory.firstMaster);
}

export const statusCommand: CommandModule<{}, StatusArgs> = {
  ...heads.status,
  builder: (y) =>
    withFleetOptions(y.positional('playbook', { type: 'string', describe: `Playbook whose files (ca, cert) and steps to look at (default: ${DEFAULT_PLAYBOOK})` }), {
      json: 'JSON on stdout (schema certroll.status/v1)',
    })
      .epilogue(
        'With --limit only the selected hosts are read and reported, and the first master too: every host is compared with its files.\n' +
        'Exit codes of status: 0 nothing to do; 1 work left (a lock, a parked member, hosts holding different files, an unfinished run, etcd unhealthy); 2 a host could not be read; 3 bad input.',
      ) as unknown as Argv<StatusArgs>,
  handler: async (args) => {
    const ui = makeUi(args);
    const pb = playbookOf(args.playbook);
    const { inventory, playbook } = await loadInputs(args.inventory, pb.file);
    const localRuns = await listRuns();
    const read = statusHosts(inventory, args.limit);
    const fleet = await openFleet(read, { forks: args.forks, acceptNewHostKeys: args['accept-new-host-keys'], ...sshPrompts() });
    let facts;
    const backups: HostBackups[] = [];
    const backupFailures: Array<{ host: string; message: string }> = [];
    try {
      facts = await gatherFacts(fleet, inventory, playbook);
      const outcomes = await fleet.run((r) => listHostBackups(r, inventory.hosts.find((h) => h.name === r.host)!));
      for (const o of outcomes) {
        if (o.ok) backups.push(o.value);
        else backupFailures.push({ host: o.host, message: o.error.shortMessage });
      }
    } finally {
      await fleet.close();
    }
    const report = buildStatus(
      statusInputOf(
        { ...inventory, hosts: read },
        playbook,
        { facts, backups, backupFailures: backupFailures.filter((f) => !facts.unreachable.some((u) => u.host === f.host)), localRuns, pidAlive },
        { inventoryArg: args.inventory, playbookArg: pb.shown },
      ),
    );
    if (args.json) ui.data(report);
    else ui.say(renderStatus(report, ui.p));
    setExitCode(report.exitCode);
  },
};
