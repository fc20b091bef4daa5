// The plan as text for humans: certificates before → after, each step's actions (hosts doing the same on one line), warnings
// last; --verbose shows every action of every host with its sha256, mode and owner.
import { foldHosts, type Palette } from '../render/text.js';
import { describeAction, foldActions } from './describe.js';
import type { CertSummary, Plan } from './types.js';

export interface PlanRenderOptions {
  /** Every action on its own line with every detail, serials and fingerprints, whole diffs. */
  verbose?: boolean;
  /** Lines printed after the status and its reasons (a rollback: where its before-state came from, hosts left alone). */
  context?: string[];
}

export function renderPlan(plan: Plan, p: Palette, opts: PlanRenderOptions = {}): string {
  const out: string[] = [];
  const title = plan.kind === 'rollback' ? `Rollback ${plan.runId} of run ${plan.rollbackOf}` : `Plan ${plan.runId}`;
  out.push(p.bold(title) + p.dim(`  inventory ${plan.inventory}, playbook ${plan.playbook}`));
  const status =
    plan.status === 'ready' ? p.green('ready') : plan.status === 'blocked' ? p.red('BLOCKED') : p.green('nothing to do');
  out.push(`Status: ${status}`);
  for (const r of plan.reasons) out.push(`  - ${r}`);
  for (const c of opts.context ?? []) out.push(c);
  const m = plan.material;
  if (m) {
    out.push('', p.bold('Certificates'));
    const pair = (label: string, a: CertSummary, b: CertSummary) => {
      out.push(`  ${label}: ${b.subject}`);
      out.push(`    Not After  ${a.notAfter} → ${p.green(b.notAfter)}`);
      if (!opts.verbose) return;
      out.push(`    serial     ${a.serial} → ${b.serial}`);
      out.push(`    sha256     ${a.sha256.slice(0, 16)}… → ${b.sha256.slice(0, 16)}…`);
    };
    pair('CA  ', m.oldCa, m.newCa);
    pair('leaf', m.oldLeaf, m.newLeaf);
    out.push(`    key        new ${m.keyType}, file sha256 ${m.newKeySha256.slice(0, 16)}… (never shown)`);
    const sameSans = !m.sanDiff.added.length && !m.sanDiff.removed.length;
    out.push(`    SANs       ${sameSans && !opts.verbose ? '(unchanged) ' : ''}${m.newLeaf.sans.join(', ')}`);
    if (!sameSans || opts.verbose)
      out.push(`    SAN diff   added: ${m.sanDiff.added.length ? p.green(m.sanDiff.added.join(', ')) : 'none'}; removed: ${m.sanDiff.removed.length ? p.red(m.sanDiff.removed.join(', ')) : 'none'}`);
  }
  if (plan.steps.length) {
    out.push('', p.bold('Steps'));
    for (const s of plan.steps) {
      out.push(`  ${s.index + 1}. ${p.bold(s.title)}${s.title !== s.type ? ` (${s.type})` : ''} — ${s.hosts.length} host${s.hosts.length === 1 ? '' : 's'}`);
      for (const n of noteBlocks(s.notes)) {
        if (opts.verbose || n.length === 1) out.push(...n.map((l) => p.dim(`       ${l}`)));
        else out.push(p.dim(`       ${n[0]!.replace(/:$/, '')} (${n.length - 1} more lines with --verbose)`));
      }
      if (opts.verbose) for (const a of s.actions) out.push(`       ${p.cyan(a.host)}: ${describeAction(a)}`);
      else for (const g of foldActions(s.actions)) out.push(`       ${p.cyan(foldHosts(g.hosts))}: ${g.text}`);
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

/** A step's notes as blocks: a note and the indented notes after it (a diff under its heading) belong together. */
function noteBlocks(notes: readonly string[]): string[][] {
  const out: string[][] = [];
  for (const n of notes) {
    const lines = n.split('\n');
    if (/^\s/.test(n) && out.length) out[out.length - 1]!.push(...lines);
    else out.push(lines);
  }
  return out;
}
