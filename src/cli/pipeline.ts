// The one pipeline shared by `plan` and `run`: inventory → facts → material → plan. Only reads; never writes anywhere.
import { hostname, userInfo } from 'node:os';
import { loadInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/types.js';
import { loadPlaybook } from '../playbook/load.js';
import type { Playbook } from '../playbook/types.js';
import { InputError, type InputIssue } from '../errors.js';
import { openFleet, type Fleet } from '../ssh/fleet.js';
import { gatherFacts } from '../facts/gather.js';
import type { FleetFacts } from '../facts/types.js';
import { buildPlan, renewalNeed } from '../plan/build.js';
import { makeMaterial } from '../plan/material.js';
import type { Plan, Warning } from '../plan/types.js';
import type { Material } from '../steps/types.js';
import { Secret } from '../secret.js';
import { newRunId } from '../journal/journal.js';
import { PkiError } from '../pki/index.js';

export interface PipelineArgs {
  inventory: string;
  playbook: string;
  forks: number;
  acceptNewHostKeys: boolean;
  renewWithinDays: number;
  force: boolean;
  pauseSeconds?: number;
  runId?: string;
  now?: Date;
}

export interface Prepared {
  inventory: Inventory;
  playbook: Playbook;
  fleet: Fleet;
  facts: FleetFacts;
  material: Material | null;
  plan: Plan;
}

/** Load and cross-check the inventory and the playbook: every group a step names must exist. All issues at once. */
export async function loadInputs(inventoryFile: string, playbookFile: string): Promise<{ inventory: Inventory; playbook: Playbook }> {
  const results = await Promise.allSettled([loadInventory(inventoryFile), loadPlaybook(playbookFile)]);
  const issues: InputIssue[] = results.flatMap((r) => (r.status === 'rejected' ? (r.reason instanceof InputError ? r.reason.issues : (() => { throw r.reason; })()) : []));
  if (issues.length) throw new InputError(issues);
  const inventory = (results[0] as PromiseFulfilledResult<Inventory>).value;
  const playbook = (results[1] as PromiseFulfilledResult<Playbook>).value;
  for (const step of playbook.steps) {
    const specs = 'targets' in step ? step.targets : 'on' in step ? [step.on] : [];
    for (const t of specs) {
      const g = /^first\((.+)\)$/.exec(t)?.[1] ?? t;
      if (g !== 'all' && !(g in inventory.groups))
        issues.push({ file: playbook.file, line: step.at.line, path: `steps.${step.title}`, message: `target "${t}" names the group "${g}", which ${inventory.file} does not define (groups: ${Object.keys(inventory.groups).join(', ')})` });
    }
  }
  if (!(inventory.groups.etcd ?? []).length && playbook.steps.some((s) => s.type === 'rolling-restart'))
    issues.push({ file: inventory.file, path: 'groups.etcd', message: 'the playbook restarts etcd but the inventory has no etcd hosts' });
  if (issues.length) throw new InputError(issues);
  return { inventory, playbook };
}

export async function preparePlan(args: PipelineArgs): Promise<Prepared> {
  const { inventory, playbook } = await loadInputs(args.inventory, args.playbook);
  const now = args.now ?? new Date();
  const fleet = await openFleet(inventory.hosts, { forks: args.forks, acceptNewHostKeys: args.acceptNewHostKeys });
  try {
    const facts = await gatherFacts(fleet, inventory, playbook, now);
    const need = renewalNeed(inventory, playbook, facts, now, args.renewWithinDays);
    let material: Material | null = null;
    let summary = null;
    const findings: Warning[] = [];
    const fm = facts.hosts[inventory.firstMaster];
    const remote = fleet.remotes.get(inventory.firstMaster);
    const hasKey = fm?.certDir.files.some((f) => f.path === playbook.files.caKey);
    if ((need.needed || args.force) && fm && remote && hasKey && fm.pems.ca && fm.pems.cert) {
      const keyPath = `${fm.certDir.path}/${playbook.files.caKey}`;
      const caKeyPem = new Secret((await remote.readFile(keyPath)).toString('utf8'));
      try {
        const r = await makeMaterial({ inventory, playbook, oldCaPem: fm.pems.ca, oldLeafPem: fm.pems.cert, caKeyPem, now });
        material = r.material;
        summary = r.summary;
        findings.push(...r.findings);
      } catch (e) {
        if (!(e instanceof PkiError)) throw e;
        findings.push({ level: 'block', code: e.code, host: inventory.firstMaster, message: `${inventory.firstMaster}: ${e.issues.map((i) => i.message).join('; ')}` });
      }
    }
    const plan = buildPlan({
      inventory,
      playbook,
      facts,
      material,
      summary,
      findings,
      need,
      options: { runId: args.runId ?? newRunId(now), now, renewWithinDays: args.renewWithinDays, force: args.force, ...(args.pauseSeconds !== undefined ? { pauseSeconds: args.pauseSeconds } : {}) },
    });
    return { inventory, playbook, fleet, facts, material, plan };
  } catch (e) {
    await fleet.close();
    throw e;
  }
}

export const controlIdentity = () => ({ controlHost: hostname(), user: (() => { try { return userInfo().username; } catch { return 'unknown'; } })() });
