// Several files written on one host in one exec round trip: their contents travel on stdin, one script writes each to a
// temporary name beside it (created exclusively, 0600 while written), sets its mode and owner, fsyncs it, checks its
// sha256 on the host, and only when every file checked out renames them all into place back to back.
import { createHash } from 'node:crypto';
import { HostError } from '../errors.js';
import { chownSpec, octal } from './exec-transfer.js';
import { defaultFileMode, tempNameFor } from './file-ops.js';
import { raw, sh } from './quote.js';
import type { Remote } from './remote.js';

export interface BatchFile {
  path: string;
  data: Buffer | string;
  /** Permission bits of the final file. Default 0o644, 0o600 for anything called *key*. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** The sha256 the file must have on the host (hex); default: the sha256 of `data`. A mismatch writes nothing. */
  sha256?: string;
}

const BAD_SUM = '@@badsum';
const WRITTEN = '@@written';

/**
 * The script and its stdin. Each file is read with `head -c SIZE` (GNU head reads no further than SIZE bytes from a pipe,
 * so the next file's bytes stay on stdin; were a head to read ahead, the sha256 check would fail and nothing would be
 * renamed). `set -C` makes `>` refuse an existing temporary name, as SFTP's exclusive create did.
 */
export function writeBatchScript(files: readonly BatchFile[], tmpName: (path: string) => string = tempNameFor): { script: string; stdin: Buffer; tmps: string[]; sums: string[] } {
  if (!files.length) throw new TypeError('writeBatchScript: no files');
  const bufs = files.map((f) => (Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data, 'utf8')));
  const tmps = files.map((f) => tmpName(f.path));
  const sums = files.map((f, i) => (f.sha256 ?? createHash('sha256').update(bufs[i]!).digest('hex')).toLowerCase());
  const lines = [
    'umask 077',
    'set -C',
    // cleanup removes only the temporary files this script created (n of them so far), never one it found there.
    'n=0',
    `cleanup() { case $n in ${tmps.map((_, i) => `${i + 1}) rm -f -- ${tmps.slice(0, i + 1).map((t) => sh`${t}`).join(' ')};;`).join(' ')} esac; }`,
    "trap 'cleanup; exit 129' HUP INT TERM PIPE",
  ];
  files.forEach((f, i) => {
    const tmp = tmps[i]!;
    const want = sums[i]!;
    const owner = chownSpec(f.uid, f.gid);
    const chown = owner ? raw(sh` && chown ${owner} ${tmp}`) : raw('');
    lines.push(
      sh`true > ${tmp} || { rc=$?; cleanup; exit $rc; }`, // `true`, not `:`: a failed redirection of a special builtin would end sh at once
      `n=${i + 1}`,
      sh`head -c ${bufs[i]!.length} >> ${tmp} && chmod ${octal(f.mode ?? defaultFileMode(f.path))} ${tmp}${chown} && { sync ${tmp} 2>/dev/null || :; } || { rc=$?; cleanup; exit $rc; }`,
      sh`s=$(sha256sum < ${tmp}) || { cleanup; exit 5; }`,
      sh`case "$s" in ${want}' '*) ;; *) echo ${`${BAD_SUM} ${i}`}; cleanup; exit 5;; esac`,
    );
  });
  // Every file is there and checked: rename them back to back.
  lines.push(`${files.map((f, i) => sh`mv -f -T -- ${tmps[i]!} ${f.path}`).join(' && ')} || { rc=$?; cleanup; exit $rc; }`, `echo ${WRITTEN}`);
  return { script: lines.join('\n'), stdin: Buffer.concat(bufs), tmps, sums };
}

/**
 * Write `files` on `r` atomically, in one exec: every file is checked by sha256 on the host before any is renamed into
 * place. Rejects with HostError 'transfer' naming the first file whose sha256 differs (nothing renamed), or the host's
 * error output.
 */
export async function writeFilesAtomic(r: Remote, files: readonly BatchFile[], timeoutMs?: number): Promise<void> {
  const { script, stdin, sums } = writeBatchScript(files);
  const res = await r.sh(script, { stdin, allowFailure: true, ...(timeoutMs ? { timeoutMs } : {}) });
  if (res.exitCode === 0 && res.stdout.includes(WRITTEN)) return;
  const bad = new RegExp(`${BAD_SUM} (\\d+)`).exec(res.stdout);
  if (bad) {
    const i = Number(bad[1]);
    throw new HostError(r.host, 'transfer', `${r.host}: ${files[i]!.path} written does not have the expected sha256 ${sums[i]!.slice(0, 16)}…`, 'nothing was renamed into place; run again (or resume) to write it again');
  }
  throw new HostError(r.host, 'transfer', `${r.host}: writing ${files.map((f) => f.path).join(', ')} failed: ${res.stderr.trim() || `exit ${res.exitCode ?? res.signal}`}`,
    'nothing was renamed into place unless every file was written and checked; check the directory and the free space');
}
