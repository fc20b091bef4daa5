// The names certroll gives to what it leaves on a host: backup directories and their checksum and metadata files, the run lock,
// park markers, staged files. One module, so that what one part writes another finds (pure).

/** The backup directory of a run: beside the cert dir, never overwritten. */
export const backupDirOf = (certDir: string, runId: string) => `${certDir}-bak-${runId}`;
/** Where a backup is written before it is verified and renamed to its final name. */
export const partialBackupOf = (backupDir: string) => `${backupDir}.partial`;
/** Inside each backup (the cert dir's and the Manager templates'): the sha256 manifest (sha256sum format) and metadata for a restore from the host alone. */
export const BACKUP_SUMS = '.certroll-backup.sha256';
export const BACKUP_META = '.certroll-backup.json';

/**
 * Where a run keeps the Manager template files it changes: beside the host's cert dir (`/srv/kubernetes-manager-bak-<run-id>`),
 * outside the Manager's content tree, which the Manager scans (a stray directory there could look like a service or a version).
 */
export function managerTemplatesBackupDir(certDir: string, runId: string): string {
  return `${certDir}-manager-bak-${runId}`;
}

/** Where the per-cluster run lock lives on a host: beside the cert dir, outside what is backed up. */
export const lockDirOf = (certDir: string) => `${certDir}.certroll-lock`;

/** The marker the rolling restart leaves beside a manifest it parks: `<parkDir>/<manifest>.certroll-park`. */
export const PARK_MARKER_SUFFIX = '.certroll-park';
export const parkMarkerOf = (parkDir: string, manifest: string) => `${parkDir}/${manifest}${PARK_MARKER_SUFFIX}`;

/** The staging name of a managed file: a hidden sibling in the same directory, so the final rename is atomic. */
export function stagedName(certDir: string, file: string, runId: string): string {
  return `${certDir}/.${file}.certroll-${runId}`;
}

/** refresh-kube-config's backup of a kubeconfig it replaces: beside it, never overwritten. */
export const kubeconfigBackupOf = (path: string, runId: string) => `${path}.certroll-bak-${runId}`;

/**
 * The find -name pattern of every file a run stages under a cert dir: distribution's (stagedName) and the restore copies of
 * its `--on-failure rollback-node|rollback-all` (`.<file>.certroll-restore-<run-id>`). A run's cleanup deletes them after a failure.
 */
export const runStagedPattern = (runId: string) => `.*.certroll-*${runId}`;
