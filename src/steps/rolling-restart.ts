// Step `rolling-restart`: one etcd node at a time, followers first and the leader last, with quorum and health checks around each.
import { HostError, Interrupted, SafetyStop } from '../errors.js';
import type { Remote } from '../ssh/remote.js';
import { sh, quoteArgv } from '../ssh/quote.js';
import { renderArgv } from '../playbook/template.js';
import { backupDirOf } from '../host-paths.js';
import type { RollingRestartStep } from '../playbook/types.js';
import type { Host } from '../inventory/types.js';
import type { Action } from '../plan/types.js';
import type { ApplyContext, StepModule, WorkItem } from './types.js';
import type { EtcdFacts } from '../facts/types.js';
import { clusterProblems, etcdctlLine, queryCluster } from '../facts/etcd-cluster.js';
import { endpointOf, endpointsOf, resolveTargets } from '../inventory/targets.js';
import { restoreCertDir } from './restore.js';
import { containersGone, containerTokens, healthWaitScript, judgeHealth, judgePodHealth, parseHealthWait, parseStopWait, stopWaitScript, type ListingMode } from './restart-waits.js';
import { parseServedCheck, servedCheckScript, servedProblems } from './served-check.js';
import { change, sleep } from './shared.js';
import { failpoint } from '../failpoint.js';
import { parkMarkerOf } from '../host-paths.js';
import { parkedState } from '../plan/unfinished.js';

type RestartAction = Extract<Action, { kind: 'restart' }>;

/** Followers in inventory order, then the leader. */
export function restartOrder(hosts: string[], leader: string | undefined): string[] {
  return [...hosts.filter((h) => h !== leader), ...hosts.filter((h) => h === leader)];
}

/** Majority of n members. */
export const quorumOf = (n: number) => Math.floor(n / 2) + 1;

/** Whether the cluster keeps quorum with `healthy` healthy members of `n` once one more member stops. */
export function keepsQuorumWithoutOne(healthy: number, n: number): boolean {
  return healthy - 1 >= quorumOf(n);
}

/** Pick the next node to restart: the first remaining one that is not the current leader (the leader only when it is the last). */
export function nextNode(remaining: string[], leader: string | undefined): string {
  return remaining.find((h) => h !== leader) ?? remaining[0]!;
}

/**
 * What a node's restart restarts, in order. Without pods (TOS) one unit: every manifest parked at once, the listing read
 * for names, healthy when the etcd member is and the apiserver check passes. With pods (kubeadm) one unit per pod: its
 * manifest alone, its running container ids listed (`containerIds` + `^NAME$`), its own health.
 */
export interface RestartUnit {
  /** What messages call it: the pod's container name, or the node's manifests. */
  label: string;
  manifests: string[];
  names: string[];
  mode: ListingMode;
  /** The listing command (argv, templated per host). */
  check: string[];
  /** Healthy needs the node's etcd member healthy and caught up. */
  etcd: boolean;
  /** Commands (argv, templated) that must all exit 0. */
  checks: string[][];
}

export function restartUnits(spec: RollingRestartStep): RestartUnit[] {
  if (!spec.pods) return [{ label: spec.manifests.join(', '), manifests: spec.manifests, names: spec.containerNames, mode: 'names', check: spec.containerCheck, etcd: true, checks: spec.apiserverCheck ? [spec.apiserverCheck] : [] }];
  return spec.pods.map((p) => ({
    label: p.container,
    manifests: [p.manifest],
    names: [p.container],
    mode: 'ids',
    check: [...spec.containerIds, `^${p.container}$`],
    etcd: p.health === 'etcd',
    checks: p.health === 'etcd' ? [] : p.health,
  }));
}

/** What the plan says is checked after a node's restart. */
export function checksAfterOf(spec: RollingRestartStep, restored = false): string[] {
  const etcd = [`etcd member healthy with the ${restored ? 'restored' : 'new'} certificates`, `raft index within ${spec.maxRaftLag} of the leader`];
  if (!spec.pods) return [...etcd, ...(spec.apiserverCheck ? ['apiserver answers'] : [])];
  return [
    ...spec.pods.map((p) => `${p.container}: a new container running, ${p.health === 'etcd' ? etcd.join(', ') : `${p.health.length} health check${p.health.length === 1 ? '' : 's'} passing`}`),
    ...(spec.served.length ? [`served certificates = the files on disk (${spec.served.length} port${spec.served.length === 1 ? '' : 's'})`] : []),
  ];
}

/**
 * The restart order of a step's hosts (pure; run's plan half and the rollback planner both use it): nodes a dead run left
 * parked first (they are down already), then the others with the etcd leader's node last; hosts already done are left out.
 */
export function planRestartOrder(hosts: string[], leader: string | undefined, parkedByCertroll: (h: string) => boolean, done: ReadonlySet<string> = new Set()): string[] {
  const todo = hosts.filter((h) => !done.has(h));
  return [...todo.filter(parkedByCertroll), ...restartOrder(todo.filter((h) => !parkedByCertroll(h)), leader)];
}

