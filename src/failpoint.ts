// Named crash points for tests, in the manner of etcd's gofail: off unless the environment variable CERTROLL_FAILPOINT
// names one. `NAME` crashes the first time the run reaches it, `NAME#N` the N-th time. The crash is a SIGKILL of this
// very process: nothing runs after it (no handler, no journal flush), exactly like `kill -9` or a power cut.
// A user cannot reach one by accident: the variable is read nowhere else, and no flag sets it.

const counts = new Map<string, number>();

export function failpoint(name: string): void {
  const want = process.env.CERTROLL_FAILPOINT;
  if (!want) return;
  const [wanted, nth = '1'] = want.split('#');
  if (wanted !== name) return;
  const n = (counts.get(name) ?? 0) + 1;
  counts.set(name, n);
  if (n !== Number(nth)) return;
  process.stderr.write(`failpoint ${want}: killing certroll (pid ${process.pid})\n`);
  process.kill(process.pid, 'SIGKILL');
}

/** Every failpoint certroll has, in run order (the e2e crash test walks them all). */
export const FAILPOINTS = [
  'lock.after',
  'backup.before',
  'backup.after',
  'stage.after',
  'swap.before',
  'swap.after',
  'park.after',
  'stopped.after',
  'unpark.after',
  'node.after',
  'flannel.before',
  'flannel.after',
  'manager-templates-backup.after',
  'manager-templates.before',
  'manager-templates.after',
  'manager-db-backup.after',
  'manager-db.before',
  'manager-db.after',
] as const;
export type FailpointName = (typeof FAILPOINTS)[number];
