// The planner: asks each step module of the playbook for its plan half. A pure function of (inventory, playbook, facts, material) → ordered actions per step and host, with warnings.
import type { Inventory } from '../inventory/types.js';
import type { Playbook } from '../playbook/types.js';
import type { FleetFacts } from '../facts/types.js';
import { parseCertificates } from '../pki/index.js';
import { stepModules } from '../steps/index.js';
import type { PlanContext, ResumeState } from '../steps/types.js';
import type { Material } from '../plan/material.js';
import { clusterProblems } from '../facts/etcd-cluster.js';
import { endpointOf, hostScope, resolveTargets } from '../inventory/targets.js';
import { parkedNodes } from '../plan/unfinished.js';
import type { MaterialSummary, Plan, PlannedStep, Warning } from '../plan/types.js';
import { aboutHost } from '../errors.js';
import { lockDirOf, runStagedPattern } from '../host-paths.js';

export interface PlanOptions {
  runId: string;
  now: Date;
  renewWithinDays: number;
  force: boolean;
  pauseSeconds?: number;
}

const DAY = 86_400_000;

export interface RenewalNeed {
  needed: boolean;
  reasons: string[];
}

/** Whether any copy of the CA or leaf expires within `withinDays`; each reason says why (or why not). */
export function renewalNeed(inv: Inventory, playbook: Playbook, facts: FleetFacts, now: Date, withinDays: number): RenewalNeed {
  const limit = now.getTime() + withinDays * DAY;
  const reasons: string[] = [];
  let needed = false;
  for (const role of ['ca', 'cert'] as const) {
    const label = role === 'ca' ? `etcd CA (${playbook.files.ca})` : `etcd certificate (${playbook.files.cert})`;
    let earliest: { at: string; host: string } | undefined;
    for (const [host, f] of Object.entries(facts.hosts)) {
      const pem = f.pems[role];
      if (!pem) continue;
      try {
        const c = parseCertificates(pem)[0]!;
        if (!earliest || c.notAfter < earliest.at) earliest = { at: c.notAfter, host };
      } catch {
        needed = true;
        reasons.push(`${host}: ${label} cannot be parsed`);
      }
    }
    if (!earliest) continue;
    if (Date.parse(earliest.at) <= limit) {
      needed = true;
      reasons.push(`${label} expires ${earliest.at} on ${earliest.host}: within ${withinDays} days`);
    } else reasons.push(`${label} valid until ${earliest.at}: beyond ${withinDays} days, nothing to renew`);
  }
  return { needed, reasons };
}

export interface PlanInput {
  inventory: Inventory;
  playbook: Playbook;
  facts: FleetFacts;
  material: Material | null;
  summary: MaterialSummary | null;
  /** Warnings found while gathering facts or making material (key mismatch, SAN removal…). */
  findings: Warning[];
  need: RenewalNeed;
  options: PlanOptions;
  resume?: ResumeState;
  /** What each step's prepare half made, by playbook step index. */
  stepData?: Record<number, unknown>;
}

/** Whether the playbook has a step that reads the TOS etcd material (ctx.material), made by the pipeline from `files:`. */
export function usesTosMaterial(playbook: Playbook): boolean {
  return playbook.steps.some((s) => stepModules[s.type].usesMaterial === true);
}

export function buildPlan(input: PlanInput): Plan {
  const { inventory: inv, playbook, facts, options } = input;
  const warnings: Warning[] = [...input.findings];
  const warn = (w: Warning) => warnings.push(w);
  const planned: PlannedStep[] = [];
  const ctx: PlanContext = {
    inventory: inv,
    playbook,
    facts,
    material: input.material,
    runId: options.runId,
    now: options.now,
    ...(options.pauseSeconds !== undefined ? { pauseSeconds: options.pauseSeconds } : {}),
    hostsOf: (t) => resolveTargets(inv, t),
    host: (n) => inv.hosts.find((h) => h.name === n)!,
    hostFacts: (n) => facts.hosts[n],
    scope: (n) => hostScope(inv, playbook, n),
    warn,
    planned,
    ...(input.resume ? { resume: input.resume } : {}),
  };

  for (const u of facts.unreachable)
    warn({ level: 'block', code: 'unreachable', host: u.host, message: aboutHost(u.host, u.message) });
  fleetWarnings(ctx, warn);

  const doWork = input.need.needed || options.force;
  const tos = usesTosMaterial(playbook);
  if (doWork && (input.material || !tos)) {
    playbook.steps.forEach((spec, index) => {
      const mod = stepModules[spec.type];
      const done = input.resume?.done?.[index];
      // A live change the stopped run finished (or the operator did by hand) is not planned again.
      if (done && mod.changesLiveState) {
        const r = mod.plan(spec as never, { ...ctx, warn: () => undefined });
        planned.push({ index, type: spec.type, title: spec.title, at: spec.at, hosts: r.hosts, actions: [], notes: [done === 'operator' ? 'done by hand (--skip), recorded in the journal' : 'done by the stopped run'], done });
        return;
      }
      const r = mod.plan(spec as never, { ...ctx, ...(input.stepData && index in input.stepData ? { stepData: input.stepData[index] } : {}) });
      planned.push({ index, type: spec.type, title: spec.title, at: spec.at, hosts: r.hosts, actions: r.actions, notes: r.notes });
    });
    planned.push(cleanupStep(inv, playbook, options.runId));
  }
  const blocked = warnings.filter((w) => w.level === 'block');
  const restart = planned.find((s) => s.type === 'rolling-restart');
  return {
    runId: options.runId,
    createdAt: options.now.toISOString(),
    inventory: inv.file,
    playbook: playbook.file,
    status: blocked.length ? 'blocked' : doWork ? 'ready' : 'nothing-to-do',
    reasons: blocked.length ? blocked.map((w) => w.message) : doWork ? (options.force && !input.need.needed ? ['--force: renewing although nothing expires soon', ...input.need.reasons] : input.need.reasons) : input.need.reasons,
    warnings,
    material: input.summary,
    restartOrder: restart ? restart.hosts : [],
    steps: planned,
  };
}