/** The restart action of one node, as both planners build it. */
export function restartActionOf(spec: RollingRestartStep, host: Host, o: { order: number; leader: boolean; pauseSeconds: number; restored?: boolean; parked?: { runIds: string[]; files: string[] } | null }): RestartAction {
  return {
    kind: 'restart',
    host: host.name,
    order: o.order,
    leader: o.leader,
    manifests: spec.manifests,
    parkDir: host.vars.parkDir,
    manifestsDir: host.vars.manifestsDir,
    pauseSeconds: o.pauseSeconds,
    checksAfter: checksAfterOf(spec, o.restored),
    ...(spec.pods ? { oneByOne: true } : {}),
    ...(o.parked ? { parked: { runIds: o.parked.runIds, files: o.parked.files } } : {}),
  };
}

/** The step types that put new certificates on the hosts (the renewals a restart follows; see `needs` below). */
const RENEWALS = ['distribute', 'renew-cas', 'renew-leaves', 'renew-kubeconfigs'] as const;

/**
 * Whether the earlier planned steps change certificates (or the step restarts regardless: `when: always`). On a resume,
 * a renewal the stopped run finished counts: its files are on disk and the nodes it did not restart must still be
 * (kubeadm: renew-leaves done earlier, no material, no staging action; before, the restart was dropped and a pod the
 * stopped run had parked stayed parked).
 */
export function restartNeeded(spec: Pick<RollingRestartStep, 'when'>, ctx: { material: unknown; planned: Array<{ actions: Action[]; type: string; done?: unknown }> }): boolean {
  return (
    spec.when === 'always' ||
    ctx.material !== null ||
    ctx.planned.some((s) => s.actions.some((a) => a.kind === 'swap' || a.kind === 'stage') || (s.done !== undefined && (RENEWALS as readonly string[]).includes(s.type)))
  );
}

/** Where the restart parks manifests must be outside the manifests dir (the kubelet reads every file there) and never /tmp. */
export function parkDirProblem(manifestsDir: string, parkDir: string): string | undefined {
  const norm = (p: string) => p.replace(/\/+$/, '');
  const m = norm(manifestsDir);
  const p = norm(parkDir);
  if (p === m || p.startsWith(`${m}/`)) return `the park dir ${parkDir} is inside the manifests dir ${manifestsDir}: the kubelet would start a parked manifest as a second pod`;
  if (p === '/tmp' || p.startsWith('/tmp/') || p === '/var/tmp' || p.startsWith('/var/tmp/')) return `the park dir ${parkDir} is under a temporary directory: a parked manifest may not survive a reboot, and a move there may cross filesystems`;
  return undefined;
}

