// The plan: typed actions per step and host, warnings and the reason when there is nothing to do. Data only, no secrets.
import type { Located, StepType } from '../playbook/types.js';
import type { FileRecord } from '../file-record.js';

export type FileRole = 'ca' | 'cert' | 'key';

/** One file as it was before a run (from the journal's facts.json or a backup's .certroll-backup.json). */
export type ExpectedFile = Omit<FileRecord, 'size'> & { size?: number };

/** A cert dir's state before a run: what a rollback restores and its final check compares against. */
export interface BeforeState {
  files: ExpectedFile[];
  dir?: { mode?: number; uid?: number; gid?: number };
}

/**
 * The step types a plan can hold: the playbook's (planned by their modules from a playbook step) and the ones the rollback
 * planner plans from what it read on the hosts (src/rollback/plan.ts), plus the final `cleanup` phase. One engine runs them all.
 */
export type PlanStepType = StepType | 'take-lock' | 'verify-backup' | 'restore-kube-config' | 'restore' | 'manager-restore' | 'restart-restored' | 'check-restored' | 'cleanup';

export interface Warning {
  /** `block` stops a run (unless the user forces what can be forced); `warn` is shown; `info` is context. */
  level: 'block' | 'warn' | 'info';
  code: string;
  message: string;
  host?: string;
}

export type Action =
  | { kind: 'lock'; host: string; path: string; /** The lock of a run whose process on this machine is gone: taken over without --break-lock. */ takeOver?: boolean }
  | { kind: 'precheck'; host: string; checks: string[] }
  | { kind: 'backup'; host: string; from: string; to: string; files: number; kib: number; /** Resume: the backup exists; it is verified, never re-taken. */ existing?: boolean }
  | ({
      kind: 'stage';
      host: string;
      role: FileRole;
      staged: string;
      notAfter?: string;
      /** The content is a private key: never printed, never journaled. */
      secret: boolean;
    } & /** The file as it will be; its path is the live file this will replace. */ FileRecord)
  /** kubeadm: one certificate renewed on a host (its files are the `stage` actions that follow): what it will say. */
  | {
      kind: 'renew-cert';
      host: string;
      /** The live file (a certificate, or a kubeconfig holding the user's certificate). */
      path: string;
      /** The kubeconfig user whose embedded certificate this is. */
      user?: string;
      subject: string;
      /** The CA that signs it (`ca`, `front-proxy-ca`, `etcd/ca`) and its subject. */
      ca: string;
      issuer: string;
      oldNotAfter: string;
      notAfter: string;
      sans: string[];
      sansAdded: string[];
      sansRemoved: string[];
      extKeyUsage: string[];
      /** `new`: a new key of the same algorithm and size; `kept`: the old key reused (its file not rewritten). */
      key: 'new' | 'kept';
      keyType: string;
    }
  | { kind: 'swap'; host: string; renames: Array<{ from: string; to: string; role: FileRole }> }
  | {
      kind: 'restart';
      host: string;
      /** 1-based position in the restart order. */
      order: number;
      leader: boolean;
      manifests: string[];
      parkDir: string;
      manifestsDir: string;
      pauseSeconds: number;
      checksAfter: string[];
      /** Each manifest restarted on its own, in order (kubeadm's static pods), instead of all at once. */
      oneByOne?: boolean;
      /** The node is already stopped: a certroll run parked its manifests (marker beside each) and died. It is finished first: manifests put back, then the health checks. */
      parked?: { runIds: string[]; files: string[] };
    }
  | { kind: 'exec'; host: string; argv: string[]; why: string; skipIfMissing?: string }
  | { kind: 'verify'; host: string; files: Array<{ path: string; sha256: string; notAfter?: string }>; cluster: boolean }
  /** Rollback: check a backup against its sha256 manifest and the state before the run, before any host is touched. */
  | { kind: 'verify-backup'; host: string; backupDir: string; files: number; /** The before-state the backup must hold. */ expected: ExpectedFile[]; /** The Manager template backup on this host, verified too. */ templatesDir?: string }
  /**
   * Rollback (kubeadm): put back a ~/.kube copy that the run's refresh-kube-config replaced, from its backup beside it (copied
   * on the host). `sha256`: the copy now (what the run wrote); `backupSha256`, mode and owner: the backup's, what it gets back.
   */
  | { kind: 'restore-kubeconfig'; host: string; path: string; backup: string; sha256: string; backupSha256: string; mode: number; uid: number; gid: number }
  /** Rollback: put a cert dir back from its backup (staged copies, back-to-back renames), removing what the run created. */
  | { kind: 'restore'; host: string; from: string; to: string; files: number; changes: string[]; removes: string[] }
  /** Rollback: put the Manager template files back from their verified backup. */
  | { kind: 'restore-templates'; host: string; backupDir: string; files: number }
  /** Rollback: put the managed PEM rows back from the run's backup table, when it exists. */
  | { kind: 'restore-db'; host: string; table: string; backup: string }
  /** Rollback: the cert dir is byte-identical (sha256, mode, owner) to the before-state. */
  | { kind: 'check-restored'; host: string; files: number; expected: BeforeState; backupDir: string }
  /** The final phase of a plan: delete this run's staged files (after a failure) under `dir`, then release the run lock. */
  | { kind: 'release'; host: string; path: string; dir: string; staged: string }
  /** Copy the Manager's template files into a backup dir on its host, with a sha256 manifest, before changing them. */
  | { kind: 'manager-backup'; host: string; dir: string; files: string[]; existing?: boolean }
  /** Replace one Manager template file (etcd-ca.pem or config.json) by an atomic write keeping mode and owner. */
  | ({
      kind: 'manager-file';
      host: string;
      what: 'template-ca' | 'config-json';
      /** sha256 of the file now (null: absent). */
      before: string | null;
      /** config.json: how many "expiry" values change. */
      changes?: number;
    } & /** The file as it will be. */ FileRecord)
  /** CREATE TABLE <backup> LIKE <table>; INSERT … SELECT; verify counts and the managed rows. */
  | { kind: 'db-backup'; host: string; target: string; table: string; backup: string; existing?: boolean }
  /** Update the managed rows in one transaction, then read them back and compare byte for byte. */
  | { kind: 'db-update'; host: string; target: string; table: string; rows: Array<{ key: string; role: FileRole; before: string | null; sha256: string; size: number; secret: boolean }> }
  /**
   * refresh-kube-config: replace a copy of the old admin.conf (recognised by its client certificate) by the renewed admin.conf,
   * copied on the host after a backup beside it; mode and owner kept. `sha256`/`certSha256`: the file and its certificate now.
   */
  | { kind: 'refresh-kubeconfig'; host: string; path: string; from: string; backup: string; sha256: string; certSha256: string; mode: number; uid: number; gid: number; /** Where that certificate was seen: `from` itself, or an earlier copy in a backup. */ matched: string };

