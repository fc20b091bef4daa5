// After a run or rollback stops: what the hosts show out of place, read from them at once and judged by the same verdict
// as `certroll status`, so the stop message names the hosts and files left out of place and the one command that finishes.
import { hostname } from 'node:os';
import type { Fleet } from '../ssh/fleet.js';
import type { Inventory } from '../inventory/types.js';
import type { Playbook } from '../playbook/types.js';
import { gatherFacts } from '../facts/gather.js';
import { listRuns } from '../journal/journal.js';
import { endpointOf, resolveTargets } from '../inventory/targets.js';
import { buildStatus, type StatusInput } from './verdict.js';
import type { StatusReport } from './types.js';

/** The verdict's input from an inventory, a playbook and what was read from the hosts (shared by `status` and stop messages). */
export function statusInputOf(
  inventory: Inventory,
  playbook: Playbook,
  read: Pick<StatusInput, 'facts' | 'backups' | 'backupFailures' | 'localRuns' | 'pidAlive'>,
  args: { inventoryArg: string; playbookArg: string },
): StatusInput {
  return {
    inventoryArg: args.inventoryArg,
    playbookArg: args.playbookArg,
    inventoryFile: inventory.file,
    hosts: inventory.hosts.map((h) => ({ name: h.name, certDir: h.vars.certDir, manifestsDir: h.vars.manifestsDir, parkDir: h.vars.parkDir, ...(inventory.groups.etcd?.includes(h.name) ? { etcdEndpoint: endpointOf(h) } : {}) })),
    firstMaster: inventory.firstMaster,
    files: { ca: playbook.files.ca, cert: playbook.files.cert },
    ...perNodeOf(inventory, playbook),
    ...read,
    now: new Date(),
    thisMachine: hostname(),
  };
}

/** kubeadm: the leaves are renewed per node (renew-leaves); the CA is compared across that step's targets only. */
function perNodeOf(inventory: Inventory, playbook: Playbook): Pick<StatusInput, 'perNode'> {
  const leaves = playbook.steps.find((s) => s.type === 'renew-leaves');
  return leaves ? { perNode: { hosts: resolveTargets(inventory, leaves.targets) } } : {};
}

/** The status verdict of the fleet right now (no backup listing: the stop message needs the out-of-place state, fast). */
export async function statusNow(fleet: Fleet, inventory: Inventory, playbook: Playbook, args: { inventoryArg: string; playbookArg: string }): Promise<StatusReport> {
  const facts = await gatherFacts(fleet, inventory, playbook);
  // This process is about to exit: a lock it still holds is a lock of a stopped run.
  return buildStatus(statusInputOf(inventory, playbook, { facts, backups: [], backupFailures: [], localRuns: await listRuns(), pidAlive: () => false }, args));
}

/** The stop message's block: every finding (hosts and files out of place) and the next command; never throws. */
export async function leftOutOfPlace(fleet: Fleet, inventory: Inventory, playbook: Playbook, args: { inventoryArg: string; playbookArg: string }): Promise<string> {
  let r: StatusReport;
  try {
    r = await statusNow(fleet, inventory, playbook, args);
  } catch (e) {
    return `The hosts could not be read after the stop (${(e as Error).message.split('\n')[0]}): run certroll status -i ${args.inventoryArg} ${args.playbookArg}`;
  }
  const lines = ['Where the hosts stand now (read from them after the stop, as `certroll status` shows it):'];
  if (!r.findings.length) lines.push('  nothing is out of place: no lock, nothing parked, every host holds the same files');
  for (const f of r.findings) lines.push(`  - ${f}`);
  if (r.next.command) lines.push(`Next: ${r.next.command}`, `  (${r.next.why})`);
  else if (r.next.manual?.length) lines.push(`Next, by hand (${r.next.why}):`, ...r.next.manual.map((m) => `  ${m}`));
  return lines.join('\n');
}