export const rollingRestart: StepModule<RollingRestartStep> = {
  type: 'rolling-restart',
  // Never on a fleet whose lock, backup or new files did not happen.
  // A failed renewal (TOS: distribute; kubeadm: renew-cas, renew-leaves, renew-kubeconfigs) never leads to a restart.
  needs: ['preflight', 'backup', ...RENEWALS],
  changesLiveState: true,
  plan(spec, ctx) {
    const hosts = ctx.hostsOf(spec.targets);
    const parkedOf = (h: string) => {
      const f = ctx.hostFacts(h);
      return f ? parkedState(f, spec.manifests, ctx.host(h).vars.parkDir) : null;
    };
    // A node a dead run left parked (its renewal did not finish): the restart puts it back and restarts every node, also
    // when this plan renews nothing itself (kubeadm after a run killed mid-restart, recovered from the hosts alone).
    const leftParked = hosts.filter((h) => parkedOf(h)?.byCertroll);
    if (!restartNeeded(spec, ctx) && !leftParked.length) return { hosts, actions: [], notes: ['no new certificates: no restart needed'] };
    const leader = ctx.facts.etcd?.leaderHost;
    const done = new Set(ctx.resume?.restarted ?? []);
    // A node a dead run left stopped goes first (it is down already); then followers, the leader last.
    const order = planRestartOrder(hosts, leader, (h) => Boolean(parkedOf(h)?.byCertroll), done);
    const pause = ctx.pauseSeconds ?? spec.pauseSeconds;
    const actions: Action[] = order.map((h, i) => {
      const v = ctx.host(h).vars;
      const p = parkedOf(h);
      const where = parkDirProblem(v.manifestsDir, v.parkDir);
      if (where) ctx.warn({ level: 'block', code: 'park-dir', host: h, message: `${h}: ${where}; set vars.parkDir to a directory beside it on the same filesystem` });
      if (p && !p.byCertroll)
        ctx.warn({
          level: 'block',
          code: 'manifest-not-in-place',
          host: h,
          message: `${h}: ${p.unmarked.map((m) => `${v.manifestsDir}/${m}`).join(', ')} not in place${p.unmarked.some((m) => ctx.hostFacts(h)!.manifests.parked.includes(m)) ? ` (found in ${v.parkDir} without a certroll marker: not parked by certroll)` : ''}; put ${p.unmarked.length > 1 ? 'them' : 'it'} back before renewing`,
        });
      if (p?.byCertroll)
        ctx.warn({ level: 'warn', code: 'node-parked', host: h, message: `${h}: stopped by run ${p.byCertroll.runIds.join(', ')} (${p.byCertroll.files.join(', ')}); its manifests are put back first, after the new certificates are in place` });
      return restartActionOf(spec, ctx.host(h), { order: i + 1, leader: h === leader, pauseSeconds: pause, parked: p?.byCertroll ?? null });
    });
    const notes = [
      ...(done.size ? [`already restarted by the stopped run: ${[...done].join(', ')}`] : []),
      ...(spec.when === 'always' && !ctx.material ? ['when: always: restarted although this run renews nothing'] : []),
      ...(leftParked.length && !restartNeeded(spec, ctx) ? [`restarted to finish the renewal a stopped run left parked on ${leftParked.join(', ')}`] : []),
      `restart order: ${order.join(' → ')}${leader ? ` (leader ${leader} last)` : ' (leader unknown)'}`,
      'before each node: cluster healthy and keeps quorum without it',
      ...(spec.pods ? [`on each node, one pod at a time: ${spec.pods.map((p) => p.container).join(' → ')} (manifest parked, container gone, pause, back, a new container id running, healthy)`] : []),
      ...(spec.served.length && order[0]
        ? [`after each node: the certificates it serves are the files on disk (TLS handshake on the node; ${order[0]}: ${spec.served.map((x) => `${renderArgv([x.endpoint], ctx.scope(order[0]!))[0]} = ${renderArgv([x.cert], ctx.scope(order[0]!))[0]}`).join(', ')})`]
        : []),
    ];
    return { hosts: order, actions, notes };
  },
  apply(step, spec, ctx) {
    const planned = step.actions.filter((a): a is RestartAction => a.kind === 'restart');
    const remaining = planned.map((a) => a.host);
    const items: WorkItem[] = planned.map((_, i) => ({
      title: `node ${i + 1}/${planned.length}`,
      run: async (report) => {
        if (ctx.signal.aborted) throw new Interrupted(`stopped before restarting node ${i + 1}/${planned.length} (${remaining.join(', ')} not restarted yet)`);
        const parked = planned.find((p) => p.parked && remaining.includes(p.host));
        if (parked) {
          // Down already (a dead run parked it): no quorum check before, the same health checks after.
          remaining.splice(remaining.indexOf(parked.host), 1);
          const timing = await restartOne(ctx, spec, parked, report);
          await ctx.journalNote?.({ event: 'node-restarted', host: parked.host, message: 'parked by a stopped run' });
          await ctx.journalNote?.({ event: 'node-timing', host: parked.host, message: JSON.stringify(timing) });
          failpoint('node.after');
          return;
        }
        const first = await queryCluster(ctx, remaining[0]!);
        const host = nextNode(remaining, first.leaderHost);
        // Quorum is judged from the node about to stop; reuse the first look when it came from that node.
        const pre = host === remaining[0] ? first : await queryCluster(ctx, host);
        remaining.splice(remaining.indexOf(host), 1);
        const a = planned.find((p) => p.host === host)!;
        report(`${host}${host === pre.leaderHost ? ' (leader)' : ''}: checking cluster health and quorum`);
        try {
          const timing = await restartOne(ctx, spec, a, report, { pre });
          await ctx.journalNote?.({ event: 'node-restarted', host, message: host === pre.leaderHost ? 'leader' : 'follower' });
          await ctx.journalNote?.({ event: 'node-timing', host, message: JSON.stringify(timing) });
          failpoint('node.after');
        } catch (e) {
          if (!(e instanceof SafetyStop) || !NODE_FAILURES.includes(e.check)) throw e;
          throw await onNodeFailure(ctx, spec, a, e, report);
        }
      },
    }));
    return { items, concurrent: false };
  },
};

/** What restarting one node needs: shared by the rolling restart of `run` and of `rollback`. */
export type RestartContext = Pick<ApplyContext, 'inventory' | 'playbook' | 'remote' | 'scope' | 'runId' | 'signal' | 'journalIntent' | 'reconnect' | 'reconnectSeconds'>;

export const DEFAULT_RECONNECT_SECONDS = 120;

/** The safety stops of a node that came back wrong (not a refusal before touching it): `--on-failure` handles these. */
export const NODE_FAILURES: readonly string[] = ['health-timeout', 'container-exited', 'served-old'];

/** How long a member may stay unhealthy after one of its containers exited before the restart counts as failed. */
const EXIT_GRACE_MS = 5000;

/** A dropped or refused SSH connection (sshd restarted, network blip), as opposed to a command that failed. */
export const isConnectionLoss = (e: unknown): e is HostError => e instanceof HostError && (e.kind === 'closed' || e.kind === 'connect' || e.kind === 'timeout' && /connect|handshake/i.test(e.message));

/** Delays between reconnection attempts: 1, 2, 4, 8 s, then every 10 s. */
export const reconnectDelayMs = (attempt: number) => Math.min(10_000, 1000 * 2 ** attempt);

/**
 * Run fn on the host's connection; when the connection is lost, reconnect with backoff for up to ctx.reconnectSeconds
 * and run it again (`beforeRetry` first, on the new connection). fn must be safe to run again. Throws the loss as a
 * SafetyStop naming the host and `stranded` (what is left out of place) when the host stays unreachable.
 */
