// Step `preflight`: every host reachable and unchanged since the plan, the run lock taken, cert dir writable, disk enough, cluster healthy.
import { hostFactsScript, parseHostFacts } from '../facts/host-facts.js';
import { lockDirOf } from '../host-paths.js';
import { HostError, SafetyStop } from '../errors.js';
import { sh } from '../ssh/quote.js';
import { lockOwner, lockTaken, releaseLock, takeLockScript } from './lock.js';
import { failpoint } from '../failpoint.js';
import type { PreflightStep } from '../playbook/types.js';
import type { StepModule, StepPlanResult } from './types.js';
import { factsQuery } from '../facts/host-query.js';
import { clusterHealthy } from './etcd-health.js';
import { clusterFromOutput, clusterQueryScript } from '../facts/etcd-cluster.js';
import { runSections } from '../ssh/sections.js';
import { endpointOf } from '../inventory/targets.js';
import { diffFiles, type FileChange } from '../file-record.js';

/** How preflight names a cert dir file that differs from the plan's facts (only content is compared). */
const SAID: Record<FileChange['what'], string> = { missing: 'disappeared', extra: 'appeared', content: 'changed', mode: 'changed', owner: 'changed' };

export const preflight: StepModule<PreflightStep> = {
  type: 'preflight',
  needs: [],
  changesLiveState: false,
  plan(spec, ctx): StepPlanResult {
    const hosts = ctx.hostsOf(['all']);
    const actions: StepPlanResult['actions'] = [];
    for (const name of hosts) {
      const f = ctx.hostFacts(name);
      const path = lockDirOf(ctx.host(name).vars.certDir);
      actions.push({ kind: 'lock', host: name, path });
      const checks = ['reachable', 'cert dir unchanged since this plan', 'cert dir writable', `free disk ≥ backup size + ${spec.minFreeMiB} MiB`];
      if (name === ctx.inventory.firstMaster) checks.push('CA key present', 'etcd cluster healthy with a leader');
      actions.push({ kind: 'precheck', host: name, checks });
      if (!f) continue;
      const needKiB = f.disk.certDirKiB + spec.minFreeMiB * 1024;
      if (f.disk.availKiB < needKiB) {
        ctx.warn({
          level: 'block',
          code: 'disk-full',
          host: name,
          message: `${name}: not enough disk for the backup beside ${f.certDir.path}: ${f.disk.availKiB} KiB free, need ${needKiB} KiB (cert dir ${f.disk.certDirKiB} KiB + ${spec.minFreeMiB} MiB margin); free some space first`,
        });
      }
      if (!f.certDir.exists) {
        ctx.warn({ level: 'block', code: 'no-cert-dir', host: name, message: `${name}: the cert dir ${f.certDir.path} does not exist` });
      }
    }
    return { hosts, actions, notes: [] };
  },
  apply(step, spec, ctx) {
    const items = step.hosts.map((name) => ({
      title: name,
      host: name,
      run: async (report: (m: string) => void) => {
        const r = ctx.remote(name);
        const host = ctx.inventory.hosts.find((h) => h.name === name)!;
        const q = factsQuery(host, ctx.playbook);
        const first = name === ctx.inventory.firstMaster;
        const caKey = `${host.vars.certDir}/${ctx.playbook.files.caKey}`;
        const probe = `${host.vars.certDir}/.certroll-probe-${ctx.runId}`;
        const lock = takeLockScript(host.vars.certDir, lockOwner(ctx), ctx.options.breakLock);
        const queryEtcd = first && Boolean(ctx.inventory.groups.etcd?.length);
        // One exec (src/ssh/sections.ts): the facts again, the lock, the write probe, and on the first master the CA key
        // and the cluster query. Each result is judged below in the old order; a lock taken by a host whose cert dir
        // changed since the plan is released at once.
        const res = await runSections(r, [
          { name: 'facts', script: hostFactsScript(q) },
          { name: 'lock', script: lock.script, stdin: true },
          { name: 'probe', script: sh`touch -- ${probe} 2>&1 && rm -f -- ${probe} 2>&1` },
          ...(first ? [{ name: 'cakey', script: sh`test -r ${caKey}` }] : []),
          // Read-only and independent of the rest: at the same time as the parts above (src/ssh/sections.ts).
          ...(queryEtcd ? [{ name: 'etcd', script: clusterQueryScript(ctx, name), alongside: true }] : []),
        ], { stdin: lock.stdin, timeoutMs: Math.max(host.ssh.commandTimeout * 1000, 30_000) });
        const part = (n: string) => {
          const p = res.sections.get(n);
          if (!p) throw new HostError(name, 'command', `${name}: the preflight script stopped before its ${n} part (exit ${res.exitCode}): ${res.stderr.trim().slice(-500)}`);
          return p;
        };
        // Whatever stops the step below, the run's cleanup releases a lock this exec took.
        if (res.sections.get('lock')?.stdout.includes('@@locked')) ctx.locked.add(name);
        const facts = part('facts');
        if (facts.exitCode !== 0) throw new HostError(name, 'command', `${name}: the host facts script exited with ${facts.exitCode}`, undefined, res.stderr.trim().slice(-2000) || undefined);
        const now = parseHostFacts(name, q, facts.stdout);
        const before = ctx.facts.hosts[name];
        const lockOut = part('lock');
        if (before) {
          const diff = diffFiles(before.certDir.files, now.certDir.files, ['content']).map((d) => `${d.path} ${SAID[d.what]}`);
          if (diff.length) {
            // The lock came in the same exec: a run that stops here leaves none behind.
            if (ctx.locked.delete(name)) await releaseLock(r, host.vars.certDir, ctx.runId);
            throw new SafetyStop('facts-changed', `${name}: the cert dir changed since the plan was made (${diff.slice(0, 5).join(', ')})`, 'run `certroll plan` again and review it', name);
          }
        }
        lockTaken(name, host.vars.certDir, lockOut.stdout);
        failpoint('lock.after');
        report('lock taken');
        const w = part('probe');
        if (w.exitCode !== 0)
          throw new SafetyStop('cert-dir-not-writable', `${name}: cannot write in ${host.vars.certDir}: ${w.stdout.trim() || `exit ${w.exitCode}`}`, 'make it writable (read-only filesystem? permissions?) and run again; nothing was changed', name);
        const needKiB = now.disk.certDirKiB + spec.minFreeMiB * 1024;
        if (now.disk.availKiB < needKiB)
          throw new SafetyStop('disk-full', `${name}: ${now.disk.availKiB} KiB free beside ${host.vars.certDir}, the backup needs ${needKiB} KiB (cert dir ${now.disk.certDirKiB} KiB + ${spec.minFreeMiB} MiB margin)`, 'free some disk space and run again; nothing was changed', name);
        if (first) {
          if (part('cakey').exitCode !== 0) throw new SafetyStop('ca-key-missing', `${name}: the CA key ${caKey} is missing`, `copy ${ctx.playbook.files.caKey} onto ${name}:${host.vars.certDir}/ (mode 0600) and run again`, name);
          if (queryEtcd) {
            const parked = ctx.plan.steps.flatMap((st) => st.actions).filter((x) => x.kind === 'restart' && x.parked).map((x) => endpointOf(ctx.inventory.hosts.find((h) => h.name === x.host)!));
            const e = part('etcd');
            clusterHealthy(ctx, name, clusterFromOutput(ctx, name, e.stdout, e.exitCode, res.stderr), parked);
            report('etcd cluster healthy with a leader');
          }
        }
        report('ok');
      },
    }));
    return { items, concurrent: true };
  },
};
