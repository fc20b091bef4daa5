// etcd health as the rolling restart and preflight see it: etcdctl run on a node with that node's certificates.
import { assembleEtcdFacts, etcdFactsScript, parseServed, splitEtcdFactsOutput } from '../facts/etcd-facts.js';
import type { EtcdFacts } from '../facts/types.js';
import type { Host, Inventory } from '../inventory/types.js';
import { SafetyStop } from '../errors.js';
import { quoteArgv } from '../ssh/quote.js';
import { renderArgv, type Scope } from '../playbook/template.js';
import type { Remote } from '../ssh/remote.js';

export function endpointOf(h: Host): string {
  const a = h.ip ?? h.address;
  return `https://${a.includes(':') ? `[${a}]` : a}:${h.vars.etcdClientPort}`;
}

export function etcdHosts(inv: Inventory): Host[] {
  const names = inv.groups.etcd ?? [];
  return names.map((n) => inv.hosts.find((h) => h.name === n)!).filter(Boolean);
}

export function endpointsOf(inv: Inventory): string {
  return etcdHosts(inv).map(endpointOf).join(',');
}

interface Ctx {
  inventory: Inventory;
  playbook: { etcdctl: string[] };
  remote(host: string): Remote;
  scope(name: string): Scope;
}

export function etcdctlLine(ctx: Ctx, host: string): string {
  return quoteArgv(renderArgv(ctx.playbook.etcdctl, ctx.scope(host)));
}

/**
 * Member list, status and health of every endpoint, queried from `from` (one round trip). `served`: also the certificate
 * each endpoint presents (for the facts, not for the health polls of a restart).
 */
export async function queryCluster(ctx: Ctx, from: string, endpoints = endpointsOf(ctx.inventory), opts: { served?: boolean } = {}): Promise<EtcdFacts> {
  const r = await ctx.remote(from).sh(etcdFactsScript(etcdctlLine(ctx, from), endpoints, opts), { allowFailure: true, timeoutMs: 30_000 });
  const hosts = etcdHosts(ctx.inventory);
  const facts = assembleEtcdFacts(from, splitEtcdFactsOutput(r.stdout), hosts, r.exitCode === 0 ? undefined : r.stderr.trim() || `exit ${r.exitCode}`);
  const served = opts.served ? parseServed(r.stdout) : undefined;
  if (served) facts.served = served;
  return facts;
}

/** Problems that make the cluster unfit for a restart; empty when healthy with one leader. */
/**
 * What is wrong with the cluster. `expectedDown`: client endpoints of members a certroll run left stopped (parked), which
 * this run starts first; they are not problems as long as the others keep quorum.
 */
export function clusterProblems(f: EtcdFacts, expectedMembers: number, expectedDown: string[] = []): string[] {
  const problems: string[] = [];
  const unhealthy = f.health.filter((h) => !h.healthy && !expectedDown.includes(h.endpoint));
  const healthy = f.health.filter((h) => h.healthy).length;
  if (expectedDown.length && healthy < Math.floor(expectedMembers / 2) + 1) problems.push(`only ${healthy} of ${expectedMembers} members healthy: no quorum`);
  for (const h of unhealthy) problems.push(`${h.endpoint} unhealthy${h.error ? `: ${h.error}` : ''}`);
  if (f.health.length < expectedMembers) problems.push(`${f.health.length} of ${expectedMembers} endpoints answered the health check`);
  if (!f.leaderHost && !f.statuses.some((s) => s.leaderId && s.leaderId !== '0')) problems.push('no leader');
  return problems;
}

export async function checkClusterHealthy(ctx: Ctx, from: string, expectedDown: string[] = []): Promise<EtcdFacts> {
  const f = await queryCluster(ctx, from);
  const n = etcdHosts(ctx.inventory).length;
  const problems = clusterProblems(f, n, expectedDown);
  if (problems.length)
    throw new SafetyStop('cluster-unhealthy', `etcd cluster is not healthy (queried from ${from}): ${problems.join('; ')}`, 'repair the cluster (etcdctl endpoint health) before renewing; nothing was changed by this check', from);
  return f;
}