export async function withReconnect<T>(
  ctx: RestartContext,
  host: string,
  report: (m: string) => void,
  stranded: () => string,
  fn: (r: Remote) => Promise<T>,
  beforeRetry?: (r: Remote) => Promise<void>,
): Promise<T> {
  try {
    return await fn(ctx.remote(host));
  } catch (e) {
    if (!isConnectionLoss(e) || !ctx.reconnect) throw e;
    const limit = ctx.reconnectSeconds ?? DEFAULT_RECONNECT_SECONDS;
    const deadline = Date.now() + limit * 1000;
    let last: Error = e;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      report(`${host}: SSH connection lost (${last.message.split('\n')[0]}); reconnecting, attempt ${attempt + 1} (giving up after ${limit}s)`);
      await sleep(Math.min(reconnectDelayMs(attempt), Math.max(0, deadline - Date.now())));
      try {
        const r = await ctx.reconnect(host);
        await ctx.journalIntent?.({ event: 'reconnected', host, message: `after ${attempt + 1} attempt(s)` });
        report(`${host}: reconnected`);
        if (beforeRetry) await beforeRetry(r);
        return await fn(r);
      } catch (again) {
        if (!isConnectionLoss(again)) throw again;
        last = again;
      }
    }
    throw new SafetyStop(
      'connection-lost',
      `${host}: SSH connection lost and not back within ${limit}s (${last.message.split('\n')[0]}); ${stranded()}`,
      `when ${host} answers SSH again: certroll run --resume ${ctx.runId} -i ${ctx.inventory.file} (it puts the parked manifests back first and checks the member); or wait longer with --reconnect-timeout`,
      host,
    );
  }
}

/** Build the restart action of one etcd host (what `plan` would have planned), for callers outside a plan. */
export function restartActionFor(ctx: RestartContext, spec: RollingRestartStep, host: string, order: number, leader: boolean, pauseSeconds = spec.pauseSeconds): RestartAction {
  return { ...restartActionOf(spec, ctx.inventory.hosts.find((h) => h.name === host)!, { order, leader, pauseSeconds }), checksAfter: [] };
}

/** Where a node's restart spent its time: waiting for the containers to stop, the pause, waiting for health (summed over its pods). */
export interface RestartTiming {
  stopWaitMs: number;
  pauseMs: number;
  healthWaitMs: number;
  /** One-by-one restarts (pods): each pod's running container ids before and the new one after. */
  pods?: Array<{ container: string; before: string[]; after?: string }>;
  /** The served-certificate check after the node: each endpoint and the serial it serves. */
  served?: Array<{ endpoint: string; serial: string }>;
}

/**
 * Restart one node: check etcd health and quorum (an etcd member), then each restart unit in turn (restartUnits: every
 * manifest at once for TOS, one static pod at a time for kubeadm): park, wait until its containers are gone, pause, move
 * back, wait until healthy (a new container id, etcd caught up, the health checks passing); then, when the step lists
 * served ports, a TLS handshake on each shows the certificate on disk. Throws SafetyStop naming the node and check.
 */
export async function restartOne(ctx: RestartContext, spec: RollingRestartStep, a: RestartAction, report: (m: string) => void, opts: { skipQuorumCheck?: boolean; pre?: EtcdFacts } = {}): Promise<RestartTiming> {
  const members = ctx.inventory.groups.etcd ?? [];
  const n = members.length;
  // The cluster as the caller just saw it (from this node's own view), or a fresh look. A node that is no etcd member
  // (external etcd) cannot cost quorum.
  const pre = opts.skipQuorumCheck || a.parked || !members.includes(a.host) ? null : (opts.pre ?? (await queryCluster(ctx, a.host)));
  const problems = pre ? clusterProblems(pre, n) : [];
  const healthy = pre ? pre.health.filter((h) => h.healthy).length : n;
  if (pre && (problems.length || !keepsQuorumWithoutOne(healthy, n)))
    throw new SafetyStop('quorum', `${a.host}: not restarting: ${problems.length ? problems.join('; ') : `only ${healthy} of ${n} members healthy, stopping one would lose quorum`}`, 'repair the cluster, then resume the run', a.host);

  // From here on the node's restart is one atomic action: an interrupt waits for it to finish (the node healthy again).
  if (ctx.signal.aborted && !a.parked) throw new Interrupted(`interrupted before restarting ${a.host} (not stopped)`);
  const units = restartUnits(spec);
  const timing: RestartTiming = { stopWaitMs: 0, pauseMs: 0, healthWaitMs: 0, ...(spec.pods ? { pods: [] } : {}) };
  // A node a dead run left parked: the units before its first parked one were restarted by that run; the parked ones are
  // put back and checked; the ones after are restarted as usual.
  const parkedNames = new Set((a.parked?.files ?? []).map((f) => f.split('/').pop()!));
  const isParkedUnit = (u: RestartUnit) => Boolean(a.parked) && (units.length === 1 || u.manifests.some((m) => parkedNames.has(m)));
  const firstParked = a.parked ? Math.max(0, units.findIndex(isParkedUnit)) : 0;
  for (const [k, u] of units.entries()) {
    if (k < firstParked) {
      report(`${a.host}: ${u.label}: restarted by run ${a.parked!.runIds.join(', ')} before it stopped`);
      continue;
    }
    const t = await restartUnit(ctx, spec, a, u, report, isParkedUnit(u));
    timing.stopWaitMs += t.stopWaitMs;
    timing.pauseMs += t.pauseMs;
    timing.healthWaitMs += t.healthWaitMs;
    timing.pods?.push({ container: u.label, before: t.before, ...(t.after ? { after: t.after } : {}) });
  }
  if (spec.served.length) timing.served = await checkServed(ctx, spec, a, report);
  return timing;
}

