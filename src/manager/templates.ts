// The Manager template files on their host: back them up (sha256 manifest + metadata), write the new ones, and restore them for rollback.
import { HostError } from '../errors.js';
import { sh } from '../ssh/quote.js';
import type { Remote } from '../ssh/remote.js';
import { writeFilesAtomic } from '../ssh/write-batch.js';
import type { TemplateFileFact } from './types.js';
import type { FileRecord } from '../file-record.js';
import { BACKUP_META, BACKUP_SUMS, managerTemplatesBackupDir } from '../host-paths.js';

/** Inside a template backup: the sha256 manifest and the metadata needed to restore from the host alone. */

export interface TemplateBackupMeta {
  runId: string;
  createdAt: string;
  gencertsDir: string;
  files: Array<{ name: string; path: string; existed: boolean; mode?: number; uid?: number; gid?: number; size?: number; sha256?: string }>;
}

/** Copy the files (as the facts saw them) into a new backup dir and verify it by sha256; never over an existing dir. */
export async function backupTemplates(r: Remote, dir: string, meta: TemplateBackupMeta): Promise<void> {
  const present = meta.files.filter((f) => f.existed);
  const sums = present.map((f) => `${f.sha256}  ./${f.name}\n`).join('');
  const copies = present.map((f) => sh`cp -p -- ${f.path} ${`${dir}/${f.name}`}`).join('\n');
  const script = `set -e
${sh`mkdir -m 700 -- ${dir}`}
${copies}
${sh`cat > ${`${dir}/${BACKUP_SUMS}`}`}
${sh`printf '%s\n' ${JSON.stringify(meta)} > ${`${dir}/${BACKUP_META}`}`}
${sh`chmod 600 ${`${dir}/${BACKUP_SUMS}`} ${`${dir}/${BACKUP_META}`}`}
${sh`cd ${dir}`}
${sh`sha256sum --quiet --strict -c ${BACKUP_SUMS}`}
echo verified`;
  const res = await r.sh(script, { stdin: sums, allowFailure: true });
  if (res.exitCode !== 0 || !res.stdout.includes('verified'))
    throw new HostError(r.host, 'command', `${r.host}: backup of the Manager templates into ${dir} failed or did not verify: ${res.stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${res.exitCode}`}`, `a template changed since the plan, or the disk is full; nothing was changed in the templates (remove a partial ${dir} before running again)`);
}

/** Read and check a template backup: its metadata, and that every file matches the manifest. null when it does not exist. */
export async function inspectTemplatesBackup(r: Remote, dir: string): Promise<{ meta: TemplateBackupMeta | null; verified: boolean; problem?: string } | null> {
  const res = await r.sh(
    sh`[ -d ${dir} ] || { echo @@absent; exit 0; }; cd ${dir} && cat ${BACKUP_META} && echo @@meta-end && if sha256sum --quiet --strict -c ${BACKUP_SUMS} >/dev/null 2>&1; then echo @@ok; else echo @@bad; fi`,
    { allowFailure: true },
  );
  if (res.stdout.includes('@@absent')) return null;
  const text = res.stdout.split('@@meta-end')[0]!.trim();
  let meta: TemplateBackupMeta | null = null;
  try {
    meta = JSON.parse(text) as TemplateBackupMeta;
  } catch {
    return { meta: null, verified: false, problem: `${dir}/${BACKUP_META} is missing or unreadable` };
  }
  if (!res.stdout.includes('@@ok')) return { meta, verified: false, problem: `a file in ${dir} does not match ${BACKUP_SUMS}` };
  return { meta, verified: true };
}

/** Write one template file atomically with the given mode/owner, checked by sha256 on the host. */
export async function writeTemplateFile(r: Remote, path: string, content: string, sha256: string, opts: Pick<FileRecord, 'mode' | 'uid' | 'gid'>): Promise<void> {
  return writeTemplateFiles(r, [{ path, content, sha256, ...opts }]);
}

/**
 * Write template files in one exec (src/ssh/write-batch.ts): each to a temporary name with its mode and owner, checked
 * against its sha256 on the host; only when all check out are they renamed into place, back to back.
 */
export async function writeTemplateFiles(r: Remote, files: Array<{ path: string; content: string; sha256: string } & Pick<FileRecord, 'mode' | 'uid' | 'gid'>>): Promise<void> {
  try {
    await writeFilesAtomic(r, files.map((f) => ({ path: f.path, data: f.content, mode: f.mode, uid: f.uid, gid: f.gid, sha256: f.sha256 })));
  } catch (err) {
    const bad = err instanceof HostError && files.find((f) => err.shortMessage.includes(`${f.path} written does not have`));
    if (bad)
      throw new HostError(r.host, 'transfer', `${r.host}: ${bad.path} does not have the expected sha256 ${bad.sha256.slice(0, 16)}… after writing`, 'the backup of the templates is in place; restore it or run again');
    throw err;
  }
}

/** sha256 of each path now (null when absent). */
export async function currentSha256(r: Remote, paths: string[]): Promise<Record<string, string | null>> {
  const res = await r.sh(paths.map((p) => sh`if [ -f ${p} ]; then sha256sum < ${p} | cut -d' ' -f1; else echo -; fi`).join('\n'), { allowFailure: true });
  const lines = res.stdout.split('\n');
  return Object.fromEntries(paths.map((p, i) => [p, lines[i] && lines[i] !== '-' ? lines[i]!.trim() : null]));
}

export interface RestoreTemplatesOptions {
  /** The host's cert dir (vars.certDir): the backup is `<certDir>-manager-bak-<runId>`. */
  certDir: string;
  runId: string;
}

export interface RestoreTemplatesResult {
  /** The backup dir used. */
  backupDir: string;
  /** false when the run left no template backup on this host (it stopped before the manager-templates step): nothing to do. */
  found: boolean;
  /** Paths put back from the backup. */
  restored: string[];
  /** Paths removed because they did not exist before the run. */
  removed: string[];
}

/**
 * Rollback: put the Manager's template files (etcd-ca.pem, config.json) back exactly as they were before run `runId`, from the
 * backup on the host: the backup is verified by sha256 first, each file is copied to a staged sibling with its old mode and
 * owner and renamed over the live one, files the run created are removed, and the result is checked by sha256.
 * Idempotent. Throws HostError when the backup does not verify or the restore fails.
 */
export async function restoreManagerTemplates(r: Remote, opts: RestoreTemplatesOptions): Promise<RestoreTemplatesResult> {
  const backupDir = managerTemplatesBackupDir(opts.certDir, opts.runId);
  const b = await inspectTemplatesBackup(r, backupDir);
  if (!b) return { backupDir, found: false, restored: [], removed: [] };
  if (!b.verified || !b.meta)
    throw new HostError(r.host, 'command', `${r.host}: the Manager template backup ${backupDir} does not verify: ${b.problem}`, 'inspect it by hand; nothing was restored');
  const restored: string[] = [];
  const removed: string[] = [];
  const lines: string[] = ['set -e'];
  for (const f of b.meta.files) {
    if (f.existed) {
      const staged = `${f.path}.certroll-restore-${opts.runId}`;
      lines.push(
        sh`cp -- ${`${backupDir}/${f.name}`} ${staged}`,
        sh`chown ${`${f.uid}:${f.gid}`} ${staged} 2>/dev/null || true`,
        sh`chmod ${(f.mode ?? 0o644).toString(8)} ${staged}`,
        sh`mv -f -- ${staged} ${f.path}`,
      );
      restored.push(f.path);
    } else {
      lines.push(sh`rm -f -- ${f.path}`);
      removed.push(f.path);
    }
  }
  const res = await r.sh(lines.join('\n'), { allowFailure: true });
  if (res.exitCode !== 0)
    throw new HostError(r.host, 'command', `${r.host}: restoring the Manager templates from ${backupDir} failed: ${res.stderr.trim() || `exit ${res.exitCode}`}`, `copy the files from ${backupDir} by hand (see ${BACKUP_META} for their paths)`);
  const now = await currentSha256(r, b.meta.files.map((f) => f.path));
  for (const f of b.meta.files) {
    const want = f.existed ? f.sha256 : null;
    if (now[f.path] !== want)
      throw new HostError(r.host, 'command', `${r.host}: ${f.path} does not match its backup after the restore`, `copy it from ${backupDir} by hand`);
  }
  return { backupDir, found: true, restored, removed };
}

/** The metadata of a backup of `files` (as the facts saw them) in gencertsDir. */
export function templateBackupMeta(runId: string, gencertsDir: string, files: Array<{ name: string; fact: TemplateFileFact }>, now = new Date()): TemplateBackupMeta {
  return {
    runId,
    createdAt: now.toISOString(),
    gencertsDir,
    files: files.map(({ name, fact }) =>
      fact.exists
        ? { name, path: fact.path, existed: true, mode: fact.mode!, uid: fact.uid!, gid: fact.gid!, size: fact.size!, sha256: fact.sha256! }
        : { name, path: fact.path, existed: false },
    ),
  };
}
