// A cert dir compared with its state before a run: what a rollback plans from and what its final check proves. Pure.
import { diffFiles } from '../file-record.js';
import type { BeforeState, ExpectedFile } from './types.js';

/** A difference between what a cert dir should hold and what it holds. */
export interface FileDiff {
  path: string;
  what: 'missing' | 'extra' | 'content' | 'mode' | 'owner' | 'dir-mode' | 'dir-owner';
  detail: string;
}

const octal = (m: number) => '0' + m.toString(8).padStart(3, '0');

/** Differences between what a cert dir should hold and what it holds: missing, extra, content, mode, owner (and the dir's own mode/owner when both are known). */
export function diffState(expected: BeforeState, actual: { files: ExpectedFile[]; dir?: BeforeState['dir'] }): FileDiff[] {
  const out: FileDiff[] = diffFiles(expected.files, actual.files).map((d): FileDiff => {
    const [e, a] = [d.before!, d.after!];
    switch (d.what) {
      case 'missing':
        return { path: d.path, what: 'missing', detail: `${d.path} is missing` };
      case 'content':
        return { path: d.path, what: 'content', detail: `${d.path}: sha256 ${a.sha256!.slice(0, 12)}… instead of ${e.sha256!.slice(0, 12)}…` };
      case 'mode':
        return { path: d.path, what: 'mode', detail: `${d.path}: mode ${octal(a.mode!)} instead of ${octal(e.mode!)}` };
      case 'owner':
        return { path: d.path, what: 'owner', detail: `${d.path}: owner ${a.uid}:${a.gid} instead of ${e.uid}:${e.gid}` };
      case 'extra':
        return { path: d.path, what: 'extra', detail: `${d.path} was not there before the run` };
    }
  });
  const ed = expected.dir;
  const ad = actual.dir;
  if (ed && ad) {
    if (ed.mode !== undefined && ad.mode !== undefined && ed.mode !== ad.mode) out.push({ path: '.', what: 'dir-mode', detail: `the cert dir's mode is ${octal(ad.mode)} instead of ${octal(ed.mode)}` });
    if (ed.uid !== undefined && ad.uid !== undefined && (ed.uid !== ad.uid || ed.gid !== ad.gid)) out.push({ path: '.', what: 'dir-owner', detail: `the cert dir's owner is ${ad.uid}:${ad.gid} instead of ${ed.uid}:${ed.gid}` });
  }
  return out;
}