/** A restart's hint to put a node back by hand. */
function restoreHintOf(ctx: RestartContext, a: RestartAction): string {
  const certDir = ctx.inventory.hosts.find((h) => h.name === a.host)!.vars.certDir;
  return `to restore ${a.host} by hand: cp -a ${backupDirOf(certDir, ctx.runId)}/. ${certDir}/ (then remove the .certroll-backup.* files there), and make sure ${a.manifests.join(', ')} are in ${a.manifestsDir}`;
}

/** The line the park prints when every manifest moved, before the stop wait starts (same exec). */
const PARKED = '@@parked';
/** The line the un-park prints before the first health wait starts (same exec). */
const UNPARKED = '@@unparked';

/** Restart one unit of a node (see restartOne); `parked`: a dead run left its manifests parked: put them back and check. */
async function restartUnit(ctx: RestartContext, spec: RollingRestartStep, a: RestartAction, u: RestartUnit, report: (m: string) => void, parkedByRun: boolean): Promise<{ stopWaitMs: number; pauseMs: number; healthWaitMs: number; before: string[]; after?: string }> {
  const pods = Boolean(spec.pods);
  // Messages about a pod name it; a TOS node's messages are as they always were.
  const who = pods ? `${a.host}: ${u.label}` : a.host;
  const inPlace = (m: string) => `${a.manifestsDir}/${m}`;
  const parked = (m: string) => `${a.parkDir}/${m}`;
  // Beside each parked manifest, a marker names the run, the original path and the manifest's sha256: a run that dies
  // here leaves a node that any later run (or `certroll status`) recognises and finishes. Marker first, then the move.
  // The park dir is made when missing and must be on the manifests dir's filesystem (a rename, never a copy).
  const sameFs = sh`[ "$(stat -c %d -- ${a.parkDir})" = "$(stat -c %d -- ${a.manifestsDir})" ] || { echo ${`${a.parkDir} is not on the filesystem of ${a.manifestsDir}: a move would be a copy`} >&2; exit 3; }`;
  const check = quoteArgv(renderArgv(u.check, ctx.scope(a.host)));
  // ids mode: the running container ids just before the park (`@@id` lines, same round trip), so that only another one
  // counts as restarted. A listing that fails stops before anything moves.
  const park = [
    ...(u.mode === 'ids' ? [`ids=$(${check}) && printf '%s\\n' "$ids" | awk 'NF { print "@@id " $1 }'`] : []),
    sh`mkdir -p -- ${a.parkDir}`,
    sameFs,
    ...u.manifests.map((m) => {
      const head = JSON.stringify({ runId: ctx.runId, host: a.host, manifest: m, from: inPlace(m), to: parked(m) }).slice(0, -1) + ',"sha256":"';
      return sh`sha=$(sha256sum < ${inPlace(m)} | cut -c1-64) && printf '%s%s%s\n' ${head} "$sha" ${`","parkedAt":"${new Date().toISOString()}"}`} > ${parkMarkerOf(a.parkDir, m)} && mv -f -- ${inPlace(m)} ${parked(m)}`;
    }),
  ].join(' && ');
  // Moves back only a parked manifest whose place is empty: never over a manifest that is in place (after a park that
  // did not happen, a same-named file in the park dir is not ours to move).
  const unpark = u.manifests.map((m) => sh`if [ -f ${parked(m)} ] && [ ! -e ${inPlace(m)} ]; then mv -f -- ${parked(m)} ${inPlace(m)}; fi; rm -f -- ${parkMarkerOf(a.parkDir, m)}`).join('; ');
  const restoreHint = restoreHintOf(ctx, a);

  const timing = { stopWaitMs: 0, pauseMs: 0, healthWaitMs: 0 };
  let isParked = false;
  let parking = false;
  let unparkPending = false;
  // While the node is parked, a dropped connection is retried (with backoff, bounded): giving up leaves a member down.
  const stranded = () => (isParked || parking || parkedByRun ? `${u.manifests.map(parked).join(', ')} may still be parked (${pods ? `${u.label} is down` : 'the etcd member is down'})` : 'the node was not stopped');
  const onHost = <T>(fn: (r: Remote) => Promise<T>, beforeRetry?: (r: Remote) => Promise<void>) => withReconnect(ctx, a.host, report, stranded, fn, beforeRetry);
  const moveBack = async () => {
    // Idempotent (moves only what is parked, removes the markers): safe to run again after a reconnect.
    await change(ctx, a.host, 'unpark', u.manifests.map(inPlace).join(' '), () => onHost((r) => r.sh(unpark)));
    isParked = false;
  };
  const whole = { ...ctx, signal: new AbortController().signal };
  let before: string[] = [];
  if (parkedByRun) {
    // A stopped run left this node parked: its manifests go back first, then the same health checks as any node.
    report(`${who}: manifests parked by run ${a.parked!.runIds.join(', ')} (${a.parked!.files.join(', ')}); putting them back`);
    await moveBack();
  } else try {
    // A connection lost during the park leaves it unknown whether the manifests moved: the retry puts back whatever moved
    // (idempotent un-park) and parks again from the start.
    parking = true;
    report(pods ? `${who}: moving the manifest to ${a.parkDir}; waiting until no ${u.label} container runs` : `${a.host}: moving the manifests to ${a.parkDir}; waiting for ${spec.containerNames.join(', ')} to stop`);
    let t = Date.now();
    // One exec: the park, then one remote loop (a look every 100 ms on the host) until the containers are gone. The TS
    // side judges the last listing. A connection lost meanwhile puts back whatever moved (idempotent un-park) and parks
    // again from the start, with the time left.
    const stopDeadline = t + spec.stopTimeoutSeconds * 1000;
    const stopped = await change(ctx, a.host, 'park', u.manifests.map(inPlace).join(' '), () =>
      onHost(
        async (r) => {
          const left = Math.max(0, stopDeadline - Date.now()) / 1000;
          const res = await r.sh(`${park} || exit $?\necho ${PARKED}\n${stopWaitScript(check, u.names, left, u.mode)}`, { allowFailure: true, timeoutMs: (left + 30) * 1000 });
          if (!res.stdout.includes(`${PARKED}\n`))
            throw new HostError(a.host, 'command', `${who}: moving ${u.manifests.map(inPlace).join(', ')} to ${a.parkDir} failed (${res.signal ? `killed by ${res.signal}` : `exit ${res.exitCode}`})`, undefined, res.stderr.replace(/^\.+/, '').trim() || undefined);
          isParked = true;
          return res;
        },
        (r) => r.sh(unpark).then(() => undefined),
      ),
    );
    before = [...stopped.stdout.slice(0, stopped.stdout.indexOf(PARKED)).matchAll(/^@@id (\S+)$/gm)].map((m) => m[1]!);
    const stopRes = parseStopWait(stopped.stdout);
    const gone = stopRes.why === 'gone' && containersGone(stopRes.listing, u.names, u.mode);
    if (!gone) {
      await moveBack();
      throw new SafetyStop('stop-timeout', `${who}: ${u.names.join(', ')} still running ${spec.stopTimeoutSeconds}s after ${u.manifests.length > 1 ? 'their manifests were' : 'its manifest was'} moved out; ${u.manifests.length > 1 ? 'manifests' : 'manifest'} moved back`, restoreHint, a.host);
    }
    failpoint('stopped.after');
    timing.stopWaitMs = Date.now() - t;
    if (a.pauseSeconds > 0) {
      report(`${who}: stopped; pausing ${a.pauseSeconds}s`);
      t = Date.now();
      await sleep(a.pauseSeconds * 1000, whole.signal);
      timing.pauseMs = Date.now() - t;
    }
    // The un-park rides in the first health wait's exec (below).
    unparkPending = true;
    report(pods ? `${who}: putting the manifest back in ${a.manifestsDir}; waiting for a new container, healthy` : `${a.host}: putting the manifests back in ${a.manifestsDir}; waiting until healthy and caught up`);
  } catch (e) {
    if (isParked) await moveBack().catch(() => undefined);
    throw e;
  }

  const own = endpointOf(ctx.inventory.hosts.find((h) => h.name === a.host)!);
  const checks = u.checks.map((c) => quoteArgv(renderArgv(c, ctx.scope(a.host))));
  // One remote loop (a look every 100 ms on the host) until healthy, a container exit followed by 5 s of an unhealthy
  // member, or the timeout; the TS side judges what it printed (ContainerWatch, health criteria) and runs it again for
  // the time left when its verdict differs from the loop's stop (raft lag, an exit it does not count) or after a reconnect.
  const etcdctl = u.etcd ? etcdctlLine(ctx, a.host) : '';
  const waitIn = {
    ...(u.etcd ? { ownHealth: `${etcdctl} --endpoints ${own} endpoint health -w json`, status: `${etcdctl} --endpoints ${endpointsOf(ctx.inventory)} endpoint status -w json` } : {}),
    api: checks.length === 0 ? 'true' : checks.length === 1 ? checks[0]! : `{ ${checks.join(' && ')}; }`,
    check,
    names: u.names,
    mode: u.mode,
    before,
  };
  let last = 'no answer yet';
  const healthStart = Date.now();
  const healthDeadline = healthStart + spec.healthTimeoutSeconds * 1000;
  const watch = new ContainerWatch(u.names, u.mode);
  let crashed: string | undefined;
  let exitSeen: { what: string; at: number } | undefined;
  let ok = false;
  let after: string | undefined;
  for (;;) {
    const left = Math.max(0, healthDeadline - Date.now()) / 1000;
    const script = () => healthWaitScript({ ...waitIn, timeoutSeconds: Math.max(0, healthDeadline - Date.now()) / 1000, seen: watch.tokens(), exitGraceMs: EXIT_GRACE_MS, ...(exitSeen ? { exitAgoMs: Date.now() - exitSeen.at } : {}) });
    let out: { stdout: string };
    if (unparkPending) {
      // One exec: the manifests back (idempotent: only a parked manifest whose place is empty moves), then the first
      // health wait. A connection lost meanwhile runs both again.
      try {
        out = await change(ctx, a.host, 'unpark', u.manifests.map(inPlace).join(' '), () =>
          onHost(async (r) => {
            const res = await r.sh(`{ ${unpark}; } || exit $?\necho ${UNPARKED}\n${script()}`, { allowFailure: true, timeoutMs: (left + 30) * 1000 });
            const at = res.stdout.indexOf(`${UNPARKED}\n`);
            if (at < 0)
              throw new HostError(a.host, 'command', `${who}: moving ${u.manifests.map(parked).join(', ')} back to ${a.manifestsDir} failed (${res.signal ? `killed by ${res.signal}` : `exit ${res.exitCode}`})`, undefined, res.stderr.replace(/^\.+/, '').trim() || undefined);
            isParked = false;
            return { stdout: res.stdout.slice(at + UNPARKED.length + 1) };
          }),
        );
      } catch (e) {
        // As before the un-park rode along: one more try on its own, then the error.
        if (isParked) await moveBack().catch(() => undefined);
        throw e;
      }
      unparkPending = false;
    } else {
      out = await onHost((r) => r.sh(script(), { allowFailure: true, timeoutMs: (left + 30) * 1000 }));
    }
    const res = parseHealthWait(out.stdout, u.names);
    const loopStart = Date.now() - res.ms;
    for (const ps of res.ps) {
      const exited = watch.observeTokens(ps.tokens);
      // A container that started and is gone again (or was restarted) while the member is unhealthy: the process exits at start.
      if (exited && !ps.healthy) exitSeen ??= { what: exited, at: loopStart + ps.ms };
    }
    if (exitSeen === undefined && res.exitMs !== undefined) {
      // The host saw the exit while the member was unhealthy; name it from the history the watch has.
      const what = watch.lastExit();
      if (what) exitSeen = { what, at: loopStart + res.exitMs };
    }
    after = res.current?.id;
    let verdict = u.etcd ? judgeHealth(res, own, spec.maxRaftLag) : judgePodHealth(res);
    if (u.etcd && verdict.ok && u.mode === 'ids' && !res.current?.fresh) verdict = { ok: false, healthy: true, last: res.current?.id ? `container ${res.current.id.slice(0, 13)} is the one from before the restart` : 'no container running' };
    last = res.why === 'unknown' && !out.stdout.trim() ? 'no answer yet' : verdict.last;
    if (verdict.ok) {
      ok = true;
      break;
    }
    // Still unhealthy 5 s after an exit was seen (an apiserver restarting while etcd comes up is not a crash).
    if (!verdict.healthy && exitSeen && Date.now() - exitSeen.at >= EXIT_GRACE_MS) {
      crashed = exitSeen.what;
      break;
    }
    if (Date.now() >= healthDeadline) break;
    await sleep(100);
  }
  if (!ok && crashed) {
    throw new SafetyStop(
      'container-exited',
      pods
        ? `${who}: ${crashed} after its manifest returned, and it is not healthy (${last}): the process exits at start; the run stopped before the next pod`
        : `${a.host}: ${crashed} after its manifest returned, and the etcd member is not healthy (${last}): the process exits at start; the run stopped before the next node`,
      `${restoreHint}; look at the container's logs on ${a.host}`,
      a.host,
    );
  }
  if (!ok) {
    throw new SafetyStop('health-timeout', `${who}: not healthy ${spec.healthTimeoutSeconds}s after restart (${last}); the run stopped before the next ${pods ? 'pod' : 'node'}`, restoreHint, a.host);
  }
  timing.healthWaitMs = Date.now() - healthStart;
  report(pods ? `${who}: healthy, new container ${after?.slice(0, 13) ?? '?'}${before.length ? ` (was ${before.map((x) => x.slice(0, 13)).join(', ')})` : ''}` : `${a.host}: healthy with the certificates now on disk, caught up with the leader`);
  return { ...timing, before, ...(after ? { after } : {}) };
}

