// Step `distribute`: stage the new files on every target host and verify them, then swap each host's files by back-to-back renames.
import { HostError } from '../errors.js';
import { sh } from '../ssh/quote.js';
import type { DistributeStep } from '../playbook/types.js';
import type { Action, FileRole } from '../plan/types.js';
import type { StepModule } from './types.js';
import { applyStage, change, roles, stageActions, type StageAction } from './shared.js';

type SwapAction = Extract<Action, { kind: 'swap' }>;

export const distribute: StepModule<DistributeStep> = {
  type: 'distribute',
  needs: ['preflight', 'backup', 'renew-ca', 'issue-cert'],
  changesLiveState: true,
  usesMaterial: true,
  plan(spec, ctx) {
    const hosts = ctx.hostsOf(spec.targets);
    if (!ctx.material) return { hosts, actions: [], notes: ['nothing to distribute'] };
    const already = new Map<string, Set<FileRole>>();
    for (const s of ctx.planned)
      for (const a of s.actions) if (a.kind === 'stage') (already.get(a.host) ?? already.set(a.host, new Set()).get(a.host)!).add(a.role);
    const actions: Action[] = [];
    for (const h of hosts) {
      const missing = roles.filter((r) => !already.get(h)?.has(r));
      actions.push(...stageActions(ctx, h, missing));
    }
    for (const h of hosts) {
      // Key and certificate renamed back to back (etcd re-reads both on every new TLS connection), then the CA.
      const staged = [...ctx.planned.flatMap((s) => s.actions), ...actions].filter((a): a is StageAction => a.kind === 'stage' && a.host === h);
      const order: FileRole[] = ['key', 'cert', 'ca'];
      const renames = order.map((role) => staged.find((a) => a.role === role)).filter((a): a is StageAction => Boolean(a)).map((a) => ({ from: a.staged, to: a.path, role: a.role }));
      actions.push({ kind: 'swap', host: h, renames });
    }
    return { hosts, actions, notes: [] };
  },
  apply(step, _spec, ctx) {
    const stageItems = step.hosts
      .map((h) => ({ h, acts: step.actions.filter((a): a is StageAction => a.kind === 'stage' && a.host === h) }))
      .filter((x) => x.acts.length > 0)
      .map(({ h, acts }) => ({ title: `${h}: stage and verify`, host: h, run: (report: (m: string) => void) => applyStage(ctx, h, acts, report) }));
    const swapItems = step.actions
      .filter((a): a is SwapAction => a.kind === 'swap')
      .map((a) => ({
        title: `${a.host}: swap ${a.renames.map((r) => r.to.split('/').pop()).join(' + ')}`,
        host: a.host,
        run: async (report: (m: string) => void) => {
          // One remote command: check every staged file is there, then rename them back to back.
          const tests = a.renames.map((r) => sh`[ -f ${r.from} ]`).join(' && ');
          const mvs = a.renames.map((r) => sh`mv -f -- ${r.from} ${r.to}`).join(' && ');
          const r = await change(ctx, a.host, 'swap', a.renames.map((x) => x.to).join(' '), () => ctx.remote(a.host).sh(`${tests} && ${mvs}`, { allowFailure: true }));
          if (r.exitCode !== 0)
            throw new HostError(a.host, 'command', `${a.host}: swapping in the new files failed: ${r.stderr.trim() || `exit ${r.exitCode}`}`, `check ${a.renames.map((x) => x.to).join(', ')} on ${a.host}; the backup is in place`);
          report('swapped');
        },
      }));
    return [
      { title: 'stage on every host', items: stageItems, concurrent: true },
      { title: 'swap in (cert and key renamed back to back)', items: swapItems, concurrent: true },
    ];
  },
};
