// Step `refresh-kube-config`: on each control-plane node, every kubeconfig under /root/.kube and the SSH users' ~/.kube whose
// client certificate is the old admin.conf's is replaced by the renewed admin.conf — backed up beside it first, mode and
// owner kept, copied on the host (no kubeconfig passes through the control machine). Every other file is listed, not touched.
import { HostError } from '../errors.js';
import { kubeconfigBackupOf, stagedName } from '../host-paths.js';
import { sh, raw } from '../ssh/quote.js';
import { adminConfOf, CERT_SHA_SHELL, type KubeconfigCopiesFacts, type KubeconfigFileFact } from '../facts/kubeconfig-copies.js';
import type { RefreshKubeConfigStep } from '../playbook/types.js';
import type { Action, PlannedStep, Warning } from '../plan/types.js';
import type { ApplyContext, StepModule } from './types.js';
import { change } from './shared.js';

export type RefreshAction = Extract<Action, { kind: 'refresh-kubeconfig' }>;

const short = (sha: string) => sha.slice(0, 16) + '…';
const base = (p: string) => p.replace(/^.*\//, '');
const dir = (p: string) => p.replace(/\/[^/]*$/, '') || '/';

/** File names that are backups (certroll's or an operator's) or certroll's own staging files: never replaced. */
export function backupLike(path: string): string | undefined {
  const name = base(path);
  if (/\.certroll-/.test(name)) return 'left by certroll (a backup or a staged copy)';
  if (/(\.(bak|backup|orig|old|save|sav|dpkg-old|rpmsave)|~)$/i.test(name) || /(^|[._-])(bak|backup)([._-]|$)/i.test(name)) return 'its name says it is a backup';
  return undefined;
}

/** Whether an earlier step of the plan changes `path` on `host`: one of its actions there names that path (any field). */
export function changedEarlier(planned: readonly PlannedStep[], host: string, path: string): boolean {
  const READ_ONLY = new Set(['precheck', 'backup', 'verify', 'verify-backup', 'check-restored', 'lock', 'release']);
  const names = (v: unknown): boolean =>
    typeof v === 'string' ? v === path : Array.isArray(v) ? v.some(names) : typeof v === 'object' && v !== null ? Object.values(v).some(names) : false;
  return planned.some((s) => s.actions.some((a) => a.host === host && !READ_ONLY.has(a.kind) && names(a)));
}

export interface RefreshHostInput {
  facts: KubeconfigCopiesFacts;
  adminConf: string;
  /** An earlier step of this plan renews admin.conf on this host (so its certificate now is the old one). */
  renewed: boolean;
  runId: string;
}

export interface RefreshHostPlan {
  actions: RefreshAction[];
  notes: string[];
  warnings: Warning[];
}

/** The plan for one host (pure): which files are copies of the old admin.conf, and why each other file is left alone. */
export function planRefreshHost(input: RefreshHostInput): RefreshHostPlan {
  const { facts: f, adminConf } = input;
  const h = f.host;
  const out: RefreshHostPlan = { actions: [], notes: [], warnings: [] };
  const leave = (file: KubeconfigFileFact, why: string) => out.notes.push(`${h}: ${file.path}: ${why}: not touched`);
  if (f.error) {
    out.warnings.push({ level: 'warn', code: 'kubeconfig-scan', host: h, message: `${h}: the ~/.kube copies of ${adminConf} could not be listed (${f.error}); none is refreshed there` });
    out.notes.push(`${h}: the kubeconfig scan failed: nothing refreshed on this host`);
    return out;
  }
  if (f.adminConf.state !== 'file' || !f.adminConf.certSha256) {
    const why = f.adminConf.state === 'missing' ? 'does not exist' : f.adminConf.state === 'other' ? 'is not a regular file' : 'holds no client certificate certroll can read';
    out.warnings.push({ level: 'warn', code: 'admin-conf-unreadable', host: h, message: `${h}: ${adminConf} ${why}: its ~/.kube copies cannot be recognised; none is refreshed there` });
    out.notes.push(`${h}: ${adminConf} ${why}: nothing refreshed on this host`);
    return out;
  }
  const now = f.adminConf.certSha256;
  const adminNames = f.adminConf.counts?.names ?? 3;
  for (const u of f.homes) if (u.home === null) out.notes.push(`${h}: user ${u.user} has no account on this host: no home searched`);
  const searched = f.dirs.filter((d) => d.exists).map((d) => d.path);
  const absent = f.dirs.filter((d) => !d.exists).map((d) => d.path);
  if (!f.files.length) out.notes.push(`${h}: no kubeconfig in ${[...searched, ...absent].join(', ') || 'any .kube directory'}${absent.length ? ` (${absent.join(', ')}: absent or not a directory)` : ''}`);
  for (const file of f.files) {
    if (file.kind === 'link') {
      leave(file, `a symbolic link to ${file.linkTarget} (the file it points to is what counts)`);
      continue;
    }
    const backup = backupLike(file.path);
    if (backup) {
      leave(file, backup);
      continue;
    }
    if (file.kind === 'big') {
      leave(file, `over 1 MiB (${file.size} bytes), not read`);
      continue;
    }
    if (file.counts.anyCert === 0) {
      leave(file, file.counts.otherCredentials ? 'no embedded client certificate (a token, exec plugin or file reference)' : 'no embedded client certificate');
      continue;
    }
    if (file.counts.anyCert > file.counts.blockCert) {
      leave(file, 'client-certificate-data written in flow style or JSON, which certroll does not read on the host; check it by hand');
      out.warnings.push({ level: 'warn', code: 'kubeconfig-unread', host: h, message: `${h}: ${file.path} embeds a client certificate certroll cannot compare with ${adminConf}'s (flow style or JSON): not refreshed; check it by hand` });
      continue;
    }
    const bad = file.certs.find((c) => c.sha256 === null);
    if (bad) {
      leave(file, `the client certificate at line ${bad.line} does not decode`);
      continue;
    }
    const earlier = f.earlier.find((e) => e.certSha256 !== null && e.certSha256 !== now && file.certs.some((c) => c.sha256 === e.certSha256));
    const holdsNow = file.certs.some((c) => c.sha256 === now);
    if (!holdsNow && !earlier) {
      leave(file, `holds another client certificate (${file.certs.map((c) => short(c.sha256!)).join(', ')})`);
      continue;
    }
    if (holdsNow && !input.renewed) {
      out.notes.push(`${h}: ${file.path}: already holds ${adminConf}'s client certificate (nothing in this plan renews it): nothing to do`);
      continue;
    }
    const merged = file.certs.length > 1 || file.counts.otherCredentials > 0 || file.counts.servers > 1 || file.counts.names > adminNames;
    if (merged) {
      leave(file, `holds the admin certificate beside other users or clusters (${file.counts.names} named entries, ${adminConf} has ${adminNames}): replacing it would drop them`);
      out.warnings.push({ level: 'warn', code: 'kubeconfig-merged', host: h, message: `${h}: ${file.path} holds the ${holdsNow ? 'old' : 'earlier'} admin client certificate beside other entries: not replaced; copy the admin user's client-certificate-data and client-key-data from the renewed ${adminConf} by hand` });
      continue;
    }
    out.actions.push({
      kind: 'refresh-kubeconfig',
      host: h,
      path: file.path,
      from: adminConf,
      backup: kubeconfigBackupOf(file.path, input.runId),
      sha256: file.sha256,
      certSha256: file.certs[0]!.sha256!,
      mode: file.mode,
      uid: file.uid,
      gid: file.gid,
      matched: holdsNow ? adminConf : earlier!.path,
    });
  }
  return out;
}

/** The one command that refreshes a file on its host (see the step's header); prints `replaced` or `already`. */
export function refreshScript(a: RefreshAction, runId: string): string {
  const staged = stagedName(dir(a.path), base(a.path), runId);
  const mode = a.mode.toString(8);
  return [
    CERT_SHA_SHELL,
    'umask 077',
    sh`F=${a.path}; A=${a.from}; B=${a.backup}; S=${staged}`,
    `fail() { printf '%s\\n' "$*" >&2; exit 3; }`,
    `{ [ -f "$A" ] && [ ! -L "$A" ]; } || fail "$A is missing or not a regular file"`,
    `new=$(kc_scan "$A" a- | awk -F "$T" '$1 == "a-cert" { print $4; exit }')`,
    `{ [ -n "$new" ] && [ "$new" != bad ]; } || fail "$A holds no client certificate certroll can read"`,
    `{ [ -f "$F" ] && [ ! -L "$F" ]; } || fail "$F is no longer a regular file: not touched"`,
    sh`if [ "$(sha256sum < "$F" | cut -d' ' -f1)" != ${a.sha256} ]; then`,
    `  if cmp -s -- "$F" "$A"; then echo already; exit 0; fi`,
    `  fail "$F changed since the plan: not touched"`,
    'fi',
    sh`[ "$new" != ${a.certSha256} ] || fail "$A still holds the client certificate $F holds: it has not been renewed; $F not touched"`,
    `if [ -e "$B" ] || [ -L "$B" ]; then`,
    `  cmp -s -- "$B" "$F" || fail "the backup $B exists and differs from $F: certroll never overwrites a backup; $F not touched"`,
    '  echo kept-backup',
    'else',
    `  { cp -p -- "$F" "$B" && cmp -s -- "$F" "$B"; } || fail "backing up $F to $B failed: $F not touched"`,
    'fi',
    `rm -f -- "$S"`,
    `{ cp -- "$A" "$S" && cmp -s -- "$A" "$S"; } || { rm -f -- "$S"; fail "copying $A beside $F failed: $F not touched"; }`,
    sh`{ chown ${`${a.uid}:${a.gid}`} -- "$S" && chmod ${mode} -- "$S"; } || { rm -f -- "$S"; fail "setting owner ${raw(`${a.uid}:${a.gid}`)} and mode ${raw(mode)} failed: $F not touched"; }`,
    `mv -f -- "$S" "$F" || { rm -f -- "$S"; fail "renaming the copy over $F failed"; }`,
    sh`cmp -s -- "$A" "$F" || fail "$F does not hold $A after the rename"`,
    sh`[ "$(stat -c '%a %u %g' -- "$F")" = ${`${mode} ${a.uid} ${a.gid}`} ] || fail "$F does not have mode ${raw(mode)} and owner ${raw(`${a.uid}:${a.gid}`)} after the rename"`,
    'echo replaced',
  ].join('\n');
}

/** Refreshes one file on its host, journaled first; what it did in a few words. */
export async function refreshOne(ctx: Pick<ApplyContext, 'remote' | 'journalIntent' | 'runId'>, a: RefreshAction): Promise<string> {
  const r = await change(ctx, a.host, 'refresh-kube-config', `${a.path} ← ${a.from} (backup ${a.backup})`, () => ctx.remote(a.host).sh(refreshScript(a, ctx.runId), { allowFailure: true }));
  const out = r.stdout.split('\n');
  if (r.exitCode === 0 && out.includes('already')) return `${a.path} already holds ${a.from}`;
  if (r.exitCode === 0 && out.includes('replaced')) return `${a.path} replaced (backup ${base(a.backup)}${out.includes('kept-backup') ? ', kept from before' : ''})`;
  throw new HostError(a.host, 'command', `${a.host}: refreshing ${a.path} failed: ${r.stderr.trim().split('\n').slice(-2).join(' | ') || `exit ${r.exitCode}`}`, `${a.path} is as it was or holds ${a.from} (its backup: ${a.backup}); fix the cause and run again`);
}

export const refreshKubeConfig: StepModule<RefreshKubeConfigStep> = {
  type: 'refresh-kube-config',
  needs: ['preflight', 'backup', 'renew-kubeconfigs'],
  changesLiveState: true,
  plan(spec, ctx) {
    const hosts = ctx.hostsOf(spec.targets);
    const actions: Action[] = [];
    const notes: string[] = [];
    const unreachable = new Set(ctx.facts.unreachable.map((u) => u.host));
    for (const h of hosts) {
      const facts = ctx.facts.kubeconfigCopies?.[h];
      if (!facts) {
        if (!unreachable.has(h)) notes.push(`${h}: no kubeconfig facts gathered: nothing refreshed on this host`);
        continue;
      }
      const adminConf = spec.adminConf ?? adminConfOf(spec, ctx.host(h));
      const r = planRefreshHost({ facts, adminConf, renewed: changedEarlier(ctx.planned, h, adminConf), runId: ctx.runId });
      actions.push(...r.actions);
      notes.push(...r.notes);
      for (const w of r.warnings) ctx.warn(w);
    }
    if (!actions.length) notes.unshift(`no copy of the old ${spec.adminConf ?? 'admin.conf'} to refresh`);
    return { hosts, actions, notes };
  },
  apply(step, _spec, ctx) {
    const acts = step.actions.filter((a): a is RefreshAction => a.kind === 'refresh-kubeconfig');
    const items = [...new Set(acts.map((a) => a.host))].map((host) => ({
      title: `${host}: ${acts.filter((a) => a.host === host).map((a) => a.path).join(', ')}`,
      host,
      run: async (report: (m: string) => void) => {
        // One file after another: a failure stops this host's remaining files (each is whole, replaced or as it was).
        for (const a of acts.filter((x) => x.host === host)) report(await refreshOne(ctx, a));
      },
    }));
    return { items, concurrent: true };
  },
};