export type ActionKind = Action['kind'];

export interface PlannedStep {
  index: number;
  type: PlanStepType;
  title: string;
  at: Located;
  hosts: string[];
  actions: Action[];
  /** Why a step does nothing, or context worth printing. */
  notes: string[];
  /** Resume: the stopped run finished this step (`earlier`) or the operator did it by hand (`operator`, --skip); not run again. */
  done?: 'earlier' | 'operator';
}

export interface CertSummary {
  subject: string;
  issuer: string;
  serial: string;
  sha256: string;
  fingerprint: string;
  notBefore: string;
  notAfter: string;
  sans: string[];
}

export interface MaterialSummary {
  oldCa: CertSummary;
  newCa: CertSummary;
  oldLeaf: CertSummary;
  newLeaf: CertSummary;
  /** sha256 of the new key file's bytes (the key itself never leaves memory). */
  newKeySha256: string;
  keyType: string;
  sanDiff: { added: string[]; removed: string[] };
}

export type PlanStatus = 'ready' | 'nothing-to-do' | 'blocked';

export interface Plan {
  /** A rollback's plan (src/rollback/plan.ts): runId is the rollback's own id, rollbackOf the run it undoes. */
  kind?: 'rollback';
  rollbackOf?: string;
  runId: string;
  createdAt: string;
  inventory: string;
  playbook: string;
  status: PlanStatus;
  /** Why nothing is to be done, or why the plan is blocked. */
  reasons: string[];
  warnings: Warning[];
  material: MaterialSummary | null;
  /** etcd hosts in restart order: followers first, leader last. */
  restartOrder: string[];
  steps: PlannedStep[];
}