/** After a node's pods are back: a TLS handshake on each served port shows the certificate file now on disk (one round trip). */
async function checkServed(ctx: RestartContext, spec: RollingRestartStep, a: RestartAction, report: (m: string) => void): Promise<Array<{ endpoint: string; serial: string }>> {
  const scope = ctx.scope(a.host);
  const targets = spec.served.map((s) => ({ endpoint: renderArgv([s.endpoint], scope)[0]!, cert: renderArgv([s.cert], scope)[0]! }));
  const out = await withReconnect(ctx, a.host, report, () => 'the node was restarted; its served certificates were not checked', (r) => r.sh(servedCheckScript(targets), { allowFailure: true, timeoutMs: 15_000 * targets.length + 10_000 }));
  const seen = parseServedCheck(out.stdout, targets);
  const problems = servedProblems(seen);
  if (problems.length)
    throw new SafetyStop('served-old', `${a.host}: ${problems.join('; ')}`, `${restoreHintOf(ctx, a)}; a process serving an old certificate did not restart: look at it on ${a.host}`, a.host);
  report(`${a.host}: serves the certificates on disk: ${seen.map((s) => `${s.endpoint} serial ${s.file?.serial ?? '?'}`).join(', ')}`);
  return seen.map((s) => ({ endpoint: s.endpoint, serial: s.file?.serial ?? '' }));
}

