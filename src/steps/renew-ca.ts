// Step `renew-ca`: the CA re-signed with its own key (made in memory before the run), staged on the host that holds the CA key.
import type { RenewCaStep } from '../playbook/types.js';
import type { StepModule } from './types.js';
import { applyStage, stageActions, type StageAction } from './shared.js';

export const renewCa: StepModule<RenewCaStep> = {
  type: 'renew-ca',
  needs: ['preflight'],
  changesLiveState: false,
  usesMaterial: true,
  plan(spec, ctx) {
    const hosts = ctx.hostsOf([spec.on]);
    if (!ctx.material) return { hosts, actions: [], notes: ['no new CA: nothing to renew'] };
    const m = ctx.material.files.ca;
    return {
      hosts,
      actions: hosts.flatMap((h) => stageActions(ctx, h, ['ca'])),
      notes: [`CA re-signed with its own key (same subject and key identifier), valid ${spec.days} days, until ${m.notAfter}`],
    };
  },
  apply(step, _spec, ctx) {
    return {
      concurrent: true,
      items: step.hosts.map((h) => ({
        title: `${h}: stage the renewed CA`,
        host: h,
        run: (report: (m: string) => void) => applyStage(ctx, h, step.actions.filter((a): a is StageAction => a.kind === 'stage' && a.host === h), report),
      })),
    };
  },
};
