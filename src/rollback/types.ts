// The rollback plan: what each host held before the run, what its backup holds now, and the typed actions that put it back. Data only.
import type { Warning } from '../plan/types.js';
import type { FileRecord } from '../file-record.js';

/** One file as it was before the run (from the journal's facts.json or the backup's .certroll-backup.json). */
export type ExpectedFile = Omit<FileRecord, 'size'> & { size?: number };

/** A cert dir's state before the run: what the final check compares against. */
export interface BeforeState {
  files: ExpectedFile[];
  dir?: { mode?: number; uid?: number; gid?: number };
}

/** Where the before-state came from. */
export type BeforeSource = 'journal' | 'backup';

/** What was read on one host before deciding anything (read-only). */
export interface RollbackHostFacts {
  host: string;
  certDir: string;
  backupDir: string;
  backup: {
    exists: boolean;
    /** The manifest (.certroll-backup.sha256) verifies. */
    verified: boolean;
    problem?: string;
    /** run id written in .certroll-backup.json */
    metaRunId?: string;
    createdAt?: string;
    /** Before-state as the backup's metadata records it. */
    meta?: BeforeState;
    /** The files actually in the backup directory (sha256, mode, owner), metadata files excluded. */
    files: ExpectedFile[];
  };
  /** The cert dir now. */
  current: { exists: boolean; files: ExpectedFile[]; dir?: { mode?: number; uid?: number; gid?: number } };
  lock: { runId: string; startedAt?: string; controlHost?: string; pid?: number } | null;
  manifests: { inPlace: string[]; parked: string[]; markers?: import('../facts/types.js').ParkMarker[] };
  /** The Manager template backup of the run on this host (issue 6), when the playbook changes templates here. */
  managerTemplates?: { dir: string; found: boolean; verified: boolean; problem?: string; files: number };
}

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

/** A difference between what a cert dir should hold and what it holds. */
export interface FileDiff {
  path: string;
  what: 'missing' | 'extra' | 'content' | 'mode' | 'owner' | 'dir-mode' | 'dir-owner';
  detail: string;
}

export type RollbackAction =
  | { kind: 'lock'; host: string; path: string }
  | { kind: 'verify-backup'; host: string; backupDir: string; files: number }
  | { kind: 'restore'; host: string; from: string; to: string; files: number; changes: string[]; removes: string[] }
  | { kind: 'manager-templates'; host: string; backupDir: string; files: number }
  | { kind: 'manager-db'; host: string; table: string; backup: string }
  | { kind: 'restart'; host: string; order: number; leader: boolean; manifests: string[]; pauseSeconds: number; /** Left stopped by the run (manifests parked with certroll markers): put back first. */ parked?: { runIds: string[]; files: string[] } }
  | { kind: 'check'; host: string; files: number }
  | { kind: 'unlock'; host: string; path: string };

export interface RollbackStep {
  id: 'lock' | 'verify' | 'restore' | 'manager' | 'restart' | 'check';
  title: string;
  actions: RollbackAction[];
  notes: string[];
}

export type RollbackStatus = 'ready' | 'blocked';

export interface RollbackPlan {
  /** Hosts whose lock a dead process of the rolled-back run left (on this machine): taken over without --break-lock. */
  takeOver?: string[];
  kind: 'rollback';
  /** This rollback's own run id (its journal entry). */
  rollbackId: string;
  /** The run being undone. */
  rollbackOf: string;
  createdAt: string;
  inventory: string;
  playbook: string;
  source: BeforeSource;
  status: RollbackStatus;
  reasons: string[];
  warnings: Warning[];
  /** Hosts whose cert dir is restored, in inventory order. */
  hosts: string[];
  /** Hosts left alone, with why. */
  skipped: Array<{ host: string; why: string }>;
  /** etcd hosts in restart order as seen now: followers first, leader last (re-decided before each node). */
  restartOrder: string[];
  steps: RollbackStep[];
  /** Before-state per restored host: what the final check expects. */
  before: Record<string, BeforeState>;
}