/** After a node failed its health check: restore it (or every host) from backup and restart it, as --on-failure says. */
async function onNodeFailure(ctx: ApplyContext, spec: RollingRestartStep, a: RestartAction, cause: SafetyStop, report: (m: string) => void): Promise<Error> {
  const mode = ctx.options.onFailure;
  const resume = `certroll run --resume ${ctx.runId} -i ${ctx.inventory.file}`;
  const rollback = `certroll rollback --run ${ctx.runId} -i ${ctx.inventory.file}`;
  if (mode === 'stop')
    return new SafetyStop('health-timeout', `${cause.message.split('\n')[0]}\n--on-failure stop: ${a.host} was left as it is (new certificates, manifests in place)`, `fix ${a.host}, then \`${resume}\`; or put everything back with \`${rollback}\``, a.host);
  const managed = Object.values(ctx.playbook.files);
  // The same restore as `certroll rollback`'s restore step (src/steps/rollback.ts); the same restartOne below.
  const restoreOne = async (name: string) => {
    const h = ctx.inventory.hosts.find((x) => x.name === name)!;
    await restoreCertDir(ctx.remote(name), { certDir: h.vars.certDir, backupDir: backupDirOf(h.vars.certDir, ctx.runId), tag: ctx.runId, managed, park: { parkDir: h.vars.parkDir, manifestsDir: h.vars.manifestsDir } }, report);
  };
  const restored: string[] = [];
  if (mode === 'rollback-all') {
    for (const h of ctx.inventory.hosts) if (ctx.remotes.has(h.name)) await restoreOne(h.name), restored.push(h.name);
  } else {
    await restoreOne(a.host);
    restored.push(a.host);
  }
  // Restart the failed node with its restored certificates: no quorum precheck (it is the one down), no pause.
  const again = { ...a, pauseSeconds: 0 };
  try {
    await restartOne({ ...ctx }, { ...spec, pauseSeconds: 0 }, again, report, { skipQuorumCheck: true });
  } catch (e) {
    return new SafetyStop('rollback-node-failed', `${cause.message.split('\n')[0]}\nrestored ${a.host} from its backup, but it is still not healthy: ${(e as Error).message.split('\n')[0]}`, `look at ${spec.pods ? 'its pods' : 'etcd'} on ${a.host}; backups: ${backupDirOf(ctx.inventory.hosts.find((h) => h.name === a.host)!.vars.certDir, ctx.runId)}`, a.host);
  }
  if (mode === 'rollback-all') {
    const others = restartOrder(resolveTargets(ctx.inventory, spec.targets).filter((h) => h !== a.host), (await queryCluster(ctx, a.host)).leaderHost);
    for (const h of others) await restartOne(ctx, { ...spec, pauseSeconds: 0 }, { ...a, host: h, pauseSeconds: 0 }, report);
  }
  return new SafetyStop(
    'rolled-back',
    `${cause.message.split('\n')[0]}\n--on-failure ${mode}: restored ${restored.join(', ')} from backup and restarted ${mode === 'rollback-all' ? 'the etcd nodes' : a.host}; the cluster is healthy${mode === 'rollback-node' ? ' (that node with its old certificates, which the other nodes still trust)' : ' with the old certificates'}`,
    mode === 'rollback-node' ? `fix the cause on ${a.host}, then \`${resume}\`; or put every host back with \`${rollback}\`` : 'nothing else to do: every host holds its backup',
    a.host,
  );
}

