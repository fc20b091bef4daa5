// The read-only host fact: one shell script per host (one SSH round trip) and the pure parser of its output.
import { quote } from '../ssh/quote.js';
import type { FileFact, HostFacts, LockInfo } from './types.js';

export interface HostFactsQuery {
  certDir: string;
  manifestsDir: string;
  parkDir: string;
  /** Managed certificate files to read (role → file name in certDir). Never key files. */
  pemFiles: Record<string, string>;
}

/** Where the per-cluster run lock lives on a host: beside the cert dir, outside what is backed up. */
export const lockDirOf = (certDir: string) => `${certDir}.certroll-lock`;
/** The marker a run leaves beside a manifest it parked (JSON: runId, host, manifest, from, to, sha256, parkedAt). */
export const parkMarkerOf = (parkedPath: string) => `${parkedPath}.certroll-park`;
/** The backup directory of a run. */
export const backupDirOf = (certDir: string, runId: string) => `${certDir}-bak-${runId}`;

const MARK = '@@certroll:';
/** A section marker on a line of its own, even after a file that does not end with a newline. */
const mark = (name: string) => `printf '\\n${MARK}%s\\n' '${name}'`;

/** The script that prints every host fact, sections separated by marker lines. Reads, never writes. */
export function hostFactsScript(q: HostFactsQuery): string {
  const cd = quote(q.certDir);
  const lines = [
    `CD=${cd}`,
    `${mark('hostname')}; hostname`,
    `${mark('certdir')}; if [ -d "$CD" ]; then stat -c '%a %u %g' "$CD"; (cd "$CD" && find . -type f -printf '%P\\t%s\\t%m\\t%U\\t%G\\t%T@\\n'); fi`,
    `${mark('sha256')}; if [ -d "$CD" ]; then (cd "$CD" && find . -type f -print0 | xargs -0 -r sha256sum); fi`,
  ];
  for (const [role, name] of Object.entries(q.pemFiles)) {
    lines.push(`${mark(`pem ${role}`)}; if [ -f "$CD"/${quote(name)} ]; then cat "$CD"/${quote(name)}; else ${mark('absent')}; fi`);
  }
  lines.push(
    `${mark('manifests')}; ls -1 ${quote(q.manifestsDir)} 2>/dev/null`,
    `${mark('parked')}; ls -1 ${quote(q.parkDir)} 2>/dev/null | grep '\\.manifest$'`,
    // Free space where the backup goes: beside the cert dir, on its parent's filesystem.
    `${mark('df')}; P=$(dirname "$CD"); while [ ! -e "$P" ]; do P=$(dirname "$P"); done; df -Pk "$P" | tail -n 1`,
    `${mark('du')}; if [ -d "$CD" ]; then du -sk "$CD" | cut -f1; else echo 0; fi`,
    `${mark('lock')}; cat ${quote(lockDirOf(q.certDir) + '/owner.json')} 2>/dev/null`,
    `${mark('backups')}; for b in "$CD"-bak-*; do [ -d "$b" ] && echo "$b"; done`,
    `${mark('end')}`,
    'exit 0',
  );
  return lines.join('\n');
}

function sections(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of stdout.split('\n')) {
    if (line.startsWith(MARK) && line !== `${MARK}absent`) {
      current = [];
      out.set(line.slice(MARK.length), current);
    } else if (current) current.push(line);
  }
  return out;
}

/** Parse the script's stdout. Throws when the output is truncated (no end marker). */
export function parseHostFacts(host: string, q: HostFactsQuery, stdout: string): HostFacts {
  const s = sections(stdout);
  if (!s.has('end')) throw new Error(`fact output from ${host} is truncated (no end marker)`);
  const get = (k: string) => (s.get(k) ?? []).filter((l) => l !== '');

  const certLines = get('certdir');
  let exists = false;
  let dirMode: number | undefined, dirUid: number | undefined, dirGid: number | undefined;
  const listing = new Map<string, Omit<FileFact, 'sha256'>>();
  if (certLines.length > 0) {
    exists = true;
    const [m, u, g] = certLines[0]!.split(' ');
    dirMode = parseInt(m!, 8);
    dirUid = Number(u);
    dirGid = Number(g);
    for (const l of certLines.slice(1)) {
      const [path, size, mode, uid, gid, mtime] = l.split('\t');
      if (path === undefined || mtime === undefined) continue;
      listing.set(path, { path, size: Number(size), mode: parseInt(mode!, 8), uid: Number(uid), gid: Number(gid), mtime: Number(mtime) });
    }
  }
  const sums = new Map<string, string>();
  for (const l of get('sha256')) {
    const m = /^\\?([0-9a-f]{64}) [ *](?:\.\/)?(.*)$/.exec(l);
    if (m) sums.set(m[2]!, m[1]!);
  }
  const files: FileFact[] = [...listing.values()]
    .map((f) => ({ ...f, sha256: sums.get(f.path) ?? '' }))
    .sort((a, b) => a.path.localeCompare(b.path));

  const pems: Record<string, string | null> = {};
  for (const role of Object.keys(q.pemFiles)) {
    const body = s.get(`pem ${role}`);
    pems[role] = body === undefined || body.includes(`${MARK}absent`) ? null : body.join('\n').trim() + '\n';
  }

  const df = get('df')[0]?.trim().split(/\s+/) ?? [];
  const lockText = get('lock').join('\n').trim();
  let lock: LockInfo | null = null;
  if (lockText) {
    try {
      lock = JSON.parse(lockText) as LockInfo;
    } catch {
      lock = { runId: 'unknown (unreadable lock file)', startedAt: 'unknown' };
    }
  }
  return {
    host,
    hostname: get('hostname')[0]?.trim() ?? '',
    certDir: { path: q.certDir, exists, mode: dirMode, uid: dirUid, gid: dirGid, files },
    pems,
    manifests: { inPlace: get('manifests').map((l) => l.trim()), parked: get('parked').map((l) => l.trim()) },
    disk: { availKiB: Number(df[3] ?? 0), certDirKiB: Number(get('du')[0] ?? 0) },
    lock,
    backups: get('backups'),
  };
}
