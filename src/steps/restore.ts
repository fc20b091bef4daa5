// Restore a host's cert dir from its backup: verify the checksum manifest, stage every file beside its target, rename them in,
// remove files the run created. Shared by `run --on-failure rollback-node` and `certroll rollback`.
import { posix } from 'node:path';
import { HostError } from '../errors.js';
import { sh } from '../ssh/quote.js';
import type { Remote } from '../ssh/remote.js';
import type { FileRecord } from '../file-record.js';
import { BACKUP_META, BACKUP_SUMS, PARK_MARKER_SUFFIX } from '../host-paths.js';

export interface BackupMeta {
  runId: string;
  createdAt: string;
  source: string;
  dir: { mode?: number; uid?: number; gid?: number };
  files: FileRecord[];
}

/** Read and verify a backup on its host (one round trip): its metadata, and whether every file matches the manifest. */
export async function inspectBackup(r: Remote, backupDir: string): Promise<{ meta: BackupMeta | null; verified: boolean; problem?: string }> {
  const out = await r.sh(
    sh`cd ${backupDir} 2>/dev/null || { echo @@missing; exit 0; }; cat ${BACKUP_META} 2>/dev/null || echo '{}'; echo; echo @@sums; if sha256sum --quiet --strict -c ${BACKUP_SUMS} >/dev/null 2>&1; then echo @@ok; else echo @@bad; sha256sum --quiet -c ${BACKUP_SUMS} 2>&1 | head -5; fi`,
    { allowFailure: true },
  );
  if (out.stdout.includes('@@missing')) return { meta: null, verified: false, problem: `${backupDir} does not exist` };
  const [metaText = '', rest = ''] = out.stdout.split('@@sums');
  let meta: BackupMeta | null = null;
  try {
    const m = JSON.parse(metaText.trim()) as BackupMeta;
    if (m.runId && Array.isArray(m.files)) meta = m;
  } catch {
    /* reported below */
  }
  if (!meta) return { meta: null, verified: false, problem: `${backupDir}/${BACKUP_META} is missing or unreadable` };
  if (!rest.includes('@@ok')) return { meta, verified: false, problem: `${backupDir} does not match its checksum manifest: ${rest.replace('@@bad', '').trim().split('\n').join('; ')}` };
  return { meta, verified: true };
}

/**
 * The restore as one remote script: stage copies of the files that differ from the backup (cp -a keeps owner and mode) as
 * hidden siblings, then rename them all in, back to back; then delete regular files that were not in the backup (created
 * by the run). Files already as in the backup and directories are left alone.
 */