/**
 * Every run plan's last step: on every host, after a failure, delete this run's staged files, then release its lock. Its
 * index follows the playbook's steps (a resumed run plans it again, whatever the stopped run's journal says of it: a
 * journal from before this step existed has none, and the stopped run's cleanup released what that run held, not this one).
 */
export function cleanupStep(inv: Inventory, playbook: Playbook, runId: string): PlannedStep {
  const actions = inv.hosts.map((h) => ({ kind: 'release' as const, host: h.name, path: lockDirOf(h.vars.certDir), dir: h.vars.certDir, staged: runStagedPattern(runId) }));
  return {
    index: playbook.steps.length,
    type: 'cleanup',
    title: 'clean up',
    at: { file: playbook.file },
    hosts: actions.map((a) => a.host),
    actions,
    notes: ['always runs, also after a failure or an interrupt'],
  };
}

/** Warnings about the fleet as a whole: divergent copies, missing CA key, expired CA, unhealthy cluster. */
function fleetWarnings(ctx: PlanContext, warn: (w: Warning) => void): void {
  const { inventory: inv, playbook, facts } = ctx;
  // Another run holding the lock blocks whatever this plan would do (even nothing): say who holds it.
  for (const [host, f] of Object.entries(facts.hosts)) {
    if (f.lock && f.lock.runId !== ctx.runId)
      warn({
        level: 'block',
        code: 'lock-held',
        host,
        message: `${host}: another certroll run holds the lock ${lockDirOf(f.certDir.path)} (run ${f.lock.runId}, started ${f.lock.startedAt}${f.lock.controlHost ? ` from ${f.lock.controlHost}` : ''}); wait for it to finish, or use --break-lock if it is stale`,
      });
  }
  if (usesTosMaterial(playbook)) tosWarnings(ctx, warn);
  if ((inv.groups.etcd ?? []).length) {
    if (!facts.etcd) warn({ level: 'block', code: 'cluster-unknown', message: 'etcd cluster state could not be read' });
    else {
      const down = parkedNodes(inv, playbook, facts, ctx.hostsOf).map((p) => endpointOf(inv.hosts.find((h) => h.name === p.host)!));
      const problems = clusterProblems(facts.etcd, inv.groups.etcd!.length, down);
      if (problems.length) warn({ level: 'block', code: 'cluster-unhealthy', message: `etcd cluster not healthy (queried from ${facts.etcd.queriedFrom}): ${problems.join('; ')}` });
    }
  }
}

/** The TOS etcd material's own checks: copies that differ across hosts, the CA key and files on the first master. */
function tosWarnings(ctx: PlanContext, warn: (w: Warning) => void): void {
  const { inventory: inv, playbook, facts, now } = ctx;
  for (const role of ['ca', 'cert'] as const) {
    const byHash = new Map<string, string[]>();
    for (const [host, f] of Object.entries(facts.hosts)) {
      const pem = f.pems[role];
      if (pem) (byHash.get(pem) ?? byHash.set(pem, []).get(pem)!).push(host);
    }
    if (byHash.size > 1)
      warn({ level: 'warn', code: 'divergent-files', message: `${playbook.files[role]} differs across hosts: ${[...byHash.values()].map((hs) => hs.join(', ')).join(' | ')}; the renewal will make them identical (the first master's copy is the template)` });
  }
  const fm = facts.hosts[inv.firstMaster];
  if (fm) {
    if (!fm.certDir.files.some((f) => f.path === playbook.files.caKey))
      warn({ level: 'block', code: 'ca-key-missing', host: inv.firstMaster, message: `${inv.firstMaster}: the CA key ${fm.certDir.path}/${playbook.files.caKey} is missing (a default TOS install does not leave it there); copy it onto ${inv.firstMaster} with mode 0600` });
    for (const role of ['ca', 'cert'] as const) {
      const pem = fm.pems[role];
      if (!pem) {
        warn({ level: 'block', code: 'file-missing', host: inv.firstMaster, message: `${inv.firstMaster}: ${fm.certDir.path}/${playbook.files[role]} is missing` });
        continue;
      }
      try {
        const c = parseCertificates(pem)[0]!;
        if (Date.parse(c.notAfter) <= now.getTime())
          warn({ level: 'warn', code: role === 'ca' ? 'ca-expired' : 'leaf-expired', host: inv.firstMaster, message: `${playbook.files[role]} already expired on ${c.notAfter}: the cluster may already be down, and a rolling restart cannot keep quorum then` });
      } catch (e) {
        warn({ level: 'block', code: 'unparsable', host: inv.firstMaster, message: `${inv.firstMaster}: ${playbook.files[role]}: ${(e as Error).message}` });
      }
    }
  }
}
