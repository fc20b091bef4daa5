// The one shape of a file as certroll records it (facts, plans, backups' metadata, rollback's before-state).

/** A file: where it is, how big, its permission bits (e.g. 0o600), owner and group ids, and the sha256 of its content. */
export interface FileRecord {
  path: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  sha256: string;
}

/** One difference between two listings of a directory. */
export interface FileChange {
  path: string;
  /** missing: in `before` only; extra: in `after` only; content, mode, owner: in both, that part differs. */
  what: 'missing' | 'extra' | 'content' | 'mode' | 'owner';
  before?: Partial<FileRecord>;
  after?: Partial<FileRecord>;
}

export type FileAspect = 'content' | 'mode' | 'owner';

/**
 * How the listing `after` differs from `before`: for each file of `before` in its order, missing or which of `compare`
 * differs (sha256, mode, uid/gid); then the files only `after` has, sorted by path. The one comparison of file listings.
 */
export function diffFiles(
  before: ReadonlyArray<Pick<FileRecord, 'path' | 'sha256'> & Partial<FileRecord>>,
  after: ReadonlyArray<Pick<FileRecord, 'path' | 'sha256'> & Partial<FileRecord>>,
  compare: readonly FileAspect[] = ['content', 'mode', 'owner'],
): FileChange[] {
  const out: FileChange[] = [];
  const have = new Map(after.map((f) => [f.path, f]));
  for (const b of before) {
    const a = have.get(b.path);
    have.delete(b.path);
    if (!a) {
      out.push({ path: b.path, what: 'missing', before: b });
      continue;
    }
    if (compare.includes('content') && a.sha256 !== b.sha256) out.push({ path: b.path, what: 'content', before: b, after: a });
    if (compare.includes('mode') && a.mode !== b.mode) out.push({ path: b.path, what: 'mode', before: b, after: a });
    if (compare.includes('owner') && (a.uid !== b.uid || a.gid !== b.gid)) out.push({ path: b.path, what: 'owner', before: b, after: a });
  }
  for (const a of [...have.values()].sort((x, y) => x.path.localeCompare(y.path))) out.push({ path: a.path, what: 'extra', after: a });
  return out;
}