/**
 * Watches the container list (the playbook's containerCheck output) across polls after a manifest returned: reports a
 * container that was running and is gone again, or whose kubelet restart count (the `_N` ending a k8s_… docker name) rose.
 */
export class ContainerWatch {
  private seen = new Map<string, string>();
  private exit: string | undefined;
  /** `ids`: each token is the running container's id (crictl ps -q); another id is a restart. */
  constructor(private readonly names: string[], private readonly mode: ListingMode = 'names') {}
  /** Feed one listing; returns a description of the first exit noticed, if any. */
  observe(listing: string): string | undefined {
    return this.observeTokens(containerTokens(listing, this.names));
  }
  /** Feed each name's token in one listing (containerTokens; undefined when absent). */
  observeTokens(tokens: Array<string | undefined>): string | undefined {
    for (const [k, name] of this.names.entries()) {
      const token = tokens[k];
      const prev = this.seen.get(name);
      if (token === undefined) {
        if (prev !== undefined) return (this.exit = `${name} started and exited again`);
        continue;
      }
      if (this.mode === 'ids') {
        if (prev !== undefined && prev !== token) return (this.exit = `${name} was restarted (container ${prev.slice(0, 13)} → ${token.slice(0, 13)})`);
        this.seen.set(name, token);
        continue;
      }
      const count = token === name ? undefined : /_(\d+)$/.exec(token)?.[1];
      const before = prev !== undefined ? /_(\d+)$/.exec(prev)?.[1] : undefined;
      if (count !== undefined && before !== undefined && Number(count) > Number(before)) return (this.exit = `${name} was restarted by the kubelet (restart count ${before} → ${count})`);
      this.seen.set(name, count !== undefined ? `${name}_${count}` : name);
    }
    return undefined;
  }
  /** Each name's last seen token, for a loop on the host that continues the watch. */
  tokens(): Array<string | undefined> {
    return this.names.map((n) => this.seen.get(n));
  }
  /** The last exit noticed, if any. */
  lastExit(): string | undefined {
    return this.exit;
  }
}
