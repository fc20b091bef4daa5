// What a rollback reads on one host (read-only): the backup of the run (manifest check, metadata, the files in it), the
// cert dir now, the lock and the manifests; and the cert dir alone for the final check. Used by the rollback's planner
// (through src/rollback/gather.ts) and by its verify-backup and check-restored steps.
import type { Host } from '../inventory/types.js';
import type { Playbook } from '../playbook/types.js';
import type { Remote } from '../ssh/remote.js';
import type { BeforeState, ExpectedFile } from '../plan/types.js';
import { hostFactsScript, parseHostFacts, type HostFactsQuery } from '../facts/host-facts.js';
import { backupDirOf, BACKUP_META, BACKUP_SUMS, managerTemplatesBackupDir } from '../host-paths.js';
import { inspectBackup, type BackupMeta } from './restore.js';
import { inspectTemplatesBackup } from '../manager/templates.js';

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

const SPLIT = '@@certroll-rollback:split';

const expected = (f: Pick<import('../facts/types.js').FileFact, 'path' | 'sha256' | 'mode' | 'uid' | 'gid' | 'size'>): ExpectedFile => ({ path: f.path, sha256: f.sha256, mode: f.mode, uid: f.uid, gid: f.gid, size: f.size });

export function metaToBefore(meta: BackupMeta): BeforeState {
  return { files: meta.files.map(expected), dir: meta.dir };
}

/** Read one host: the backup's manifest check and metadata (inspectBackup), then the cert dir and the backup dir listed with sha256, mode and owner. */
export async function readRollbackHost(r: Remote, host: Host, playbook: Playbook, runId: string, opts: { managerTemplates?: boolean } = {}): Promise<RollbackHostFacts> {
  const certDir = host.vars.certDir;
  const backupDir = backupDirOf(certDir, runId);
  const b = await inspectBackup(r, backupDir);
  const q = (dir: string, pems: boolean): HostFactsQuery => ({
    certDir: dir,
    manifestsDir: host.vars.manifestsDir,
    parkDir: host.vars.parkDir,
    pemFiles: pems ? { ca: playbook.files.ca } : {},
  });
  const out = await r.sh(`(\n${hostFactsScript(q(certDir, false))}\n)\necho '${SPLIT}'\n(\n${hostFactsScript(q(backupDir, false))}\n)`, { timeoutMs: host.ssh.commandTimeout * 1000 });
  const [curText = '', bakText = ''] = out.stdout.split(`${SPLIT}\n`);
  const cur = parseHostFacts(host.name, q(certDir, false), curText);
  const bak = parseHostFacts(host.name, q(backupDir, false), bakText);
  const exists = !(b.problem ?? '').endsWith('does not exist');
  let managerTemplates: RollbackHostFacts['managerTemplates'];
  if (opts.managerTemplates) {
    const dir = managerTemplatesBackupDir(certDir, runId);
    const t = await inspectTemplatesBackup(r, dir);
    managerTemplates = { dir, found: t !== null, verified: Boolean(t?.verified), ...(t?.problem ? { problem: t.problem } : {}), files: t?.meta?.files.length ?? 0 };
  }
  return {
    ...(managerTemplates ? { managerTemplates } : {}),
    host: host.name,
    certDir,
    backupDir,
    backup: {
      exists,
      verified: b.verified,
      ...(b.problem ? { problem: b.problem } : {}),
      ...(b.meta ? { metaRunId: b.meta.runId, createdAt: b.meta.createdAt, meta: metaToBefore(b.meta) } : {}),
      files: bak.certDir.files.filter((f) => f.path !== BACKUP_META && f.path !== BACKUP_SUMS).map(expected),
    },
    current: { exists: cur.certDir.exists, files: cur.certDir.files.map(expected), dir: { mode: cur.certDir.mode, uid: cur.certDir.uid, gid: cur.certDir.gid } },
    lock: cur.lock,
    manifests: cur.manifests,
  };
}

/** The cert dir of a host now, for the final check (one round trip). */
export async function readCertDir(r: Remote, host: Host): Promise<{ exists: boolean; files: ExpectedFile[]; dir: BeforeState['dir'] }> {
  const q: HostFactsQuery = { certDir: host.vars.certDir, manifestsDir: host.vars.manifestsDir, parkDir: host.vars.parkDir, pemFiles: {} };
  const out = await r.sh(hostFactsScript(q), { timeoutMs: host.ssh.commandTimeout * 1000 });
  const f = parseHostFacts(host.name, q, out.stdout);
  return { exists: f.certDir.exists, files: f.certDir.files.map(expected), dir: { mode: f.certDir.mode, uid: f.certDir.uid, gid: f.certDir.gid } };
}
