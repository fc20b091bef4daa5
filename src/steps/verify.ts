// Step `verify`: every host holds the expected files (sha256), the etcd cluster is healthy and every member serves the new certificate.
import { HostError, SafetyStop } from '../errors.js';
import { sh } from '../ssh/quote.js';
import type { VerifyStep } from '../playbook/types.js';
import type { Action } from '../plan/types.js';
import type { StepModule } from './types.js';
import { clusterHealthy } from './etcd-health.js';
import { clusterFromOutput, clusterQueryScript } from '../facts/etcd-cluster.js';
import { runSections, type ScriptPart, type SectionsResult } from '../ssh/sections.js';
import { etcdHosts } from '../inventory/targets.js';
import { roles } from './shared.js';

type VerifyAction = Extract<Action, { kind: 'verify' }>;

export const verify: StepModule<VerifyStep> = {
  type: 'verify',
  needs: ['preflight', 'backup', 'distribute', 'renew-cas', 'renew-leaves', 'renew-kubeconfigs'],
  changesLiveState: false,
  plan(spec, ctx) {
    const hosts = ctx.hostsOf(spec.targets);
    const etcd = new Set(ctx.inventory.groups.etcd ?? []);
    // A flavour whose steps stage their own files (kubeadm's renew-leaves, renew-kubeconfigs): every file an earlier step of
    // this plan stages on a target host must hold exactly what was staged. The served certificates were checked by the
    // rolling restart, node by node.
    if (!ctx.material) {
      const staged = ctx.planned.flatMap((s) => s.actions).filter((a): a is Extract<Action, { kind: 'stage' }> => a.kind === 'stage');
      const actions: Action[] = hosts
        .map((h) => ({ h, files: staged.filter((a) => a.host === h).map((a) => ({ path: a.path, sha256: a.sha256, ...(a.notAfter ? { notAfter: a.notAfter } : {}) })) }))
        .filter((x) => x.files.length > 0)
        .map(({ h, files }) => ({ kind: 'verify', host: h, files, cluster: false }));
      return { hosts, actions, notes: actions.length ? [] : ['nothing to verify'] };
    }
    const actions: Action[] = hosts.map((h) => ({
      kind: 'verify',
      host: h,
      files: roles.map((role) => ({ path: `${ctx.host(h).vars.certDir}/${ctx.playbook.files[role]}`, sha256: ctx.material!.files[role].sha256, ...(ctx.material!.files[role].notAfter ? { notAfter: ctx.material!.files[role].notAfter } : {}) })),
      cluster: etcd.has(h),
    }));
    return { hosts, actions, notes: [] };
  },
  apply(step, _spec, ctx) {
    const first = ctx.inventory.firstMaster;
    const withCluster = (ctx.inventory.groups.etcd ?? []).length > 0;
    const verifies = step.actions.filter((a): a is VerifyAction => a.kind === 'verify');
    // One exec per host (src/ssh/sections.ts), its parts at the same time: the sha256 of its files, the certificate its etcd
    // serves, and on the first master the cluster query as well, which the 'etcd cluster healthy' item judges.
    const runs = new Map<string, Promise<SectionsResult>>();
    const sectionsOf = (host: string): Promise<SectionsResult> => {
      let p = runs.get(host);
      if (!p) {
        const a = verifies.find((x) => x.host === host);
        const parts: ScriptPart[] = [];
        if (a) parts.push({ name: 'sums', script: sh`sha256sum -- ${a.files.map((f) => f.path)}` });
        if (a?.cluster) {
          const h = etcdHosts(ctx.inventory).find((x) => x.name === host)!;
          const addr = h.ip ?? h.address;
          parts.push({ name: 'served', script: sh`command -v openssl >/dev/null || { echo no-openssl; exit 0; }; openssl s_client -connect ${addr.includes(':') ? `[${addr}]` : addr}:${String(h.vars.etcdClientPort)} -servername ${h.hostname} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256` });
        }
        if (host === first && withCluster) parts.push({ name: 'etcd', script: clusterQueryScript(ctx, first) });
        runs.set(host, (p = runSections(ctx.remote(host), parts, { timeoutMs: 60_000, concurrent: true })));
      }
      return p;
    };
    const part = (host: string, res: SectionsResult, name: string) => {
      const x = res.sections.get(name);
      if (!x) throw new HostError(host, 'command', `${host}: the verify script stopped before its ${name} part (exit ${res.exitCode}): ${res.stderr.trim().slice(-500)}`);
      return x;
    };
    const items = verifies.map((a) => ({
      title: a.host,
      host: a.host,
      run: async (report: (m: string) => void) => {
        const res = await sectionsOf(a.host);
        const out = part(a.host, res, 'sums');
        for (const f of a.files) {
          const line = out.stdout.split('\n').find((l) => l.endsWith(f.path));
          if (!line?.startsWith(f.sha256)) throw new HostError(a.host, 'command', `${a.host}: ${f.path} does not hold the new file (sha256 differs)`, 'run `certroll check` and compare with the backup');
        }
        if (a.cluster) {
          const served = part(a.host, res, 'served');
          const want = ctx.plan.material?.newLeaf.fingerprint;
          if (served.stdout.includes('no-openssl')) report('openssl not installed: served certificate not checked');
          else if (want && !served.stdout.toUpperCase().includes(want.toUpperCase()))
            throw new SafetyStop('served-cert', `${a.host}: etcd still serves another certificate (${served.stdout.trim() || 'no answer'})`, 'restart that etcd member', a.host);
          else report('etcd serves the new certificate');
        }
        report('files verified');
      },
    }));
    if (withCluster)
      items.push({
        title: 'etcd cluster healthy',
        host: first,
        run: async (report) => {
          const res = await sectionsOf(first);
          const e = part(first, res, 'etcd');
          clusterHealthy(ctx, first, clusterFromOutput(ctx, first, e.stdout, e.exitCode, res.stderr));
          report('all members healthy, one leader');
        },
      });
    return { items, concurrent: true };
  },
};
