// Step `issue-cert`: the new etcd certificate and key (made in memory, checked against old and new CA), staged on the issuing host.
import type { IssueCertStep } from '../playbook/types.js';
import type { StepModule } from './types.js';
import { applyStage, stageActions, type StageAction } from './shared.js';

export const issueCert: StepModule<IssueCertStep> = {
  type: 'issue-cert',
  needs: ['preflight'],
  changesLiveState: false,
  usesMaterial: true,
  plan(spec, ctx) {
    const hosts = ctx.hostsOf([spec.on]);
    if (!ctx.material) return { hosts, actions: [], notes: ['no new certificate: nothing to renew'] };
    return {
      hosts,
      actions: hosts.flatMap((h) => stageActions(ctx, h, ['cert', 'key'])),
      notes: [`new ${spec.keyType} key and certificate, valid ${spec.days} days, until ${ctx.material.files.cert.notAfter}`],
    };
  },
  apply(step, _spec, ctx) {
    return {
      concurrent: true,
      items: step.hosts.map((h) => ({
        title: `${h}: stage the new certificate and key`,
        host: h,
        run: (report: (m: string) => void) => applyStage(ctx, h, step.actions.filter((a): a is StageAction => a.kind === 'stage' && a.host === h), report),
      })),
    };
  },
};
