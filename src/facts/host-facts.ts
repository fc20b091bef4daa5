// The read-only host fact: one shell script per host (one SSH round trip) and the pure parser of its output.
import { quote } from '../ssh/quote.js';
import { lockDirOf, PARK_MARKER_SUFFIX } from '../host-paths.js';
import type { FileFact, HostFacts, LockInfo, ParkMarker } from './types.js';

export interface HostFactsQuery {
  certDir: string;
  manifestsDir: string;
  parkDir: string;
  /** Managed certificate files to read (role → file name in certDir). Never key files. */
  pemFiles: Record<string, string>;
}

/** Markers bigger than this are not read whole (and so do not parse): a marker is a few hundred bytes. */
const MARKER_MAX_BYTES = 65536;

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
    `PD=${quote(q.parkDir)}`,
    // Parked manifests: TOS's `*.manifest` files, and any file with a park marker beside it (kubeadm's `*.yaml`).
    `PARKED=$(if [ -d "$PD" ]; then cd "$PD" && for f in *.manifest *${PARK_MARKER_SUFFIX}; do f=\${f%${PARK_MARKER_SUFFIX}}; [ -f "$f" ] && printf '%s\\n' "$f"; done | sort -u; fi)`,
    `${mark('parked')}; [ -z "$PARKED" ] || printf '%s\\n' "$PARKED"`,
    `${mark('parkedsha')}; if [ -n "$PARKED" ]; then (cd "$PD" && printf '%s\\n' "$PARKED" | while IFS= read -r f; do sha256sum -- "$f"; done); fi`,
    // One section per marker, named by its file name (newlines in a name shown as '?'); a marker that is not a readable file says so.
    `for f in "$PD"/*${PARK_MARKER_SUFFIX}; do [ -e "$f" ] || [ -L "$f" ] || continue; printf '\\n${MARK}marker %s\\n' "$(printf '%s' "\${f##*/}" | tr '\\n\\r' '??')"; if [ -f "$f" ] && [ -r "$f" ]; then head -c ${MARKER_MAX_BYTES} "$f"; else ${mark('absent')}; fi; done`,
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
  const lock = lockText ? parseLockOwner(lockText) : null;
  const parkedSha256: Record<string, string> = {};
  for (const l of get('parkedsha')) {
    const m = /^\\?([0-9a-f]{64}) [ *](.*)$/.exec(l);
    if (m) parkedSha256[m[2]!] = m[1]!;
  }
  const markers: ParkMarker[] = [];
  for (const [name, body] of s) {
    if (!name.startsWith('marker ')) continue;
    const file = printable(name.slice('marker '.length));
    markers.push(body.includes(`${MARK}absent`) ? unreadableMarker(file, 'not a readable regular file') : parseParkMarker(file, body.join('\n')));
  }
  markers.sort((a, b) => a.file.localeCompare(b.file));
  return {
    host,
    hostname: get('hostname')[0]?.trim() ?? '',
    certDir: { path: q.certDir, exists, mode: dirMode, uid: dirUid, gid: dirGid, files },
    pems,
    manifests: { inPlace: get('manifests').map((l) => l.trim()), parked: get('parked').map((l) => l.trim()), parkedSha256, markers },
    disk: { availKiB: Number(df[3] ?? 0), certDirKiB: Number(get('du')[0] ?? 0) },
    lock,
    backups: get('backups'),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: Record<string, unknown>, k: string) => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined);
/** Run ids as newRunId() makes them; anything safe as one path component (the same rule as the journal's). */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Control characters cut from values read on a host before they are shown. */
const printable = (v: string) => v.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 200);

/** The lock owner file; a file that is not an owner object is reported as unreadable, never thrown. */
export function parseLockOwner(text: string): LockInfo {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return { runId: 'unknown (unreadable lock file)', startedAt: 'unknown', unreadable: 'not valid JSON' };
  }
  if (!isObject(o) || !str(o, 'runId')) return { runId: 'unknown (unreadable lock file)', startedAt: 'unknown', unreadable: 'no runId in the owner object' };
  const lock: LockInfo = { runId: printable(str(o, 'runId')!), startedAt: printable(str(o, 'startedAt') ?? 'unknown') };
  if (!RUN_ID.test(lock.runId)) lock.unreadable = `runId "${lock.runId}" is not a run id`;
  for (const k of ['controlHost', 'user', 'step', 'kind', 'rollbackOf'] as const) {
    const v = str(o, k);
    if (v !== undefined) lock[k] = printable(v);
  }
  if (typeof o.pid === 'number' && Number.isSafeInteger(o.pid) && o.pid > 0) lock.pid = o.pid;
  return lock;
}

function unreadableMarker(file: string, error: string): ParkMarker {
  return { file, readable: false, manifest: file.endsWith(PARK_MARKER_SUFFIX) ? file.slice(0, -PARK_MARKER_SUFFIX.length) : file, error };
}

/**
 * One park marker (`<manifest>.certroll-park` holding {runId, host, manifest, from, to, sha256, parkedAt}). Anything else —
 * not JSON, a field missing or of the wrong type, a manifest other than the one the file name says — is unreadable, not thrown.
 */
export function parseParkMarker(file: string, text: string): ParkMarker {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return unreadableMarker(file, text.trim() === '' ? 'empty file' : 'not valid JSON');
  }
  if (!isObject(o)) return unreadableMarker(file, 'not a JSON object');
  const missing = ['runId', 'host', 'manifest', 'from', 'to', 'sha256', 'parkedAt'].filter((k) => str(o, k) === undefined);
  if (missing.length) return unreadableMarker(file, `missing or not a string: ${missing.join(', ')}`);
  const r = o as Record<string, string>;
  if (!RUN_ID.test(r.runId!)) return unreadableMarker(file, `runId "${printable(r.runId!)}" is not a run id`);
  if (!/^[0-9a-f]{64}$/.test(r.sha256!)) return unreadableMarker(file, 'sha256 is not 64 hex digits');
  if (`${r.manifest}${PARK_MARKER_SUFFIX}` !== file) return unreadableMarker(file, `names the manifest "${printable(r.manifest!)}", not the one its file name says`);
  if (!r.from!.startsWith('/') || !r.to!.startsWith('/')) return unreadableMarker(file, 'from and to must be absolute paths');
  return { file, readable: true, runId: r.runId!, host: printable(r.host!), manifest: r.manifest!, from: r.from!, to: r.to!, sha256: r.sha256!, parkedAt: printable(r.parkedAt!) };
}
