// Runs a rollback plan on the one engine (src/apply/engine.ts): its steps are ordinary step types (src/steps/rollback.ts),
// journaled, interruptible and cleaned up exactly as a run's; the lock says kind rollback and which run it undoes.
import { applyPlan, type EngineOptions, type EngineResult } from '../apply/engine.js';
import type { Inventory } from '../inventory/types.js';
import type { Playbook } from '../playbook/types.js';
import type { Journal } from '../journal/journal.js';
import type { Remote } from '../ssh/remote.js';
import type { Scope } from '../playbook/template.js';
import type { EtcdFacts } from '../facts/types.js';
import type { ApplyResults } from '../steps/types.js';
import type { RollbackPlan } from './types.js';

export interface RollbackContext {
  plan: RollbackPlan;
  inventory: Inventory;
  playbook: Playbook;
  remote(host: string): Remote;
  remotes: Map<string, Remote>;
  scope(name: string): Scope;
  signal: AbortSignal;
  journal: Journal;
  /** etcd as the rollback's gathering saw it. */
  etcd: EtcdFacts | null;
  options: { breakLock: boolean; controlHost: string; user: string };
  /** Replace a dropped connection; a parked node's restart retries for reconnectSeconds (src/steps/rolling-restart.ts). */
  reconnect?: (host: string) => Promise<Remote>;
  reconnectSeconds?: number;
  /** Where the Manager database password is read (the CLI adds one asked on the terminal); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** The engine's result, and what the rollback restored and restarted. */
export interface RollbackResult extends EngineResult {
  results: ApplyResults;
}

/** Run the plan; never throws (the error is in the result). */
export async function applyRollback(ctx: RollbackContext, opts: Omit<EngineOptions, 'journal'>): Promise<RollbackResult> {
  const results: ApplyResults = { restored: [], manager: [], restarted: [], kubeconfigs: [] };
  const r = await applyPlan(
    {
      plan: ctx.plan,
      inventory: ctx.inventory,
      playbook: ctx.playbook,
      material: null,
      remotes: ctx.remotes,
      remote: ctx.remote,
      scope: ctx.scope,
      runId: ctx.plan.rollbackId,
      facts: { gatheredAt: ctx.plan.createdAt, hosts: {}, unreachable: [], etcd: ctx.etcd },
      // A failed restart during a rollback stops it (there is nothing further back to go to).
      options: { ...ctx.options, onFailure: 'stop', lockFields: { kind: 'rollback', rollbackOf: ctx.plan.rollbackOf } },
      signal: ctx.signal,
      journalNote: (e) => ctx.journal.event(e),
      journalIntent: (e) => ctx.journal.intent(e),
      locked: new Set(),
      ...(ctx.reconnect ? { reconnect: ctx.reconnect } : {}),
      ...(ctx.reconnectSeconds !== undefined ? { reconnectSeconds: ctx.reconnectSeconds } : {}),
      ...(ctx.env ? { env: ctx.env } : {}),
      results,
    },
    { ...opts, journal: ctx.journal },
  );
  return { ...r, results };
}
