// The rollback's step `restore-kube-config` (kubeadm flavour): put back the ~/.kube copies of admin.conf that the rolled-back
// run's `refresh-kube-config` step replaced (src/steps/refresh-kube-config.ts), from the backups it left beside them
// (`<file>.certroll-bak-<run-id>`, cp -p, cmp-checked). Three halves, like every step:
//   - facts (read-only, one script per host): each candidate copy and its backup, with state, mode, owner and sha256, and the
//     sha256 of admin.conf now. Candidates come from the run's journal (its plan's refresh-kubeconfig actions), or, without
//     the journal, from the host itself: the homes of root and the inventory's SSH users (passwd database, as the refresh
//     step does), `*.certroll-bak-<run-id>` in their .kube directories. Only names, stats and hashes cross the wire.
//   - plan (pure, planKubeconfigRestore): a copy is put back only when it is still what the run wrote (the renewed admin.conf,
//     which admin.conf still holds before the cert dir is restored); a copy changed since is left alone with a warning that
//     says how to put it back by hand.
//   - apply: one command per copy on its host, journaled first: the backup copied (cp -p: content, mode, owner) to a staged
//     name in the same directory, compared, renamed over the copy, then compared again with mode and owner checked. It runs
//     before the cert dir restore (so a resumed rollback finds each copy either restored — "already" — or still the renewed
//     admin.conf); no kubeconfig content passes through the control machine.
import { HostError } from '../errors.js';
import { kubeconfigBackupOf } from '../host-paths.js';
import { quote, raw, sh } from '../ssh/quote.js';
import type { Remote } from '../ssh/remote.js';
import type { Action, Warning } from '../plan/types.js';
import type { ApplyHalf, ApplyContext, WorkItem } from './types.js';
import { change } from './shared.js';

export type RestoreKubeconfigAction = Extract<Action, { kind: 'restore-kubeconfig' }>;

/** A file as the facts script saw it (no content). */
export interface StatFact {
  state: 'file' | 'missing' | 'other';
  mode?: number;
  uid?: number;
  gid?: number;
  sha256?: string;
}

/** One copy the rolled-back run may have replaced, and its backup. */
export interface KubeCopyFact {
  path: string;
  backup: string;
  file: StatFact;
  backupFile: StatFact;
}

/** A copy the run's journal says it planned to replace: its path, backup, the admin.conf it came from, its sha256 before the run. */
export interface JournaledCopy {
  host: string;
  path: string;
  backup: string;
  from: string;
  /** sha256 of the file before the run (what its backup must hold). */
  sha256: string;
}

export interface KubeCopiesQuery {
  adminConf: string;
  runId: string;
  /** Source 'journal': the copies the run's plan names. */
  candidates?: Array<{ path: string; backup: string }>;
  /** Source 'backup': search root's and these users' ~/.kube for `*.certroll-bak-<runId>`. */
  users?: string[];
  /** Directories searched whatever the homes are (default /root/.kube), as the refresh step's scan. */
  alwaysDirs?: string[];
  /** Read homes from this passwd-format file instead of the host's passwd database (tests). */
  passwdFile?: string;
}

export interface KubeCopiesRollbackFacts {
  host: string;
  source: 'journal' | 'backup';
  adminConf: { path: string } & StatFact;
  /** Source 'backup': the .kube directories searched. */
  dirs: string[];
  copies: KubeCopyFact[];
  /** The read failed on this host (the other fields are then empty). */
  error?: string;
}

