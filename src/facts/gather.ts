// Read-only fact gathering over SSH: one script per host (in parallel); the etcdctl query from the first connected etcd host
// rides in that host's script.
import type { Fleet } from '../ssh/fleet.js';
import type { Inventory } from '../inventory/types.js';
import type { Playbook } from '../playbook/types.js';
import { hostFactsScript, parseHostFacts } from './host-facts.js';
import type { FleetFacts, HostFacts } from './types.js';
import { factsQuery } from './host-query.js';
import { clusterFromOutput, clusterQueryScript } from './etcd-cluster.js';
import { runSections } from '../ssh/sections.js';
import type { EtcdFacts } from './types.js';
import { hostScope } from '../inventory/targets.js';
import { gatherManagerFacts } from '../manager/facts.js';
import { gatherKubeconfigCopies } from './kubeconfig-copies.js';

/** `env`: where secrets the inventory names by variable are read (the Manager database password). */
export async function gatherFacts(fleet: Fleet, inv: Inventory, playbook: Playbook, now = new Date(), env: NodeJS.ProcessEnv = process.env): Promise<FleetFacts> {
  const facts: FleetFacts = { gatheredAt: now.toISOString(), hosts: {}, unreachable: [], etcd: null };
  for (const [host, e] of fleet.errors) facts.unreachable.push({ host, kind: e.kind, message: e.shortMessage });
  // The cluster query runs from the first connected etcd host (the first master when it is one), in the same exec as that
  // host's facts script and at the same time (two concurrent sections, src/ssh/sections.ts): one round trip fewer than a
  // query of its own, and the time of the slower of the two.
  const etcdNames = inv.groups.etcd ?? [];
  const from = [inv.firstMaster, ...etcdNames].find((n) => etcdNames.includes(n) && fleet.remotes.has(n)) ?? etcdNames.find((n) => fleet.remotes.has(n));
  const ctx = {
    inventory: inv,
    playbook,
    remote: (n: string) => fleet.remotes.get(n)!,
    scope: (n: string) => hostScope(inv, playbook, n),
  };
  // The Manager's facts and the ~/.kube copies need nothing from the hosts' facts: read at the same time as them.
  const manager = gatherManagerFacts(inv, playbook, { remote: (n) => fleet.remotes.get(n), env });
  const copies = gatherKubeconfigCopies(inv, playbook, (n) => fleet.remotes.get(n));
  manager.catch(() => undefined);
  copies.catch(() => undefined);
  const outcomes = await fleet.run(async (r) => {
    const host = inv.hosts.find((h) => h.name === r.host)!;
    const q = factsQuery(host, playbook);
    const timeoutMs = host.ssh.commandTimeout * 1000;
    if (r.host !== from) return parseHostFacts(r.host, q, (await r.sh(hostFactsScript(q), { timeoutMs })).stdout);
    let res;
    try {
      // The facts part's stderr is dropped (unread when it runs alone), so that the stderr shown for a failed query is the query's.
      res = await runSections(r, [{ name: 'facts', script: `exec 2>/dev/null\n${hostFactsScript(q)}` }, { name: 'etcd', script: clusterQueryScript(ctx, from, undefined, { served: true }) }], { timeoutMs: Math.max(timeoutMs, 30_000), concurrent: true });
    } catch (e) {
      facts.etcd = etcdUnread(from, e);
      throw e;
    }
    const etcd = res.sections.get('etcd');
    facts.etcd = etcd ? clusterFromOutput(ctx, from, etcd.stdout, etcd.exitCode, res.stderr, { served: true }) : etcdUnread(from, new Error(`the etcd query on ${from} did not run to its end (exit ${res.exitCode})`));
    return parseHostFacts(r.host, q, res.sections.get('facts')?.stdout ?? '');
  });
  for (const o of outcomes) {
    if (o.ok) facts.hosts[o.host] = o.value as HostFacts;
    else facts.unreachable.push({ host: o.host, kind: o.error.kind, message: o.error.shortMessage });
  }
  const managerFacts = await manager;
  if (managerFacts) facts.manager = managerFacts;
  const copyFacts = await copies;
  if (copyFacts) facts.kubeconfigCopies = copyFacts;
  return facts;
}

/** The etcd fact when the query could not be read (the exec failed): empty, with the error. */
const etcdUnread = (from: string, e: unknown): EtcdFacts => ({ queriedFrom: from, members: [], statuses: [], health: [], memberOfHost: {}, error: (e as Error).message });
