// One line per action, used by both the plan printer and the run log; never prints file contents.
import type { Action } from './types.js';

const short = (sha: string) => sha.slice(0, 16) + '…';
const base = (p: string) => p.split('/').pop() ?? p;
const octal = (m: number) => '0' + m.toString(8).padStart(3, '0');

export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'lock':
      return `take the run lock ${a.path}${a.takeOver ? ' (taking over the lock of a run whose process is gone)' : ''}`;
    case 'precheck':
      return `check: ${a.checks.join('; ')}`;
    case 'backup':
      return a.existing ? `keep the existing backup ${a.to} (verify it by sha256, never re-take it)` : `back up ${a.from} → ${a.to} (${a.files} files, ${a.kib} KiB), verify by sha256`;
    case 'stage':
      return `stage ${base(a.path)} as ${base(a.staged)}: sha256 ${short(a.sha256)} mode ${octal(a.mode)} owner ${a.uid}:${a.gid}${a.notAfter ? `, valid until ${a.notAfter}` : ''}${a.secret ? ' (private key: content never shown)' : ''}`;
    case 'renew-cert':
      return `renew ${a.path}${a.user ? ` (user ${a.user})` : ''}: ${a.subject}; ${a.extKeyUsage.join(', ') || 'no EKU'}; signed by ${a.ca} (${a.issuer}); valid until ${a.notAfter} (was ${a.oldNotAfter}); SANs: ${a.sans.length ? a.sans.join(', ') : 'none'}${a.sansAdded.length ? ` (+ ${a.sansAdded.join(', ')})` : ''}${a.sansRemoved.length ? ` (− ${a.sansRemoved.join(', ')})` : ''}; ${a.key === 'new' ? `new ${a.keyType} key` : `key kept (${a.keyType})`}`;
    case 'swap':
      return `replace ${a.renames.map((r) => base(r.to)).join(' + ')} by back-to-back atomic renames in one command`;
    case 'restart':
      return a.oneByOne
        ? `#${a.order}${a.leader ? ' (leader, last)' : ''}: one at a time, ${a.manifests.join(' → ')}: move it to ${a.parkDir}, wait until its container is gone, pause ${a.pauseSeconds}s, move it back, wait for a new container id; then wait: ${a.checksAfter.join(', ')}`
        : `#${a.order}${a.leader ? ' (leader, last)' : ''}: move ${a.manifests.join(', ')} to ${a.parkDir}, wait until stopped, pause ${a.pauseSeconds}s, move back; then wait: ${a.checksAfter.join(', ')}`;
    case 'exec':
      return `run ${a.argv.join(' ')}${a.skipIfMissing ? ` (skipped if ${a.skipIfMissing} is not installed)` : ''}: ${a.why}`;
    case 'verify':
      return `verify ${a.files.map((f) => base(f.path)).join(', ')} by sha256${a.cluster ? '; etcd serves the new certificate' : ''}`;
    case 'verify-backup':
      return `verify ${a.backupDir} (${a.files} files) against its sha256 manifest and the state before the run${a.templatesDir ? `; and the Manager template backup ${a.templatesDir}` : ''}`;
    case 'restore': {
      const what = [
        a.changes.length ? `put back ${a.changes.length} change${a.changes.length === 1 ? '' : 's'} (${a.changes.slice(0, 4).join('; ')}${a.changes.length > 4 ? '; …' : ''})` : 'no file differs from before the run (restored anyway)',
        ...(a.removes.length ? [`remove ${a.removes.join(', ')}`] : []),
      ];
      return `restore ${a.to} from ${a.from} (${a.files} files): ${what.join('; ')}`;
    }
    case 'restore-templates':
      return `put the Manager template files back from ${a.backupDir} (${a.files} files, verified by sha256 first)`;
    case 'restore-db':
      return `put the PEM rows of ${a.table} back from ${a.backup} when it exists (one transaction, compared afterwards)`;
    case 'restore-kubeconfig':
      return `put ${a.path} back from ${base(a.backup)} (sha256 ${short(a.backupSha256)}, mode ${octal(a.mode)}, owner ${a.uid}:${a.gid}), copied on the host; only while it still holds what the run wrote (sha256 ${short(a.sha256)})`;
    case 'check-restored':
      return `check all ${a.files} files: sha256, mode and owner as before the run`;
    case 'release':
      return `release the run lock ${a.path} (after a failure, first delete this run's staged files ${a.staged} under ${a.dir})`;
    case 'manager-backup':
      return a.existing ? `keep the existing Manager template backup ${a.dir} (verify it by sha256)` : `back up ${a.files.map(base).join(', ')} → ${a.dir}, verify by sha256`;
    case 'manager-file':
      return a.what === 'config-json'
        ? `rewrite ${a.path}: ${a.changes} "expiry" value${a.changes === 1 ? '' : 's'} (text substitution, rest unchanged, result checked to be JSON): sha256 ${a.before ? short(a.before) : 'absent'} → ${short(a.sha256)}`
        : `write the new CA to ${a.path}: sha256 ${a.before ? short(a.before) : 'absent'} → ${short(a.sha256)} mode ${octal(a.mode)} owner ${a.uid}:${a.gid}`;
    case 'db-backup':
      return a.existing ? `keep the existing backup table ${a.backup} in ${a.target}` : `back up table ${a.table} → ${a.backup} in ${a.target} (CREATE TABLE … LIKE, copy every row, compare counts)`;
    case 'db-update':
      return `update ${a.rows.map((r) => r.key).join(', ')} in ${a.table} (${a.target}) in one transaction, then read back and compare: ${a.rows.map((r) => `${r.key} ${r.before ? short(r.before) : 'missing'} → ${short(r.sha256)}${r.secret ? ' (private key: never shown)' : ''}`).join('; ')}`;
    case 'refresh-kubeconfig':
      return `replace ${a.path} (client certificate ${short(a.certSha256)}, the one ${a.matched === a.from ? `${a.from} holds now` : `of ${a.matched}`}) with the renewed ${a.from}, copied on the host; first back it up to ${base(a.backup)} beside it (never over an existing one); mode ${octal(a.mode)} owner ${a.uid}:${a.gid} kept`;
  }
}

