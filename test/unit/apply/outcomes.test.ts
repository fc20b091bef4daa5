// After the point of no return a failed step stops only the steps that need it; resume knows what the stopped run finished.
import { describe, expect, it } from 'vitest';
import { blockedBy, type StepOutcome } from '../../../src/apply/engine.js';
import { doneSteps, resolveSkips } from '../../../src/run/resume.js';
import { UsageError } from '../../../src/errors.js';
import type { Plan } from '../../../src/plan/types.js';
import type { StepType } from '../../../src/playbook/types.js';

const TOS: StepType[] = ['preflight', 'backup', 'renew-ca', 'issue-cert', 'distribute', 'rolling-restart', 'restart-flannel', 'verify', 'manager-templates', 'manager-db'];
const steps = TOS.map((type, i) => ({ type, label: `${i + 1}. ${type}` }));
const outcome = (i: number, state: StepOutcome['state']): StepOutcome => ({ index: i, label: steps[i]!.label, type: steps[i]!.type, title: steps[i]!.type, state });

describe('which steps still run after a failure', () => {
  it('a failed flannel restart does not stop verify or the Manager steps', () => {
    const so = [0, 1, 2, 3, 4, 5].map((i) => outcome(i, 'done')).concat(outcome(6, 'failed'));
    expect(blockedBy(steps, 7, so)).toBeUndefined();
    expect(blockedBy(steps, 8, so)).toBeUndefined();
    expect(blockedBy(steps, 9, so)).toBeUndefined();
  });
  it('a failed rolling restart does not stop the flannel restart or the Manager steps', () => {
    const so = [0, 1, 2, 3, 4].map((i) => outcome(i, 'done')).concat(outcome(5, 'failed'));
    for (const i of [6, 7, 8, 9]) expect(blockedBy(steps, i, so)).toBeUndefined();
  });
  it('a failed distribution stops every step after it, naming the cause', () => {
    const so = [0, 1, 2, 3].map((i) => outcome(i, 'done')).concat(outcome(4, 'failed'));
    for (const i of [5, 6, 7, 8, 9]) expect(blockedBy(steps, i, so)).toBe('needs 5. distribute (failed)');
  });
  it('a failed preflight stops everything, transitively', () => {
    const so: StepOutcome[] = [outcome(0, 'failed')];
    for (let i = 1; i < TOS.length; i++) {
      const why = blockedBy(steps, i, so);
      expect(why, steps[i]!.label).toBeDefined();
      so.push({ ...outcome(i, 'not-run'), reason: why! });
    }
  });
  it('a step the operator did by hand counts as done', () => {
    const so = [0, 1, 2, 3].map((i) => outcome(i, 'done')).concat(outcome(4, 'done-by-operator'));
    expect(blockedBy(steps, 5, so)).toBeUndefined();
  });
});

describe('resume: what the stopped run finished', () => {
  it('the last outcome per step wins; other events are ignored', () => {
    const ev = [
      { event: 'step-done', index: 0 },
      { event: 'step-failed', index: 6 },
      { event: 'message', index: 6 },
      { event: 'step-done', index: 8 },
      { event: 'step-done-by-operator', index: 6 },
      { event: 'step-done', index: 5 },
      { event: 'step-failed', index: 5 },
    ];
    expect(doneSteps(ev)).toEqual({ 0: 'earlier', 6: 'operator', 8: 'earlier' });
  });
  const plan = { runId: 'R', steps: TOS.map((type, index) => ({ index, type, title: type })) } as unknown as Plan;
  it('--skip names a step by title, type, number or label', () => {
    expect(resolveSkips(['restart-flannel'], plan, {})).toEqual([6]);
    expect(resolveSkips(['7'], plan, {})).toEqual([6]);
    expect(resolveSkips(['9. manager-templates'], plan, {})).toEqual([8]);
  });
  it('--skip refuses unknown, finished and guarding steps', () => {
    expect(() => resolveSkips(['nosuch'], plan, {})).toThrow(UsageError);
    expect(() => resolveSkips(['nosuch'], plan, {})).toThrow(/no such step/);
    expect(() => resolveSkips(['restart-flannel'], plan, { 6: 'earlier' })).toThrow(/already done/);
    expect(() => resolveSkips(['distribute'], plan, {})).toThrow(/cannot be skipped/);
    expect(() => resolveSkips([' '], plan, {})).toThrow(/name a step/);
  });
});

import { ContainerWatch } from '../../../src/steps/rolling-restart.js';
describe('a container that exits at start is noticed from the container list', () => {
  const ps = (...names: string[]) => ['CONTAINER ID   IMAGE   COMMAND   CREATED   STATUS   PORTS   NAMES', ...names.map((n, i) => `abc${i}   img   "etcd"   1s ago   Up 1s      ${n}`)].join('\n');
  it('seen running, then gone', () => {
    const w = new ContainerWatch(['tos-etcd', 'tos-apiserver']);
    expect(w.observe(ps())).toBeUndefined();
    expect(w.observe(ps('k8s_tos-etcd_tos-etcd-h1_kube-system_x_0'))).toBeUndefined();
    expect(w.observe(ps('k8s_tos-apiserver_x_kube-system_y_0'))).toBe('tos-etcd started and exited again');
  });
  it('restart count rising in the k8s_ name', () => {
    const w = new ContainerWatch(['tos-etcd']);
    expect(w.observe(ps('k8s_tos-etcd_tos-etcd-h1_kube-system_x_0'))).toBeUndefined();
    expect(w.observe(ps('k8s_tos-etcd_tos-etcd-h1_kube-system_x_0'))).toBeUndefined();
    expect(w.observe(ps('k8s_tos-etcd_tos-etcd-h1_kube-system_x_1'))).toBe('tos-etcd was restarted by the kubelet (restart count 0 → 1)');
  });
  it('a container that comes up and stays up is not an exit', () => {
    const w = new ContainerWatch(['tos-etcd']);
    for (let i = 0; i < 5; i++) expect(w.observe(ps('tos-etcd'))).toBeUndefined();
  });
});

describe('kubeadm: a failed renewal stops the restart and verify', () => {
  const KUBEADM: StepType[] = ['preflight', 'backup', 'renew-leaves', 'renew-kubeconfigs', 'rolling-restart', 'refresh-kube-config', 'verify'];
  const ks = KUBEADM.map((type, i) => ({ type, label: `${i + 1}. ${type}` }));
  const out = (i: number, state: StepOutcome['state']): StepOutcome => ({ index: i, label: ks[i]!.label, type: ks[i]!.type, title: ks[i]!.type, state });
  it('renew-leaves failed: no restart, no verify', () => {
    const so = [out(0, 'done'), out(1, 'done'), out(2, 'failed')];
    expect(blockedBy(ks, 4, so)).toBe('needs 3. renew-leaves (failed)');
    expect(blockedBy(ks, 6, so)).toBe('needs 3. renew-leaves (failed)');
  });
  it('renew-kubeconfigs failed: no restart, no refresh of ~/.kube copies', () => {
    const so = [out(0, 'done'), out(1, 'done'), out(2, 'done'), out(3, 'failed')];
    expect(blockedBy(ks, 4, so)).toBe('needs 4. renew-kubeconfigs (failed)');
    expect(blockedBy(ks, 5, so)).toBe('needs 4. renew-kubeconfigs (failed)');
  });
  it('a failed preflight: verify does not run either', () => {
    expect(blockedBy(ks, 6, [out(0, 'failed')])).toBe('needs 1. preflight (failed)');
  });
});
