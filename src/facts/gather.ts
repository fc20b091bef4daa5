// Read-only fact gathering over SSH: one script per host (in parallel) and one etcdctl query from the first reachable etcd host.
import type { Fleet } from '../ssh/fleet.js';
import type { Inventory } from '../inventory/types.js';
import type { Playbook } from '../playbook/types.js';
import { hostFactsScript, parseHostFacts } from './host-facts.js';
import type { FleetFacts, HostFacts } from './types.js';
import { factsQuery } from './host-query.js';
import { queryCluster } from './etcd-cluster.js';
import { hostScope } from '../inventory/targets.js';
import { gatherManagerFacts } from '../manager/facts.js';
import { gatherKubeconfigCopies } from './kubeconfig-copies.js';

/** `env`: where secrets the inventory names by variable are read (the Manager database password). */
export async function gatherFacts(fleet: Fleet, inv: Inventory, playbook: Playbook, now = new Date(), env: NodeJS.ProcessEnv = process.env): Promise<FleetFacts> {
  const facts: FleetFacts = { gatheredAt: now.toISOString(), hosts: {}, unreachable: [], etcd: null };
  for (const [host, e] of fleet.errors) facts.unreachable.push({ host, kind: e.kind, message: e.shortMessage });
  const outcomes = await fleet.run(async (r) => {
    const host = inv.hosts.find((h) => h.name === r.host)!;
    const q = factsQuery(host, playbook);
    const out = await r.sh(hostFactsScript(q), { timeoutMs: host.ssh.commandTimeout * 1000 });
    return parseHostFacts(r.host, q, out.stdout);
  });
  for (const o of outcomes) {
    if (o.ok) facts.hosts[o.host] = o.value as HostFacts;
    else facts.unreachable.push({ host: o.host, kind: o.error.kind, message: o.error.shortMessage });
  }
  const etcdNames = inv.groups.etcd ?? [];
  const from = [inv.firstMaster, ...etcdNames].find((n) => etcdNames.includes(n) && fleet.remotes.has(n)) ?? etcdNames.find((n) => fleet.remotes.has(n));
  if (from) {
    const ctx = {
      inventory: inv,
      playbook,
      remote: (n: string) => fleet.remotes.get(n)!,
      scope: (n: string) => hostScope(inv, playbook, n),
    };
    try {
      facts.etcd = await queryCluster(ctx, from, undefined, { served: true });
    } catch (e) {
      facts.etcd = { queriedFrom: from, members: [], statuses: [], health: [], memberOfHost: {}, error: (e as Error).message };
    }
  }
  const manager = await gatherManagerFacts(inv, playbook, { remote: (n) => fleet.remotes.get(n), env });
  if (manager) facts.manager = manager;
  const copies = await gatherKubeconfigCopies(inv, playbook, (n) => fleet.remotes.get(n));
  if (copies) facts.kubeconfigCopies = copies;
  return facts;
}
