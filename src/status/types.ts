// What `certroll status` reports: the fleet's state read from the hosts (lock, parked manifests, certificate versions,
// backups, etcd health), the local journal's unfinished runs, and the one command to run next. Plain JSON data.

export const STATUS_SCHEMA = 'certroll.status/v1';

/** The lock as found on the hosts, one entry per distinct holder. */
export interface LockHolder {
  runId: string;
  /** `run`, or `rollback` (then rollbackOf names the run it undoes). */
  kind: 'run' | 'rollback';
  rollbackOf?: string;
  controlHost?: string;
  user?: string;
  pid?: number;
  startedAt?: string;
  /** Seconds since startedAt, when it parses. */
  ageSeconds?: number;
  step?: string;
  /** Hosts whose lock names this holder. */
  hosts: string[];
  /** The run's journal is on this machine (so `run --resume` works here). */
  journalHere: boolean;
  /** true / false when the holder ran on this machine and its pid was checked; absent when that cannot be known from here. */
  alive?: boolean;
  /** The owner file could not be read as an owner. */
  unreadable?: string;
}

/** A manifest found in the park dir and not in the manifests dir: a member that is down. */
export interface ParkedManifest {
  host: string;
  manifest: string;
  /** Where it is now (<parkDir>/<manifest>). */
  path: string;
  /** Where it belongs (<manifestsDir>/<manifest>). */
  home: string;
  /** The certroll marker beside it, when there is a readable one. */
  marker?: { file: string; runId: string; parkedAt: string; sha256Matches: boolean };
  /** Why the marker beside it is not usable, when there is one that cannot be read. */
  markerProblem?: string;
}

/** A marker whose manifest is back in place (a run stopped between putting it back and removing the marker). */
export interface StaleMarker {
  host: string;
  file: string;
  runId?: string;
}

/** One version of a certificate file and the hosts that hold it. */
export interface CertVersion {
  /** SHA-256 fingerprint of the certificate (colon hex), or `sha256:<file hash>` when the file does not parse, or `absent`. */
  id: string;
  notAfter?: string;
  subject?: string;
  hosts: string[];
  /** Manager hosts whose template holds this CA (ca only). */
  managerTemplates?: string[];
  /** The version with the latest Not After. */
  newest: boolean;
}

export interface CertRole {
  role: 'ca' | 'cert';
  file: string;
  versions: CertVersion[];
  /** The version the first master holds (certificates are generated there), by id. */
  firstMaster: { host: string; id: string | null };
  /** Hosts that hold something else than the first master. */
  differ: string[];
}

export interface BackupRun {
  runId: string;
  hosts: Array<{ host: string; dir: string; verified: boolean; certroll: boolean; problem?: string }>;
  /** Every certroll backup of the run verifies. */
  verified: boolean;
  createdAt: string;
  /** What the local journal says about the run (finished, unfinished, not in the local journal). */
  journal: string;
}

export interface EtcdHealth {
  queriedFrom?: string;
  healthy: number;
  total: number;
  leader?: string;
  unhealthy: Array<{ endpoint: string; error?: string }>;
  error?: string;
}

export interface NextStep {
  /** The one command to run next; absent when nothing is to be done or no command can do it. */
  command?: string;
  /** Why, in one line. */
  why: string;
  /** What to do by hand when no certroll command applies. */
  manual?: string[];
  /** The other way out, when there is one (undo the stopped run instead of finishing it). */
  alternative?: string;
}

export type StatusState = 'clean' | 'work-left' | 'unreachable';

export interface StatusReport {
  schema: typeof STATUS_SCHEMA;
  generatedAt: string;
  inventory: string;
  playbook: string;
  state: StatusState;
  /** 0 clean, 1 work left or an unfinished run, 2 a host unreachable (the picture is incomplete). */
  exitCode: 0 | 1 | 2;
  hosts: string[];
  unreachable: Array<{ host: string; kind: string; message: string }>;
  locks: LockHolder[];
  parked: ParkedManifest[];
  staleMarkers: StaleMarker[];
  certificates: CertRole[];
  backups: BackupRun[];
  backupFailures: Array<{ host: string; message: string }>;
  etcd: EtcdHealth | null;
  /** The Manager not holding the first master's CA and certificate (template CA, DB rows): it would push the old ones back. */
  targetState: string[];
  /** Runs of the local journal that did not finish (the latest run only, and every run holding a lock). */
  unfinishedRuns: Array<{ runId: string; state: string; stoppedAt?: string; journal: string }>;
  /** Everything that is not as it should be, one line each. */
  findings: string[];
  next: NextStep;
}
