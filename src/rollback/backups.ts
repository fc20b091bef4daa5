// The backups beside each host's cert dir: listing (run id, date, size, verified) and which ones `--prune --keep N` may delete (pure), plus the delete itself.
import type { Host } from '../inventory/types.js';
import type { RunSummary } from '../journal/journal.js';
import type { Remote } from '../ssh/remote.js';
import { backupDirOf, lockDirOf } from '../host-paths.js';
import { sh } from '../ssh/quote.js';
import { inspectBackup } from '../steps/restore.js';
import { BACKUP_META } from '../host-paths.js';

export interface BackupEntry {
  host: string;
  dir: string;
  /** From the metadata, else from the directory name. */
  runId: string;
  /** When the backup was taken: metadata createdAt, else the directory's mtime. */
  createdAt: string;
  sizeKiB: number;
  /** Has certroll metadata naming the run its directory is called after. */
  certroll: boolean;
  verified: boolean;
  problem?: string;
}

export interface HostBackups {
  host: string;
  certDir: string;
  backups: BackupEntry[];
  /** The run holding the host's lock now, if any. */
  lockedBy?: string;
}

/** List `<certDir>-bak-*` on a host with size and mtime (one round trip), then inspect each (one round trip per backup). */
export async function listHostBackups(r: Remote, host: Host): Promise<HostBackups> {
  const certDir = host.vars.certDir;
  const lock = lockDirOf(certDir);
  const out = await r.sh(
    sh`CD=${certDir}
for b in "$CD"-bak-*; do [ -d "$b" ] || continue; printf '%s\t%s\t%s\n' "$b" "$(du -sk -- "$b" | cut -f1)" "$(stat -c %Y -- "$b")"; done
echo @@lock
cat ${`${lock}/owner.json`} 2>/dev/null
exit 0`,
    { timeoutMs: host.ssh.commandTimeout * 1000 },
  );
  const [listing = '', lockText = ''] = out.stdout.split('@@lock\n');
  let lockedBy: string | undefined;
  if (lockText.trim()) {
    try {
      const owner = JSON.parse(lockText) as unknown;
      const runId = owner !== null && typeof owner === 'object' ? (owner as { runId?: unknown }).runId : undefined;
      lockedBy = typeof runId === 'string' ? runId : 'unknown (unreadable lock file)';
    } catch {
      lockedBy = 'unknown (unreadable lock file)';
    }
  }
  const backups: BackupEntry[] = [];
  for (const line of listing.split('\n').filter(Boolean)) {
    const [dir = '', size = '0', mtime = '0'] = line.split('\t');
    const nameId = dir.slice(`${certDir}-bak-`.length);
    const b = await inspectBackup(r, dir);
    const certroll = Boolean(b.meta && backupDirOf(certDir, b.meta.runId) === dir);
    backups.push({
      host: host.name,
      dir,
      runId: b.meta?.runId ?? nameId,
      createdAt: b.meta?.createdAt ?? new Date(Number(mtime) * 1000).toISOString(),
      sizeKiB: Number(size),
      certroll,
      verified: certroll && b.verified,
      ...(b.problem ? { problem: b.problem } : !certroll ? { problem: `no certroll metadata for this directory (${BACKUP_META})` } : {}),
    });
  }
  backups.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.runId.localeCompare(a.runId)));
  return { host: host.name, certDir, backups, ...(lockedBy ? { lockedBy } : {}) };
}

/** What the local journal says about runs: finished (succeeded, or rolled back) or unfinished. */
export type RunStanding = { state: 'finished' | 'unfinished' | 'unknown'; detail: string };

/** From `listRuns()`: a run is unfinished while it is running, failed or interrupted and no rollback of it succeeded. */
export function runStandings(runs: Array<RunSummary & { rollbackOf?: string; kind?: string }>): (runId: string) => RunStanding {
  const byId = new Map(runs.map((r) => [r.runId, r]));
  const rolledBack = new Set(runs.filter((r) => r.rollbackOf && r.state === 'succeeded').map((r) => r.rollbackOf!));
  return (runId) => {
    const r = byId.get(runId);
    if (!r) return { state: 'unknown', detail: 'not in the local journal' };
    if (r.state === 'succeeded') return { state: 'finished', detail: 'succeeded' };
    if (rolledBack.has(runId)) return { state: 'finished', detail: `${r.state}, rolled back` };
    return { state: 'unfinished', detail: r.state };
  };
}

export interface PruneDecision {
  entry: BackupEntry;
  action: 'keep' | 'delete';
  why: string;
}

/**
 * Which of one host's backups `--prune --keep N` deletes: only certroll backups older than the newest N; never the newest,
 * never a directory without certroll metadata, never one of an unfinished run, never one of the run holding the host's lock.
 */
export function selectPrune(h: HostBackups, keep: number, standing: (runId: string) => RunStanding): PruneDecision[] {
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError('keep must be an integer ≥ 1 (the newest backup is never deleted)');
  const ours = h.backups.filter((b) => b.certroll).sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.runId.localeCompare(a.runId)));
  const out: PruneDecision[] = [];
  ours.forEach((b, i) => {
    if (i < keep) return out.push({ entry: b, action: 'keep', why: i === 0 ? 'newest' : `one of the newest ${keep}` });
    if (h.lockedBy === b.runId) return out.push({ entry: b, action: 'keep', why: `run ${b.runId} holds the lock on ${h.host}` });
    const s = standing(b.runId);
    if (s.state === 'unfinished') return out.push({ entry: b, action: 'keep', why: `run ${b.runId} is unfinished (journal: ${s.detail}); roll it back or finish it first` });
    out.push({ entry: b, action: 'delete', why: `older than the newest ${keep}${s.state === 'finished' ? ` (run ${s.detail})` : ''}` });
  });
  for (const b of h.backups.filter((x) => !x.certroll)) out.push({ entry: b, action: 'keep', why: 'not a certroll backup (no metadata): left alone' });
  return out;
}

/** Delete one backup, re-checking on the host that it is a certroll backup of that run and that no lock names the run. */
export async function deleteBackup(r: Remote, host: Host, entry: BackupEntry): Promise<{ deleted: boolean; why?: string }> {
  const certDir = host.vars.certDir;
  const dir = backupDirOf(certDir, entry.runId);
  if (dir !== entry.dir) return { deleted: false, why: `${entry.dir} is not named after its run` };
  const lock = `${lockDirOf(certDir)}/owner.json`;
  const out = await r.sh(
    sh`if [ ! -f ${`${dir}/${BACKUP_META}`} ]; then echo @@notours; elif grep -qF -- ${entry.runId} ${lock} 2>/dev/null; then echo @@locked; else rm -rf -- ${dir} && echo @@deleted; fi`,
    { allowFailure: true, timeoutMs: 120_000 },
  );
  if (out.stdout.includes('@@deleted')) return { deleted: true };
  if (out.stdout.includes('@@locked')) return { deleted: false, why: `run ${entry.runId} holds the lock now` };
  if (out.stdout.includes('@@notours')) return { deleted: false, why: 'its certroll metadata is gone' };
  return { deleted: false, why: out.stderr.trim() || `exit ${out.exitCode}` };
}
