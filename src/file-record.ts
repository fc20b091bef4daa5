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
