// The plan as text for humans: certificates before → after, each step's actions per host, warnings last.
import type { Palette } from '../cli/output.js';
import { describeAction } from './describe.js';
import type { CertSummary, Plan } from './types.js';

export function renderPlan(plan: Plan, p: Palette): string {
  const out: string[] = [];
  out.push(p.bold(`Plan ${plan.runId}`) + p.dim(`  inventory ${plan.inventory}, playbook ${plan.playbook}`));
  const status =
    plan.status === 'ready' ? p.green('ready') : plan.status === 'blocked' ? p.red('BLOCKED') : p.green('nothing to do');
  out.push(`Status: ${status}`);
  for (const r of plan.reasons) out.push(`  - ${r}`);
  const m = plan.material;
  if (m) {
    out.push('', p.bold('Certificates'));
    const pair = (label: string, a: CertSummary, b: CertSummary) => {
      out.push(`  ${label}: ${b.subject}`);
      out.push(`    Not After  ${a.notAfter} → ${p.green(b.notAfter)}`);
      out.push(`    serial     ${a.serial} → ${b.serial}`);
      out.push(`    sha256     ${a.sha256.slice(0, 16)}… → ${b.sha256.slice(0, 16)}…`);
    };
    pair('CA  ', m.oldCa, m.newCa);
    pair('leaf', m.oldLeaf, m.newLeaf);
    out.push(`    key        new ${m.keyType}, file sha256 ${m.newKeySha256.slice(0, 16)}… (never shown)`);
    out.push(`    SANs       ${m.newLeaf.sans.join(', ')}`);
    out.push(`    SAN diff   added: ${m.sanDiff.added.length ? p.green(m.sanDiff.added.join(', ')) : 'none'}; removed: ${m.sanDiff.removed.length ? p.red(m.sanDiff.removed.join(', ')) : 'none'}`);
  }
  if (plan.steps.length) {
    out.push('', p.bold('Steps'));
    for (const s of plan.steps) {
      out.push(`  ${s.index + 1}. ${p.bold(s.title)}${s.title !== s.type ? ` (${s.type})` : ''} — ${s.hosts.length} host${s.hosts.length === 1 ? '' : 's'}`);
      for (const n of s.notes) out.push(p.dim(`       ${n}`));
      for (const a of s.actions) out.push(`       ${p.cyan(a.host)}: ${describeAction(a)}`);
    }
  }
  const shown = plan.warnings.filter((w) => w.level !== 'info' || plan.status !== 'nothing-to-do');
  if (shown.length) {
    out.push('', p.bold('Warnings'));
    for (const w of shown) {
      const tag = w.level === 'block' ? p.red('BLOCK') : w.level === 'warn' ? p.yellow('WARN ') : p.dim('info ');
      out.push(`  ${tag} [${w.code}] ${w.message}`);
    }
  }
  return out.join('\n');
}
