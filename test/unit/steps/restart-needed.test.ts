// When a rolling restart is planned: after a renewal this plan makes, after a renewal a stopped run finished (resume: its
// files are on disk and the nodes it did not restart still must be; kubeadm has no TOS material to say so), or always.
import { describe, expect, it } from 'vitest';
import { restartNeeded } from '../../../src/steps/rolling-restart.js';
import type { Action } from '../../../src/plan/types.js';

const step = (type: string, actions: Array<Pick<Action, 'kind'>> = [], done?: 'earlier' | 'operator') => ({ type, actions: actions as Action[], ...(done ? { done } : {}) });

describe('restartNeeded', () => {
  it('after staging or a swap planned now, or with the TOS material', () => {
    expect(restartNeeded({ when: 'renewed' }, { material: null, planned: [step('renew-leaves', [{ kind: 'stage' }])] })).toBe(true);
    expect(restartNeeded({ when: 'renewed' }, { material: null, planned: [step('distribute', [{ kind: 'swap' }])] })).toBe(true);
    expect(restartNeeded({ when: 'renewed' }, { material: {}, planned: [] })).toBe(true);
  });

  it('on a resume, after a renewal the stopped run finished (or the operator did by hand)', () => {
    for (const type of ['renew-leaves', 'renew-kubeconfigs', 'renew-cas', 'distribute'])
      for (const done of ['earlier', 'operator'] as const) expect(restartNeeded({ when: 'renewed' }, { material: null, planned: [step('preflight'), step(type, [], done)] }), `${type} ${done}`).toBe(true);
  });

  it('not when nothing was or is renewed: a preflight or a backup done earlier does not count', () => {
    expect(restartNeeded({ when: 'renewed' }, { material: null, planned: [step('preflight', [], 'earlier'), step('backup', [], 'earlier'), step('renew-leaves')] })).toBe(false);
    expect(restartNeeded({ when: 'always' }, { material: null, planned: [] })).toBe(true);
  });
});