export function restoreScript(meta: BackupMeta, certDir: string, backupDir: string, tag: string, managed: string[], park?: ParkDirs): string {
  const files = meta.files.map((f) => f.path);
  // A file already as in the backup (content, mode, owner) is not touched: rewriting it would give it a new inode, and a
  // static pod manifest rewritten restarts its pod (the lab's kubelet restarted every pod of every node at once: etcd lost
  // quorum during a kubeadm rollback). Only what differs is staged, then renamed in.
  const lines = [
    'set -e',
    sh`cd ${backupDir}`,
    sh`sha256sum --quiet --strict -c ${BACKUP_SUMS}`,
    `same() { [ -f "$2" ] && [ ! -L "$2" ] && cmp -s -- "$1" "$2" && [ "$(stat -c %a:%u:%g -- "$1")" = "$(stat -c %a:%u:%g -- "$2")" ]; }`,
  ];
  for (const p of files) {
    const dir = p.includes('/') ? `${certDir}/${p.slice(0, p.lastIndexOf('/'))}` : certDir;
    const name = p.slice(p.lastIndexOf('/') + 1);
    lines.push(sh`same ${`${backupDir}/${p}`} ${`${dir}/${name}`} || { mkdir -p -- ${dir} && cp -a -- ${`${backupDir}/${p}`} ${`${dir}/.${name}.certroll-restore-${tag}`}; }`);
  }
  for (const p of files) {
    const dir = p.includes('/') ? `${certDir}/${p.slice(0, p.lastIndexOf('/'))}` : certDir;
    const name = p.slice(p.lastIndexOf('/') + 1);
    lines.push(sh`if [ -e ${`${dir}/.${name}.certroll-restore-${tag}`} ]; then mv -f -- ${`${dir}/.${name}.certroll-restore-${tag}`} ${`${dir}/${name}`}; fi`);
  }
  // A park dir inside the cert dir (kubeadm: /etc/kubernetes/certroll-parked): a manifest the run parked there (with
  // certroll's marker beside it) was not there before. It goes back to its place when that is empty (a manifests dir
  // outside the cert dir), else it is the copy of the manifest the backup just put back: removed with its marker.
  const rel = park ? posix.relative(certDir, park.parkDir) : '';
  if (park && rel && !rel.startsWith('..') && !posix.isAbsolute(rel)) {
    lines.push(
      sh`for m in ${park.parkDir}/*${PARK_MARKER_SUFFIX}; do [ -f "$m" ] || continue; p=\${m%${PARK_MARKER_SUFFIX}}; t=${park.manifestsDir}/\${p##*/}`,
      sh`  if [ -f "$p" ] && [ ! -e "$t" ]; then mv -f -- "$p" "$t"; echo "unparked \${p#${certDir}/}"; elif [ -f "$p" ]; then rm -f -- "$p"; echo "removed \${p#${certDir}/}"; fi`,
      '  rm -f -- "$m"',
      'done',
    );
  }
  // Files the run created: anything now in the cert dir that the backup does not list.
  lines.push(sh`cd ${certDir}`);
  lines.push(`find . -type f | sed 's#^\\./##' | while IFS= read -r f; do case "$f" in`);
  for (const p of files) lines.push(`  ${sh`${p}`}) ;;`);
  // Only what a run can have created: its managed files and its own hidden staging files. Anything else stays.
  for (const m of managed) lines.push(`  ${sh`${m}`}) rm -f -- "$f"; echo "removed $f" ;;`);
  lines.push(`  *.certroll-*) rm -f -- "$f"; echo "removed $f" ;;`, 'esac; done', 'echo @@restored');
  return lines.join('\n');
}

/** Restore one host's cert dir from `backupDir`; throws HostError when the backup does not verify or the restore fails. */
/** Where a host's rolling restart parks manifests and where they live (vars.parkDir, vars.manifestsDir). */
export interface ParkDirs {
  parkDir: string;
  manifestsDir: string;
}

export async function restoreHost(r: Remote, certDir: string, backupDir: string, tag: string, managed: string[], park?: ParkDirs): Promise<{ files: number; removed: string[] }> {
  const b = await inspectBackup(r, backupDir);
  if (!b.meta || !b.verified) throw new HostError(r.host, 'command', `${r.host}: cannot restore from ${backupDir}: ${b.problem}`, 'the cert dir was left as it is; inspect the backup by hand');
  const out = await r.sh(restoreScript(b.meta, certDir, backupDir, tag, managed, park), { allowFailure: true, timeoutMs: 120_000 });
  if (out.exitCode !== 0 || !out.stdout.includes('@@restored'))
    throw new HostError(r.host, 'command', `${r.host}: restore from ${backupDir} failed: ${out.stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${out.exitCode}`}`, `restore by hand: cp -a ${backupDir}/. ${certDir}/`);
  const removed = out.stdout.split('\n').filter((l) => l.startsWith('removed ') || l.startsWith('unparked ')).map((l) => (l.startsWith('removed ') ? l.slice(8) : `${l.slice(9)} (put back in place)`));
  return { files: b.meta.files.length, removed };
}

/**
 * Put one host's cert dir back from a run's backup and say so: the one restore of `certroll rollback` (its restore step)
 * and of `run --on-failure rollback-node|rollback-all`. Staged copies are named `.<file>.certroll-restore-<tag>`.
 */
export async function restoreCertDir(r: Remote, o: { certDir: string; backupDir: string; tag: string; managed: string[]; park?: ParkDirs }, report: (m: string) => void): Promise<{ files: number; removed: string[] }> {
  const res = await restoreHost(r, o.certDir, o.backupDir, o.tag, o.managed, o.park);
  report(`${r.host}: cert dir restored from ${o.backupDir} (${res.files} files${res.removed.length ? `, removed ${res.removed.join(', ')}` : ''})`);
  return res;
}
