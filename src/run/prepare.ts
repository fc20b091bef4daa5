// The one pipeline shared by `plan` and `run`: inventory → facts → material → plan. Only reads; never writes anywhere.
// Prompts are the caller's (the CLI's): the SSH prompts and the environment secrets are read from come in as arguments.
import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import type { Inventory } from '../inventory/types.js';
import type { IssueCertStep, Playbook } from '../playbook/types.js';
import { openFleet, type Fleet } from '../ssh/fleet.js';
import type { ConnectOptions } from '../ssh/options.js';
import { loadInputs, type Inputs } from './inputs.js';
import { gatherFacts } from '../facts/gather.js';
import type { FleetFacts } from '../facts/types.js';
import { buildPlan, renewalNeed, usesTosMaterial } from '../planner/build.js';
import { stepModules } from '../steps/index.js';
import type { PrepareContext } from '../steps/types.js';
import { resolveTargets } from '../inventory/targets.js';
import { unfinishedReasons } from '../plan/unfinished.js';
import { makeMaterial } from '../plan/material.js';
import type { Plan, Warning } from '../plan/types.js';
import type { Material } from '../plan/material.js';
import { Secret } from '../secret.js';
import { newRunId } from '../journal/journal.js';
import { PkiError, generateKey } from '../pki/index.js';
import { sha256 } from '../hash.js';

export interface PipelineArgs {
  inventory: string;
  playbook: string;
  forks: number;
  acceptNewHostKeys: boolean;
  renewWithinDays: number;
  force: boolean;
  pauseSeconds?: number;
  /** --break-lock: a lock left on the hosts is a run that died (its work counts as unfinished). */
  breakLock?: boolean;
  runId?: string;
  now?: Date;
  /** Continue a stopped run: its plan, the facts before it, and the nodes it restarted. */
  resume?: { plan: Plan; preFacts: FleetFacts; restarted: string[]; done?: Record<number, 'earlier' | 'operator'>; skipped?: number[] };
  /** The inputs when the caller loaded them already (loadInputs); else they are loaded here. */
  inputs?: Inputs;
  /** Where secrets the inventory names by variable are read (the Manager database password): default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The SSH layer's interactive prompts (identity passphrase, SSH password, sudo password), from the CLI. */
  prompts?: Pick<Partial<ConnectOptions>, 'passphrase' | 'password' | 'becomePassword'>;
}

export interface Prepared {
  inventory: Inventory;
  playbook: Playbook;
  fleet: Fleet;
  facts: FleetFacts;
  material: Material | null;
  /** What each step's prepare half made, by playbook step index (in memory only). */
  stepData: Record<number, unknown>;
  plan: Plan;
  /** Where secrets were read: the apply halves read the same (ApplyContext.env). */
  env: NodeJS.ProcessEnv;
}

export async function preparePlan(args: PipelineArgs): Promise<Prepared> {
  const { inventory, playbook } = args.inputs ?? (await loadInputs(args.inventory, args.playbook));
  const now = args.now ?? new Date();
  const env = args.env ?? process.env;
  // Generate the new leaf's key (native, off the main thread) while connecting: it is the slowest part of the PKI work.
  const issue = playbook.steps.find((s) => s.type === 'issue-cert') as IssueCertStep | undefined;
  const leafKey = issue ? generateKey(issue.keyType) : undefined;
  leafKey?.catch(() => undefined);
  const fleet = await openFleet(inventory.hosts, { forks: args.forks, acceptNewHostKeys: args.acceptNewHostKeys, ...args.prompts });
  try {
    const facts = await gatherFacts(fleet, inventory, playbook, now, env);
    // The TOS etcd material (renew-ca, issue-cert, distribute, the Manager's steps) is made here from `files:`; a step
    // of another flavour makes its own in its prepare half (below), so this pipeline does not know the flavour.
    const tos = usesTosMaterial(playbook);
    const need = tos ? renewalNeed(inventory, playbook, facts, now, args.renewWithinDays) : { needed: false, reasons: [] };
    // Fresh files are not enough: a renewal the hosts show unfinished (a run that died) is done again, whole.
    const unfinished = args.resume ? [] : unfinishedReasons(inventory, playbook, facts, (t) => resolveTargets(inventory, t), { breakingLock: Boolean(args.breakLock) });
    if (unfinished.length && !need.needed) {
      need.needed = true;
      need.reasons = [
        `the hosts show a renewal that did not finish: ${unfinished.join('; ')}`,
        `renewing again from ${inventory.firstMaster}'s files, so that every host, every etcd member and the Manager end with one set`,
      ];
    }
    let material: Material | null = null;
    let summary = null;
    const findings: Warning[] = [];
    if (args.resume && tos) {
      const r = await resumeMaterial(fleet, inventory, playbook, facts, args.resume);
      findings.push(...r.findings);
      if (r.material) {
        material = r.material;
        summary = args.resume.plan.material;
      }
    }
    if (args.resume) {
      need.needed = true;
      need.reasons = [`resuming run ${args.resume.plan.runId}${args.resume.restarted.length ? ` (already restarted: ${args.resume.restarted.join(', ')})` : ''}`];
    }
    const fm = facts.hosts[inventory.firstMaster];
    const remote = fleet.remotes.get(inventory.firstMaster);
    const hasKey = fm?.certDir.files.some((f) => f.path === playbook.files.caKey);
    if (tos && !material && !findings.some((f) => f.level === 'block') && (need.needed || args.force) && fm && remote && hasKey && fm.pems.ca && fm.pems.cert) {
      const keyPath = `${fm.certDir.path}/${playbook.files.caKey}`;
      const caKeyPem = new Secret((await remote.readFile(keyPath)).toString('utf8'));
      try {
        const r = await makeMaterial({ inventory, playbook, oldCaPem: fm.pems.ca, oldLeafPem: fm.pems.cert, caKeyPem, now, ...(leafKey ? { leafKey } : {}) });
        material = r.material;
        summary = r.summary;
        findings.push(...r.findings);
      } catch (e) {
        if (!(e instanceof PkiError)) throw e;
        findings.push({ level: 'block', code: e.code, host: inventory.firstMaster, message: `${inventory.firstMaster}: ${e.issues.map((i) => i.message).join('; ')}` });
      }
    }
    // Each step's prepare half (read-only): its own facts, CA keys into memory, new files made; findings block the plan.
    const stepData: Record<number, unknown> = {};
    for (const [index, spec] of playbook.steps.entries()) {
      const mod = stepModules[spec.type];
      if (!mod.prepare || args.resume?.done?.[index]) continue;
      const pctx: PrepareContext = {
        inventory,
        playbook,
        facts,
        now,
        index,
        renewWithinDays: args.renewWithinDays,
        force: args.force,
        hostsOf: (t) => resolveTargets(inventory, t),
        host: (n) => inventory.hosts.find((h) => h.name === n)!,
        remote: (n) => fleet.remotes.get(n),
        ...(args.resume ? { resume: { plan: args.resume.plan, preFacts: args.resume.preFacts } } : {}),
      };
      const r = await mod.prepare(spec as never, pctx);
      findings.push(...r.findings);
      stepData[index] = r.data;
      if (r.needed && !need.needed) {
        need.needed = true;
        need.reasons = need.reasons.filter((x) => !/nothing to renew/.test(x));
      }
      need.reasons.push(...r.reasons);
    }
    const plan = buildPlan({
      inventory,
      playbook,
      facts,
      stepData,
      material,
      summary,
      findings,
      need,
      ...(args.resume ? { resume: { restarted: args.resume.restarted, ...(args.resume.done ? { done: args.resume.done } : {}) } } : {}),
      options: { runId: args.runId ?? newRunId(now), now, renewWithinDays: args.renewWithinDays, force: args.force, ...(args.pauseSeconds !== undefined ? { pauseSeconds: args.pauseSeconds } : {}) },
    });
    plan.playbook = resolve(plan.playbook);
    return { inventory, playbook, fleet, facts, material, stepData, plan, env };
  } catch (e) {
    await fleet.close();
    throw e;
  }
}

