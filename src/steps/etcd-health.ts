// etcd health as the rolling restart and preflight require it: the cluster query (facts/etcd-cluster.ts) or a safety stop.
import type { EtcdFacts } from '../facts/types.js';
import { SafetyStop } from '../errors.js';
import { clusterProblems, queryCluster, type EtcdQueryContext } from '../facts/etcd-cluster.js';
import { etcdHosts } from '../inventory/targets.js';

export async function checkClusterHealthy(ctx: EtcdQueryContext, from: string, expectedDown: string[] = []): Promise<EtcdFacts> {
  return clusterHealthy(ctx, from, await queryCluster(ctx, from), expectedDown);
}

/** The same judgement of facts already queried (e.g. in one exec with other work). */
export function clusterHealthy(ctx: Pick<EtcdQueryContext, 'inventory'>, from: string, f: EtcdFacts, expectedDown: string[] = []): EtcdFacts {
  const n = etcdHosts(ctx.inventory).length;
  const problems = clusterProblems(f, n, expectedDown);
  if (problems.length)
    throw new SafetyStop('cluster-unhealthy', `etcd cluster is not healthy (queried from ${from}): ${problems.join('; ')}`, 'repair the cluster (etcdctl endpoint health) before renewing; nothing was changed by this check', from);
  return f;
}
