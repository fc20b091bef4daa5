// Step `restart-flannel`: run the configured restart command (the procedure's `kubectl delete po … flannel`) on its host.
import { HostError } from '../errors.js';
import { quoteArgv, sh } from '../ssh/quote.js';
import { renderArgv } from '../playbook/template.js';
import type { RestartFlannelStep } from '../playbook/types.js';
import type { Action } from '../plan/types.js';
import type { StepModule } from './types.js';
import { change } from './shared.js';

type ExecAction = Extract<Action, { kind: 'exec' }>;

export const restartFlannel: StepModule<RestartFlannelStep> = {
  type: 'restart-flannel',
  needs: ['distribute'],
  changesLiveState: true,
  plan(spec, ctx) {
    const hosts = ctx.hostsOf([spec.on]);
    if (!ctx.material) return { hosts, actions: [], notes: ['no new certificates: flannel keeps running'] };
    return {
      hosts,
      actions: hosts.map((h) => ({ kind: 'exec', host: h, argv: renderArgv(spec.command, ctx.scope(h)), why: 'restart flannel so it reconnects with the new CA', ...(spec.skipIfMissing ? { skipIfMissing: spec.skipIfMissing } : {}) })),
      notes: spec.skipIfMissing ? [`skipped on a host without ${spec.skipIfMissing}`] : [],
    };
  },
  apply(step, _spec, ctx) {
    return {
      concurrent: false,
      items: step.actions
        .filter((a): a is ExecAction => a.kind === 'exec')
        .map((a) => ({
          title: `${a.host}: ${a.argv.join(' ').slice(0, 80)}`,
          host: a.host,
          run: async (report: (m: string) => void) => {
            const r = ctx.remote(a.host);
            // One exec: the check that the tool is installed, then the command (the journal's intent names the command
            // either way; a skipped one changed nothing).
            const missing = '@@certroll-missing';
            const guard = a.skipIfMissing ? `${sh`command -v ${a.skipIfMissing}`} >/dev/null 2>&1 || { echo ${missing}; exit 0; }\n` : '';
            const res = await change(ctx, a.host, 'flannel', a.argv.join(' '), () => r.sh(`${guard}${quoteArgv(a.argv)}`, { allowFailure: true, timeoutMs: 120_000 }));
            if (a.skipIfMissing && res.exitCode === 0 && res.stdout.trim() === missing) return report(`skipped: ${a.skipIfMissing} is not installed on ${a.host}; restart flannel by hand`);
            if (res.exitCode !== 0)
              throw new HostError(a.host, 'command', `${a.host}: flannel restart command failed (exit ${res.exitCode}): ${res.stderr.trim().split('\n').slice(-2).join(' | ')}`, 'etcd already runs with the new certificates; restart flannel by hand, then run `certroll check`');
            report('flannel restarted');
          },
        })),
    };
  },
};
