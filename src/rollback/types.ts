// The rollback plan: what each host held before the run, what its backup holds now, and the typed actions that put it back. Data only.
import type { BeforeState, Plan } from '../plan/types.js';

export type { BeforeState, ExpectedFile } from '../plan/types.js';
export type { FileDiff } from '../plan/before-state.js';
export type { RollbackHostFacts } from '../steps/rollback-read.js';

/** Where the before-state came from. */
export type BeforeSource = 'journal' | 'backup';

/** What the playbook changed on the Manager (issue 6), and whether the DB password is at hand. */
export interface ManagerScope {
  /** Hosts of the manager-templates step. */
  templateHosts: string[];
  /** Host of the manager-db step (the mysql client runs there), when the playbook has one and the inventory configures managerDb. */
  dbHost?: string;
  table?: string;
  /** The environment variable that must hold the DB password, and whether it is set. */
  passwordEnv?: string;
  passwordSet?: boolean;
}

export type RollbackStatus = 'ready' | 'blocked';

/**
 * The rollback's plan: an ordinary `Plan` (its steps are step modules the one engine runs, its actions the one `Action`
 * union the one describer prints: take-lock, verify-backup, restore, manager-restore, restart-restored, check-restored,
 * cleanup), plus what the rollback decided from: whose run, where the before-state came from, the hosts left alone.
 */
export interface RollbackPlan extends Plan {
  kind: 'rollback';
  status: RollbackStatus;
  /** This rollback's own run id (its journal entry); the same as runId. */
  rollbackId: string;
  /** The run being undone. */
  rollbackOf: string;
  source: BeforeSource;
  /** Hosts whose lock a dead process of the rolled-back run left (on this machine): taken over without --break-lock. */
  takeOver?: string[];
  /** Hosts whose cert dir is restored, in inventory order. */
  hosts: string[];
  /** Hosts left alone, with why. */
  skipped: Array<{ host: string; why: string }>;
  /** Before-state per restored host: what the final check expects. */
  before: Record<string, BeforeState>;
}