/** One host's actions in a step, in a few words: file names without sha256, modes and staging names (those are --verbose). */
export function describeBrief(actions: readonly Action[]): string {
  const parts: string[] = [];
  for (let i = 0; i < actions.length; i++) {
    const a = actions[i]!;
    switch (a.kind) {
      case 'stage': {
        const run: Extract<Action, { kind: 'stage' }>[] = [a];
        while (actions[i + 1]?.kind === 'stage') run.push(actions[++i] as Extract<Action, { kind: 'stage' }>);
        const secret = run.filter((s) => s.secret).map((s) => base(s.path));
        parts.push(`stage ${run.map((s) => base(s.path)).join(', ')}, each checked by sha256${secret.length ? ` (${secret.join(', ')}: private key, never shown)` : ''}`);
        break;
      }
      case 'renew-cert': {
        const run: Extract<Action, { kind: 'renew-cert' }>[] = [a];
        while (actions[i + 1]?.kind === 'renew-cert') run.push(actions[++i] as Extract<Action, { kind: 'renew-cert' }>);
        const one = (r: (typeof run)[number]) =>
          `${base(r.path)}${r.user ? ` (${r.user})` : ''} by ${r.ca}${r.sansAdded.length ? ` +${r.sansAdded.join(' +')}` : ''}${r.sansRemoved.length ? ` −${r.sansRemoved.join(' −')}` : ''}`;
        const keys = [...new Set(run.map((r) => (r.key === 'new' ? `new ${r.keyType} keys` : 'keys kept')))].join(', ');
        const until = [...new Set(run.map((r) => r.notAfter))];
        parts.push(`renew ${run.map(one).join(', ')} (subject, SANs and key usages kept; ${keys}; valid until ${until.join(', ')})`);
        break;
      }
      case 'lock':
        parts.push('take the run lock');
        break;
      case 'restart':
        parts.push(
          a.oneByOne
            ? `${a.leader ? '(leader, last) ' : ''}one node at a time in this order; on each, one pod at a time (${a.manifests.join(' → ')}): move it to ${a.parkDir}, pause ${a.pauseSeconds}s, move back, a new container id; then wait: ${a.checksAfter.join(', ')}`
            : `${a.leader ? '(leader, last) ' : ''}one at a time in this order: move ${a.manifests.join(', ')} to ${a.parkDir}, pause ${a.pauseSeconds}s, move back; then wait: ${a.checksAfter.join(', ')}`,
        );
        break;
      case 'manager-file':
        parts.push(a.what === 'config-json' ? `rewrite ${base(a.path)} (${a.changes} "expiry" value${a.changes === 1 ? '' : 's'})` : `write the new CA to ${base(a.path)}`);
        break;
      case 'db-backup':
        parts.push(a.existing ? `keep the existing backup table ${a.backup}` : `back up table ${a.table} → ${a.backup} (rows counted)`);
        break;
      case 'db-update':
        parts.push(`update ${a.rows.map((r) => r.key).join(', ')} in ${a.table} in one transaction, read back and compared`);
        break;
      case 'restore-kubeconfig':
        parts.push(`put ${a.path} back from ${base(a.backup)} (content, mode ${octal(a.mode)}, owner ${a.uid}:${a.gid})`);
        break;
      case 'refresh-kubeconfig':
        parts.push(`replace ${a.path} with the renewed ${base(a.from)} (backed up beside it, mode and owner kept)`);
        break;
      default:
        parts.push(describeAction(a));
    }
  }
  return parts.join('; ');
}

/** A step's actions folded: hosts whose actions read the same share one line, in the order the hosts first appear. */
export function foldActions(actions: readonly Action[]): Array<{ hosts: string[]; text: string }> {
  const perHost = new Map<string, Action[]>();
  for (const a of actions) perHost.set(a.host, [...(perHost.get(a.host) ?? []), a]);
  const groups = new Map<string, string[]>();
  for (const [host, list] of perHost) {
    const text = describeBrief(list);
    groups.set(text, [...(groups.get(text) ?? []), host]);
  }
  return [...groups].map(([text, hosts]) => ({ hosts, text }));
}
