// The etcd cluster as facts: member list, status and health of every endpoint, queried with etcdctl from one node with that
// node's certificates (one round trip), and what is wrong with it.
import { assembleEtcdFacts, etcdFactsScript, parseServed, splitEtcdFactsOutput } from './etcd-facts.js';
import type { EtcdFacts } from './types.js';
import type { Inventory } from '../inventory/types.js';
import { endpointsOf, etcdHosts } from '../inventory/targets.js';
import { quoteArgv } from '../ssh/quote.js';
import { renderArgv, type Scope } from '../playbook/template.js';
import type { Remote } from '../ssh/remote.js';

/** What a cluster query needs: the inventory, the playbook's etcdctl argv, a host's connection and template scope. */
export interface EtcdQueryContext {
  inventory: Inventory;
  playbook: { etcdctl: string[] };
  remote(host: string): Remote;
  scope(name: string): Scope;
}

export function etcdctlLine(ctx: EtcdQueryContext, host: string): string {
  return quoteArgv(renderArgv(ctx.playbook.etcdctl, ctx.scope(host)));
}

/**
 * Member list, status and health of every endpoint, queried from `from` (one round trip). `served`: also the certificate
 * each endpoint presents (for the facts, not for the health polls of a restart).
 */
export async function queryCluster(ctx: EtcdQueryContext, from: string, endpoints = endpointsOf(ctx.inventory), opts: { served?: boolean } = {}): Promise<EtcdFacts> {
  const r = await ctx.remote(from).sh(clusterQueryScript(ctx, from, endpoints, opts), { allowFailure: true, timeoutMs: 30_000 });
  return clusterFromOutput(ctx, from, r.stdout, r.exitCode, r.stderr, opts);
}

/** queryCluster's script, for a caller that runs it in one exec with other work (src/ssh/sections.ts). */
export function clusterQueryScript(ctx: EtcdQueryContext, from: string, endpoints = endpointsOf(ctx.inventory), opts: { served?: boolean } = {}): string {
  return etcdFactsScript(etcdctlLine(ctx, from), endpoints, opts);
}

/** The facts from clusterQueryScript's output and exit code (`stderr`: the error shown when it failed). */
export function clusterFromOutput(ctx: Pick<EtcdQueryContext, 'inventory'>, from: string, stdout: string, exitCode: number | null, stderr: string, opts: { served?: boolean } = {}): EtcdFacts {
  const hosts = etcdHosts(ctx.inventory);
  const facts = assembleEtcdFacts(from, splitEtcdFactsOutput(stdout), hosts, exitCode === 0 ? undefined : stderr.trim() || `exit ${exitCode}`);
  const served = opts.served ? parseServed(stdout) : undefined;
  if (served) facts.served = served;
  return facts;
}

/**
 * Problems that make the cluster unfit for a restart; empty when healthy with one leader. What is wrong with the cluster. `expectedDown`: client endpoints of members a certroll run left stopped (parked), which
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

