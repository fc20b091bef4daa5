// The rollback plan as text for humans (same look as `plan`): hosts with the same action share a line, warnings last; also
// used for --dry-run.
import { foldHosts, type Palette } from '../render/text.js';
import type { RollbackAction, RollbackPlan } from './types.js';

export function describeRollbackAction(a: RollbackAction): string {
  switch (a.kind) {
    case 'lock':
      return `take the run lock ${a.path}`;
    case 'verify-backup':
      return `verify ${a.backupDir} (${a.files} files) against its sha256 manifest and the state before the run`;
    case 'restore': {
      const what = [
        a.changes.length ? `put back ${a.changes.length} change${a.changes.length === 1 ? '' : 's'} (${a.changes.slice(0, 4).join('; ')}${a.changes.length > 4 ? '; …' : ''})` : 'no file differs from before the run (restored anyway)',
        ...(a.removes.length ? [`remove ${a.removes.join(', ')}`] : []),
      ];
      return `restore ${a.to} from ${a.from} (${a.files} files): ${what.join('; ')}`;
    }
    case 'manager-templates':
      return `put the Manager template files back from ${a.backupDir} (${a.files} files, verified by sha256 first)`;
    case 'manager-db':
      return `put the PEM rows of ${a.table} back from ${a.backup} when it exists (one transaction, compared afterwards)`;
    case 'restart':
      return `#${a.order}${a.leader ? ' (leader, last)' : ''}: move ${a.manifests.join(', ')} out, wait until stopped, pause ${a.pauseSeconds}s, move back; wait until healthy with the old certificates and caught up`;
    case 'check':
      return `check all ${a.files} files: sha256, mode and owner as before the run`;
    case 'unlock':
      return `release the run lock ${a.path}`;
  }
}

export function renderRollbackPlan(plan: RollbackPlan, p: Palette): string {
  const out: string[] = [];
  out.push(p.bold(`Rollback ${plan.rollbackId} of run ${plan.rollbackOf}`) + p.dim(`  inventory ${plan.inventory}, playbook ${plan.playbook}`));
  out.push(`Status: ${plan.status === 'ready' ? p.green('ready') : p.red('BLOCKED')}`);
  for (const r of plan.reasons) out.push(`  - ${r}`);
  out.push(`Before-state from: ${plan.source === 'journal' ? 'the local journal (facts.json of the run)' : 'the backups on the hosts (.certroll-backup.json)'}`);
  if (plan.skipped.length) for (const s of plan.skipped) out.push(p.dim(`  ${s.host}: left alone: ${s.why}`));
  out.push('', p.bold('Steps'));
  plan.steps.forEach((s, i) => {
    out.push(`  ${i + 1}. ${p.bold(s.title)} — ${s.actions.length} action${s.actions.length === 1 ? '' : 's'}`);
    for (const n of s.notes) out.push(p.dim(`       ${n}`));
    const same = new Map<string, string[]>();
    for (const a of s.actions) {
      const text = describeRollbackAction(a);
      same.set(text, [...(same.get(text) ?? []), a.host]);
    }
    for (const [text, hosts] of same) out.push(`       ${p.cyan(foldHosts(hosts))}: ${text}`);
  });
  if (plan.warnings.length) {
    out.push('', p.bold('Warnings'));
    for (const w of plan.warnings) {
      const tag = w.level === 'block' ? p.red('BLOCK') : w.level === 'warn' ? p.yellow('WARN ') : p.dim('info ');
      out.push(`  ${tag} [${w.code}] ${w.message}`);
    }
  }
  return out.join('\n');
}