const PROTOCOL = 'certroll-kube-copies-rollback 1';
const base = (p: string) => p.replace(/^.*\//, '');
const dir = (p: string) => p.replace(/\/[^/]*$/, '') || '/';
const octal = (m: number) => m.toString(8);

/** The read-only script: PROTOCOL, `admin` line, `dir` lines, `copy` lines, `end`. Prints names, stats and sha256 only. */
export function kubeCopiesScript(q: KubeCopiesQuery): string {
  const lines = [
    'LC_ALL=C; export LC_ALL',
    // st FILE: state, mode (octal), uid, gid, sha256, tab-separated; never follows a link.
    `st() { if [ -L "$1" ]; then printf 'other\\t\\t\\t\\t'; elif [ -f "$1" ]; then printf 'file\\t%s\\t%s\\t%s\\t%s' $(stat -c '%a %u %g' -- "$1") "$(sha256sum < "$1" | cut -d' ' -f1)"; elif [ -e "$1" ]; then printf 'other\\t\\t\\t\\t'; else printf 'missing\\t\\t\\t\\t'; fi; }`,
    `copy() { printf 'copy\\t%s\\t%s\\t%s\\t%s\\n' "$1" "$2" "$(st "$1")" "$(st "$2")"; }`,
    `echo ${quote(PROTOCOL)}`,
    sh`A=${q.adminConf}; RUN=${q.runId}`,
    `printf 'admin\\t%s\\n' "$(st "$A")"`,
  ];
  for (const c of q.candidates ?? []) lines.push(sh`copy ${c.path} ${c.backup}`);
  if (q.users) {
    // Homes from the passwd database (getent when present, else /etc/passwd), as the refresh step found them.
    lines.push(
      `DIRS=${quote((q.alwaysDirs ?? ['/root/.kube']).join('\n'))}`,
      `for u in ${['root', ...q.users.filter((u) => u !== 'root')].map(quote).join(' ')}; do`,
      q.passwdFile
        ? `  h=$(awk -F: -v u="$u" '$1 == u { print $6; exit }' ${quote(q.passwdFile)})`
        : `  if command -v getent >/dev/null 2>&1; then h=$(getent passwd "$u" | head -n 1 | cut -d: -f6); else h=$(awk -F: -v u="$u" '$1 == u { print $6; exit }' /etc/passwd); fi`,
      `  case $h in /*) ;; *) continue ;; esac`,
      `  d="\${h%/}/.kube"; printf '%s\\n' "$DIRS" | grep -qxF -- "$d" || DIRS="$DIRS`,
      `$d"`,
      `done`,
      `printf '%s\\n' "$DIRS" | while IFS= read -r d; do`,
      `  { [ -d "$d" ] && [ ! -L "$d" ]; } || continue`,
      `  printf 'dir\\t%s\\n' "$d"`,
      `  for b in "$d"/*".certroll-bak-$RUN" "$d"/.*".certroll-bak-$RUN"; do`,
      `    { [ -e "$b" ] || [ -L "$b" ]; } || continue`,
      `    case $b in *"$(printf '\\t')"*) continue ;; esac`,
      `    copy "\${b%.certroll-bak-$RUN}" "$b"`,
      `  done`,
      `done`,
    );
  }
  lines.push('echo end');
  return lines.join('\n');
}

const statOf = (f: string[]): StatFact => {
  const [state, mode, uid, gid, sha] = f;
  if (state !== 'file') return { state: state === 'other' ? 'other' : 'missing' };
  return { state: 'file', mode: parseInt(mode!, 8), uid: Number(uid), gid: Number(gid), sha256: sha ?? '' };
};

/** Parses the script's output; throws when it is not this protocol or is cut short. */
export function parseKubeCopies(host: string, q: KubeCopiesQuery, stdout: string): KubeCopiesRollbackFacts {
  const lines = stdout.split('\n');
  if (lines[0] !== PROTOCOL) throw new Error(`${host}: the ~/.kube backup listing printed no "${PROTOCOL}" header`);
  if (!lines.includes('end')) throw new Error(`${host}: the ~/.kube backup listing is truncated (no end marker)`);
  const out: KubeCopiesRollbackFacts = { host, source: q.users ? 'backup' : 'journal', adminConf: { path: q.adminConf, state: 'missing' }, dirs: [], copies: [] };
  const seen = new Set<string>();
  for (const line of lines.slice(1)) {
    const [t, ...f] = line.split('\t');
    if (t === 'admin') out.adminConf = { path: q.adminConf, ...statOf(f) };
    else if (t === 'dir') out.dirs.push(f[0]!);
    else if (t === 'copy' && !seen.has(f[0]!)) {
      seen.add(f[0]!);
      out.copies.push({ path: f[0]!, backup: f[1]!, file: statOf(f.slice(2, 7)), backupFile: statOf(f.slice(7, 12)) });
    }
  }
  return out;
}

/** Read one host (read-only, one round trip). A failure is returned as `error`, never thrown for a host problem. */
export async function readKubeCopies(r: Remote, q: KubeCopiesQuery, timeoutMs: number): Promise<KubeCopiesRollbackFacts> {
  try {
    return parseKubeCopies(r.host, q, (await r.sh(kubeCopiesScript(q), { timeoutMs })).stdout);
  } catch (e) {
    if (!(e instanceof HostError) && !(e instanceof Error && e.message.startsWith(`${r.host}: the ~/.kube backup listing`))) throw e;
    return { host: r.host, source: q.users ? 'backup' : 'journal', adminConf: { path: q.adminConf, state: 'missing' }, dirs: [], copies: [], error: e instanceof HostError ? e.shortMessage : e.message };
  }
}

export interface KubeRestoreHostInput {
  host: string;
  runId: string;
  facts: KubeCopiesRollbackFacts;
  /** Source 'journal': what the run's plan said of each copy on this host (the sha256 before the run). */
  journaled?: JournaledCopy[];
}

export interface KubeRestoreHostPlan {
  actions: RestoreKubeconfigAction[];
  notes: string[];
  warnings: Warning[];
}

const byHand = (c: { path: string; backup: string }) => `to put it back by hand: cmp the backup with what you expect, then cp -p ${c.backup} ${c.path}`;

/**
 * The plan for one host (pure): which ~/.kube copies the run replaced are put back from their backups, and why any other is
 * left alone. A copy is put back when its backup is a regular file (holding the file from before the run, per the journal
 * when there is one) and the copy is still what the run wrote: the renewed admin.conf, byte for byte (admin.conf is read
 * before the cert dir is restored). Never a block: a copy left alone is a warning saying what to do by hand.
 */
export function planKubeconfigRestore(input: KubeRestoreHostInput): KubeRestoreHostPlan {
  const { host: h, facts: f, runId } = input;
  const out: KubeRestoreHostPlan = { actions: [], notes: [], warnings: [] };
  const warn = (code: string, message: string) => out.warnings.push({ level: 'warn', code, host: h, message: `${h}: ${message}` });
  if (f.error) {
    const listed = (input.journaled ?? []).map((c) => c.path);
    warn('kubeconfig-restore-scan', `the ~/.kube copies run ${runId} replaced could not be read (${f.error}); none is put back there${listed.length ? ` (${listed.join(', ')}; each: cp -p <file>.certroll-bak-${runId} <file>)` : `; look for *.certroll-bak-${runId} in ~/.kube by hand`}`);
    return out;
  }
  const admin = f.adminConf;
  const journaled = new Map((input.journaled ?? []).map((c) => [c.path, c]));
  if (f.source === 'backup' && !f.copies.length) out.notes.push(`${h}: no ~/.kube backup of run ${runId} in ${f.dirs.join(', ') || 'any .kube directory'}: nothing to put back`);
  for (const c of f.copies) {
    const j = journaled.get(c.path);
    if (c.backup !== kubeconfigBackupOf(c.path, runId)) {
      warn('kubeconfig-restore-name', `${c.path}: its backup ${c.backup} is not named after run ${runId}: left alone`);
      continue;
    }
    const b = c.backupFile;
    if (b.state === 'missing') {
      out.notes.push(`${h}: ${c.path}: no backup ${base(c.backup)}: run ${runId} did not replace it, nothing to put back`);
      continue;
    }
    if (b.state !== 'file') {
      warn('kubeconfig-backup-odd', `${c.backup} is not a regular file (a link or a directory): ${c.path} is left as it is; check both by hand`);
      continue;
    }
    if (j && b.sha256 !== j.sha256) {
      warn('kubeconfig-backup-mismatch', `${c.backup} does not hold ${c.path} as it was before run ${runId} (sha256 ${b.sha256!.slice(0, 16)}…, the journal says ${j.sha256.slice(0, 16)}…): ${c.path} is left as it is; check both by hand`);
      continue;
    }
    const v = c.file;
    const same = v.state === 'file' && v.sha256 === b.sha256 && v.mode === b.mode && v.uid === b.uid && v.gid === b.gid;
    if (same) {
      out.notes.push(`${h}: ${c.path}: already as before run ${runId} (content, mode and owner of ${base(c.backup)}): nothing to do`);
      continue;
    }
    if (v.state === 'missing') {
      warn('kubeconfig-gone', `${c.path} was replaced by run ${runId} and has been removed since: left as it is; ${byHand(c)}`);
      continue;
    }
    if (v.state !== 'file') {
      warn('kubeconfig-changed', `${c.path} is no longer a regular file: left as it is; ${byHand(c)}`);
      continue;
    }
    if (admin.state !== 'file' || v.sha256 !== admin.sha256) {
      warn(
        'kubeconfig-changed',
        admin.state !== 'file'
          ? `${admin.path} is ${admin.state === 'missing' ? 'missing' : 'not a regular file'}, so whether ${c.path} is still what run ${runId} wrote cannot be told: left as it is; ${byHand(c)}`
          : v.sha256 === b.sha256
            ? `${c.path} holds its content from before run ${runId} but its mode or owner changed since: left as it is; ${byHand(c)}`
            : `${c.path} changed since run ${runId} replaced it (it is neither the renewed ${admin.path} nor its backup): left as it is; ${byHand(c)}`,
      );
      continue;
    }
    out.actions.push({ kind: 'restore-kubeconfig', host: h, path: c.path, backup: c.backup, sha256: v.sha256!, backupSha256: b.sha256!, mode: b.mode!, uid: b.uid!, gid: b.gid! });
  }
  return out;
}

/** The one command that puts one copy back on its host; prints `restored`, `already` or `left<TAB>why`. */
export function restoreKubeconfigScript(a: RestoreKubeconfigAction, tag: string): string {
  const staged = `${dir(a.path)}/.${base(a.path)}.certroll-restore-${tag}`;
  const mode = octal(a.mode);
  const owner = `${a.uid}:${a.gid}`;
  return [
    'umask 077',
    sh`F=${a.path}; B=${a.backup}; S=${staged}`,
    `fail() { printf '%s\\n' "$*" >&2; exit 3; }`,
    `leave() { printf 'left\\t%s\\n' "$*"; exit 0; }`,
    `sum() { sha256sum < "$1" | cut -d' ' -f1; }`,
    `{ [ -f "$B" ] && [ ! -L "$B" ]; } || fail "the backup $B is gone or not a regular file: $F not touched"`,
    sh`[ "$(sum "$B")" = ${a.backupSha256} ] || fail "the backup $B changed since the plan: $F not touched"`,
    sh`if [ -f "$F" ] && [ ! -L "$F" ] && cmp -s -- "$B" "$F" && [ "$(stat -c '%a %u %g' -- "$F")" = "$(stat -c '%a %u %g' -- "$B")" ]; then echo already; exit 0; fi`,
    `{ [ -f "$F" ] && [ ! -L "$F" ]; } || leave "$F is no longer a regular file"`,
    sh`[ "$(sum "$F")" = ${a.sha256} ] || leave "$F changed since the plan (it is no longer what the run wrote)"`,
    `rm -f -- "$S"`,
    `{ cp -p -- "$B" "$S" && cmp -s -- "$B" "$S"; } || { rm -f -- "$S"; fail "copying $B beside $F failed: $F not touched"; }`,
    sh`[ "$(stat -c '%a %u %g' -- "$S")" = ${`${mode} ${a.uid} ${a.gid}`} ] || { rm -f -- "$S"; fail "the copy of $B does not have mode ${raw(mode)} and owner ${raw(owner)}: $F not touched"; }`,
    `mv -f -- "$S" "$F" || { rm -f -- "$S"; fail "renaming the copy over $F failed"; }`,
    `cmp -s -- "$B" "$F" || fail "$F does not hold $B after the rename"`,
    sh`[ "$(stat -c '%a %u %g' -- "$F")" = ${`${mode} ${a.uid} ${a.gid}`} ] || fail "$F does not have mode ${raw(mode)} and owner ${raw(owner)} after the rename"`,
    'echo restored',
  ].join('\n');
}

/** Puts one copy back on its host, journaled first; says what it did. A copy changed since the plan is left (`left: true`). */
export async function restoreKubeconfigOne(ctx: Pick<ApplyContext, 'remote' | 'journalIntent' | 'runId'>, a: RestoreKubeconfigAction): Promise<{ message: string; outcome: 'restored' | 'already' | 'left' }> {
  const r = await change(ctx, a.host, 'restore-kube-config', `${a.path} ← ${a.backup} (mode ${octal(a.mode)}, owner ${a.uid}:${a.gid})`, () => ctx.remote(a.host).sh(restoreKubeconfigScript(a, ctx.runId), { allowFailure: true }));
  const out = r.stdout.split('\n');
  const left = out.find((l) => l.startsWith('left\t'));
  if (r.exitCode === 0 && left) return { message: `${a.path} left as it is: ${left.slice(5)}; ${byHand(a)}`, outcome: 'left' };
  if (r.exitCode === 0 && out.includes('already')) return { message: `${a.path} already as before the run (${base(a.backup)})`, outcome: 'already' };
  if (r.exitCode === 0 && out.includes('restored')) return { message: `${a.path} put back from ${base(a.backup)} (mode ${octal(a.mode)}, owner ${a.uid}:${a.gid})`, outcome: 'restored' };
  throw new HostError(a.host, 'command', `${a.host}: putting ${a.path} back failed: ${r.stderr.trim().split('\n').slice(-2).join(' | ') || `exit ${r.exitCode}`}`, `${a.path} is as it was or holds its backup's content; ${byHand(a)}`);
}

/** The apply half: per host, one copy after another (a failure stops that host's remaining copies); hosts at once. */
export const restoreKubeConfigStep: ApplyHalf = {
  type: 'restore-kube-config',
  needs: ['take-lock', 'verify-backup'],
  changesLiveState: true,
  apply: (step, _spec, ctx) => {
    const acts = step.actions.filter((a): a is RestoreKubeconfigAction => a.kind === 'restore-kubeconfig');
    const items: WorkItem[] = [...new Set(acts.map((a) => a.host))].map((host) => ({
      title: `${host}: ${acts.filter((a) => a.host === host).map((a) => a.path).join(', ')}`,
      host,
      run: async (report) => {
        for (const a of acts.filter((x) => x.host === host)) {
          const r = await restoreKubeconfigOne(ctx, a);
          ctx.results?.kubeconfigs?.push({ host, path: a.path, outcome: r.outcome, message: r.message });
          await ctx.journalNote?.({ event: r.outcome === 'left' ? 'kubeconfig-left' : 'kubeconfig-restored', host, message: r.message });
          report(r.message);
        }
      },
    }));
    return { concurrent: true, items };
  },
};
