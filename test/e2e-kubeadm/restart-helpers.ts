// Runs the kubeadm rolling restart (test/fixtures/playbooks/kubeadm-restart.yaml: preflight, backup, rolling-restart) on the
// kubeadm lab through the real engine, planner halves and SSH fleet, without the CLI: the CLI's pipeline makes the TOS
// material first, which a kubeadm fleet does not have until the renew steps land (playbooks/kubeadm-renew.yaml).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import { parseInventory } from '../../src/inventory/load.js';
import { clusterVarNames, type Inventory } from '../../src/inventory/types.js';
import { hostScope, resolveTargets } from '../../src/inventory/targets.js';
import { loadPlaybook } from '../../src/playbook/load.js';
import type { Playbook } from '../../src/playbook/types.js';
import { openFleet, type Fleet } from '../../src/ssh/index.js';
import { gatherFacts } from '../../src/facts/gather.js';
import type { FleetFacts } from '../../src/facts/types.js';
import { stepModules } from '../../src/steps/index.js';
import type { ApplyContext, OnFailure, PlanContext } from '../../src/steps/types.js';
import type { Plan, PlannedStep, Warning } from '../../src/plan/types.js';
import { applyPlan, type EngineResult } from '../../src/apply/engine.js';
import { Journal } from '../../src/journal/journal.js';
import type { KubeadmLab } from './kubeadm-lab-helpers.js';

export const PLAYBOOK = 'test/fixtures/playbooks/kubeadm-restart.yaml';

/** The lab's inventory as this branch's loader reads it (variables it does not know left out, a master group), with certDir /etc/kubernetes/pki. */
export function labInventory(lab: KubeadmLab): Inventory {
  const doc = load(readFileSync(lab.inventory, 'utf8')) as { vars?: Record<string, unknown>; groups: Record<string, string[]> };
  // A loader that does not yet take `control-plane` for the masters gets both.
  doc.groups.master ??= [...doc.groups['control-plane']!];
  const known = new Set<string>(clusterVarNames);
  doc.vars = Object.fromEntries(Object.entries({ ...doc.vars, certDir: '/etc/kubernetes/pki' }).filter(([k]) => known.has(k)));
  const file = join(mkdtempSync(join(tmpdir(), 'certroll-kbroll-')), 'inventory.yaml');
  writeFileSync(file, dump(doc, { noRefs: true }));
  return parseInventory(readFileSync(file, 'utf8'), file);
}

export interface RestartRun {
  inventory: Inventory;
  playbook: Playbook;
  fleet: Fleet;
  facts: FleetFacts;
  plan: Plan;
  warnings: Warning[];
  result: EngineResult;
  notes: Array<{ event: string; host?: string; message?: string }>;
  reports: string[];
}

/** Plan with each step's own plan half, then apply with the engine. `onIntent` runs (awaited) before each journaled change. */
export async function restartRun(lab: KubeadmLab, opts: { onFailure: OnFailure; onIntent?: (e: { event: string; host?: string; message?: string }) => Promise<void> }): Promise<RestartRun> {
  const inventory = labInventory(lab);
  const playbook = await loadPlaybook(PLAYBOOK);
  const fleet = await openFleet(inventory.hosts);
  const facts = await gatherFacts(fleet, inventory, playbook);
  const runId = `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}Z-kbr${Math.random().toString(16).slice(2, 6)}`;
  const warnings: Warning[] = [];
  const planned: PlannedStep[] = [];
  const scope = (n: string) => hostScope(inventory, playbook, n);
  const pctx: PlanContext = {
    inventory, playbook, facts, material: null, runId, now: new Date(),
    hostsOf: (t) => resolveTargets(inventory, t), host: (n) => inventory.hosts.find((h) => h.name === n)!, hostFacts: (n) => facts.hosts[n],
    scope, warn: (w) => warnings.push(w), planned,
  };
  playbook.steps.forEach((spec, index) => {
    const r = stepModules[spec.type].plan(spec as never, pctx);
    planned.push({ index, type: spec.type, title: spec.title, at: spec.at, hosts: r.hosts, actions: r.actions, notes: r.notes });
  });
  const restart = planned.find((s) => s.type === 'rolling-restart')!;
  const plan: Plan = { runId, createdAt: new Date().toISOString(), inventory: inventory.file, playbook: playbook.file, status: 'ready', reasons: [], warnings, material: null, restartOrder: restart.hosts, steps: planned };
  const notes: RestartRun['notes'] = [];
  const reports: string[] = [];
  const ctx: ApplyContext = {
    plan, inventory, playbook, material: null, remotes: fleet.remotes as ApplyContext['remotes'], remote: (n) => fleet.remotes.get(n)!, scope, runId, facts,
    options: { breakLock: false, controlHost: hostname(), user: 'e2e', onFailure: opts.onFailure },
    signal: new AbortController().signal,
    journalNote: async (e) => void notes.push(e),
    journalIntent: async (e) => {
      await opts.onIntent?.(e);
    },
    locked: new Set(),
    reconnect: (h) => fleet.reconnect(h),
  };
  const journal = new Journal(runId, mkdtempSync(join(tmpdir(), 'certroll-kbroll-journal-')));
  const result = await applyPlan(ctx, { renderer: 'silent', forks: 4, journal, onEvent: (e) => e.message && reports.push(`${e.host ?? ''} ${e.message}`) });
  await fleet.close();
  return { inventory, playbook, fleet, facts, plan, warnings, result, notes, reports };
}

/** Each control-plane pod's running container id on a host (crictl ps -o json). */
export function podIds(json: string): Record<string, string> {
  const cs = (JSON.parse(json) as { containers: Array<{ id: string; metadata: { name: string }; state: string }> }).containers;
  return Object.fromEntries(cs.filter((c) => /RUNNING/i.test(c.state)).map((c) => [c.metadata.name, c.id]));
}
