// Read-only facts for a rollback: per host the backup (manifest check, metadata, actual files) and the cert dir now; etcd as seen now.
import type { Fleet } from '../ssh/fleet.js';
import type { Inventory } from '../inventory/types.js';
import type { Playbook } from '../playbook/types.js';
import type { EtcdFacts } from '../facts/types.js';
import { queryCluster } from '../facts/etcd-cluster.js';
import { hostScope } from '../inventory/targets.js';
import { readRollbackHost, type RollbackHostFacts } from '../steps/rollback-read.js';
import { readKubeCopies, type KubeCopiesQuery, type KubeCopiesRollbackFacts } from '../steps/restore-kube-config.js';

export { metaToBefore, readCertDir, readRollbackHost } from '../steps/rollback-read.js';

/** Read every connected host (at most --forks at a time) and query etcd from the first reachable etcd host. */
export async function gatherRollbackFacts(
  fleet: Fleet,
  inv: Inventory,
  playbook: Playbook,
  runId: string,
  templateHosts: readonly string[] = [],
  kubeconfigs: Record<string, KubeCopiesQuery> = {},
): Promise<{ facts: Record<string, RollbackHostFacts>; unreachable: Array<{ host: string; message: string }>; etcd: EtcdFacts | null; kubeconfigs: Record<string, KubeCopiesRollbackFacts> }> {
  const facts: Record<string, RollbackHostFacts> = {};
  const kubeFacts: Record<string, KubeCopiesRollbackFacts> = {};
  const unreachable = [...fleet.errors].map(([host, e]) => ({ host, message: e.shortMessage }));
  const outcomes = await fleet.run(async (r) => {
    const host = inv.hosts.find((h) => h.name === r.host)!;
    const f = await readRollbackHost(r, host, playbook, runId, { managerTemplates: templateHosts.includes(r.host) });
    // The ~/.kube copies the run replaced (kubeadm), read before anything is restored: admin.conf still holds what it wrote.
    const q = kubeconfigs[r.host];
    if (q) kubeFacts[r.host] = await readKubeCopies(r, q, host.ssh.commandTimeout * 1000);
    return f;
  });
  for (const o of outcomes) {
    if (o.ok) facts[o.host] = o.value;
    else unreachable.push({ host: o.host, message: o.error.shortMessage });
  }
  const etcdNames = inv.groups.etcd ?? [];
  const from = etcdNames.find((n) => fleet.remotes.has(n));
  let etcd: EtcdFacts | null = null;
  if (from) {
    const ctx = { inventory: inv, playbook, remote: (n: string) => fleet.remotes.get(n)!, scope: (n: string) => hostScope(inv, playbook, n) };
    try {
      etcd = await queryCluster(ctx, from);
    } catch (e) {
      etcd = { queriedFrom: from, members: [], statuses: [], health: [], memberOfHost: {}, error: (e as Error).message };
    }
  }
  return { facts, unreachable, etcd, kubeconfigs: kubeFacts };
}