/** Who runs certroll where: written into locks and journals. */
export const controlIdentity = () => ({ controlHost: hostname(), user: (() => { try { return userInfo().username; } catch { return 'unknown'; } })() });

/**
 * On resume: refuse when the fleet changed in a way the stopped run cannot explain, and recover the new material from a host
 * that already holds it (verified against the run's plan by sha256). When no host has the new files yet, material is made anew.
 */
async function resumeMaterial(
  fleet: Fleet,
  inventory: Inventory,
  playbook: Playbook,
  facts: FleetFacts,
  resume: NonNullable<PipelineArgs['resume']>,
): Promise<{ material: Material | null; findings: Warning[] }> {
  const findings: Warning[] = [];
  const m = resume.plan.material;
  const newSha: Record<string, string | undefined> = m ? { [playbook.files.ca]: m.newCa.sha256, [playbook.files.cert]: m.newLeaf.sha256, [playbook.files.key]: m.newKeySha256 } : {};
  let holder: string | undefined;
  for (const [host, now] of Object.entries(facts.hosts)) {
    const before = resume.preFacts.hosts[host];
    if (!before) continue;
    const pre = new Map(before.certDir.files.map((f) => [f.path, f.sha256]));
    for (const f of now.certDir.files) {
      if (f.path.includes('.certroll-')) continue;
      const old = pre.get(f.path);
      const isNew = newSha[f.path] !== undefined && f.sha256 === newSha[f.path];
      if (isNew && f.path === playbook.files.cert) holder ??= host;
      if (old === f.sha256 || isNew) continue;
      findings.push({ level: 'block', code: 'fleet-changed', host, message: `${host}: ${now.certDir.path}/${f.path} is neither the file from before run ${resume.plan.runId} nor the file it installs; resuming is unsafe (use \`certroll rollback --run ${resume.plan.runId}\` or inspect by hand)` });
    }
    for (const p of pre.keys()) if (!now.certDir.files.some((f) => f.path === p)) findings.push({ level: 'block', code: 'fleet-changed', host, message: `${host}: ${now.certDir.path}/${p} disappeared since run ${resume.plan.runId} started; resuming is unsafe` });
  }
  if (findings.length || !holder || !m) return { material: null, findings };
  const r = fleet.remotes.get(holder)!;
  const dir = facts.hosts[holder]!.certDir.path;
  const read = async (name: string) => (await r.readFile(`${dir}/${name}`)).toString('utf8');
  const [ca, cert, key] = [await read(playbook.files.ca), await read(playbook.files.cert), await read(playbook.files.key)];
  if (sha256(ca) !== m.newCa.sha256 || sha256(cert) !== m.newLeaf.sha256 || sha256(key) !== m.newKeySha256)
    return { material: null, findings: [{ level: 'block', code: 'fleet-changed', host: holder, message: `${holder}: the new files of run ${resume.plan.runId} do not all match its plan; resuming is unsafe` }] };
  return {
    findings,
    material: {
      files: {
        ca: { content: ca, sha256: m.newCa.sha256, size: Buffer.byteLength(ca), notAfter: m.newCa.notAfter },
        cert: { content: cert, sha256: m.newLeaf.sha256, size: Buffer.byteLength(cert), notAfter: m.newLeaf.notAfter },
        key: { content: new Secret(key), sha256: m.newKeySha256, size: Buffer.byteLength(key) },
      },
    },
  };
}
