// The rollback plan as text for humans: printed by the one plan printer (src/plan/render.ts, its actions by the one
// describer), with where the before-state came from and the hosts left alone; also used for --dry-run.
import type { Palette } from '../render/text.js';
import { renderPlan, type PlanRenderOptions } from '../plan/render.js';
import type { RollbackPlan } from './types.js';

export function renderRollbackPlan(plan: RollbackPlan, p: Palette, opts: PlanRenderOptions = {}): string {
  const context = [
    `Before-state from: ${plan.source === 'journal' ? 'the local journal (facts.json of the run)' : 'the backups on the hosts (.certroll-backup.json)'}`,
    ...plan.skipped.map((s) => p.dim(`  ${s.host}: left alone: ${s.why}`)),
  ];
  return renderPlan(plan, p, { ...opts, context });
}
