// Shell scripts that transfer and inspect files through exec: used for become hosts (SFTP runs as the login user) and hosts without SFTP.
import type { RemoteStat } from './remote.js';
import { raw, sh } from './quote.js';

/** Octal text of the permission bits, e.g. 0o600 → "600". */
export function octal(mode: number): string {
  return (mode & 0o7777).toString(8);
}

/** chown's owner argument for the given ids, or undefined when there is nothing to change. */
export function chownSpec(uid?: number, gid?: number): string | undefined {
  if (uid !== undefined && gid !== undefined) return `${uid}:${gid}`;
  if (uid !== undefined) return String(uid);
  if (gid !== undefined) return `:${gid}`;
  return undefined;
}

/**
 * Write stdin to `tmp` (created 0600), set mode/owner, flush it to disk and rename it over `path`; on any failure remove `tmp`.
 * `sync FILE` (coreutils ≥ 8.24) fsyncs just that file; where it is missing the rename still happens.
 */
export function writeAtomicScript(path: string, tmp: string, mode: number, uid?: number, gid?: number): string {
  const owner = chownSpec(uid, gid);
  const chown = owner ? raw(sh` && chown ${owner} ${tmp}`) : raw('');
  return sh`umask 077 && cat > ${tmp} && chmod ${octal(mode)} ${tmp}${chown} && { sync ${tmp} 2>/dev/null || :; } && mv -f -T -- ${tmp} ${path} || { rc=$?; rm -f -- ${tmp}; exit $rc; }`;
}

export function readScript(path: string): string {
  return sh`cat -- ${path}`;
}

export const MISSING = 'certroll:missing';

/** Prints `size rawmode-hex uid gid mtime-seconds type`, or MISSING when the path does not exist (following symlinks, like SFTP stat). */
export function statScript(path: string): string {
  return sh`if [ -e ${path} ]; then stat -L -c '%s %f %u %g %Y' -- ${path}; else echo ${MISSING}; fi`;
}

/** Parse statScript's output. */
export function parseStatOutput(path: string, out: string): RemoteStat | null {
  const text = out.trim();
  if (text === MISSING) return null;
  const m = /^(\d+) ([0-9a-f]+) (\d+) (\d+) (\d+)$/.exec(text);
  if (!m) throw new Error(`unexpected stat output for ${path}: ${JSON.stringify(text.slice(0, 200))}`);
  const rawMode = parseInt(m[2]!, 16);
  const fmt = rawMode & 0o170000;
  return {
    path,
    size: Number(m[1]),
    mode: rawMode & 0o7777,
    uid: Number(m[3]),
    gid: Number(m[4]),
    mtimeMs: Number(m[5]) * 1000,
    isDirectory: fmt === 0o040000,
    isFile: fmt === 0o100000,
  };
}

export function mkdirScript(path: string, opts: { mode?: number; recursive?: boolean } = {}): string {
  const flags: string[] = [];
  if (opts.recursive) flags.push('-p');
  if (opts.mode !== undefined) flags.push('-m', octal(opts.mode));
  return sh`mkdir ${flags} -- ${path}`;
}

/** Rename like rename(2): replaces a file at `to`, never moves into a directory called `to`. */
export function renameScript(from: string, to: string): string {
  return sh`mv -f -T -- ${from} ${to}`;
}
