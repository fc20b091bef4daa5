// verify's plan half: TOS checks the material's files; a flavour that stages its own files (kubeadm) checks every file an
// earlier step of the plan stages, on each target host, by the sha256 it was staged with.
import { describe, expect, it } from 'vitest';
import { verify } from '../../../src/steps/verify.js';
import type { Action, PlannedStep } from '../../../src/plan/types.js';
import type { PlanContext } from '../../../src/steps/types.js';
import type { VerifyStep } from '../../../src/playbook/types.js';

const stage = (host: string, path: string, sha256: string): Action => ({ kind: 'stage', host, role: 'cert', path, staged: `${path}.staged`, sha256, size: 1, mode: 0o644, uid: 0, gid: 0, secret: false });

function ctx(planned: PlannedStep[]): PlanContext {
  return {
    material: null,
    planned,
    inventory: { groups: { etcd: ['cp-1', 'cp-2'] } },
    hostsOf: () => ['cp-1', 'cp-2', 'cp-3'],
  } as unknown as PlanContext;
}
const spec = { type: 'verify', targets: ['control-plane'] } as unknown as VerifyStep;

describe('verify without TOS material', () => {
  it('checks every staged file of the targets by the staged sha256', () => {
    const planned = [
      { type: 'renew-leaves', actions: [stage('cp-1', '/etc/kubernetes/pki/apiserver.crt', 'aa'), stage('cp-2', '/etc/kubernetes/pki/apiserver.crt', 'bb')] },
      { type: 'renew-kubeconfigs', actions: [stage('cp-1', '/etc/kubernetes/admin.conf', 'cc'), { kind: 'swap', host: 'cp-1', renames: [] }] },
    ] as unknown as PlannedStep[];
    const r = verify.plan(spec, ctx(planned));
    expect(r.actions).toEqual([
      { kind: 'verify', host: 'cp-1', files: [{ path: '/etc/kubernetes/pki/apiserver.crt', sha256: 'aa' }, { path: '/etc/kubernetes/admin.conf', sha256: 'cc' }], cluster: false },
      { kind: 'verify', host: 'cp-2', files: [{ path: '/etc/kubernetes/pki/apiserver.crt', sha256: 'bb' }], cluster: false },
    ]);
    expect(r.notes).toEqual([]);
  });
  it('says so when nothing was staged', () => {
    const r = verify.plan(spec, ctx([]));
    expect(r.actions).toEqual([]);
    expect(r.notes).toEqual(['nothing to verify']);
  });
});
