// The playbook loader: the shipped playbook loads; unknown step types, parameters and references are errors with file and line.
import { describe, expect, it } from 'vitest';
import { loadPlaybook, parsePlaybook } from '../../../src/playbook/load.js';
import { InputError } from '../../../src/errors.js';

function errorOf(text: string): string {
  try {
    parsePlaybook(text, 'pb.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error('expected an InputError');
}

describe('playbook loader', () => {
  it('loads the shipped TOS playbook with every step typed', async () => {
    const pb = await loadPlaybook('playbooks/tos-etcd-renew.yaml');
    expect(pb.steps.map((s) => s.type)).toEqual(['preflight', 'backup', 'renew-ca', 'issue-cert', 'distribute', 'rolling-restart', 'restart-flannel', 'verify', 'manager-templates', 'manager-db']);
    const rr = pb.steps.find((s) => s.type === 'rolling-restart')!;
    expect(rr).toMatchObject({ manifests: ['tos-etcd.manifest', 'tos-apiserver.manifest'], pauseSeconds: 30 });
    expect(rr.at.line).toBeGreaterThan(1);
  });

  it('names an unknown step type with its line and a suggestion', () => {
    const msg = errorOf('name: x\nsteps:\n  - type: backup\n  - type: rolling-restat\n');
    expect(msg).toContain('steps[1].type: unknown step type "rolling-restat" (did you mean "rolling-restart"?)');
    expect(msg).toContain('(pb.yaml:4:');
  });

  it('names an unknown parameter of a step with its line', () => {
    const msg = errorOf('name: x\nsteps:\n  - type: rolling-restart\n    pauseSecond: 3\n');
    expect(msg).toContain('steps[0].pauseSecond: unknown key "pauseSecond" (did you mean "pauseSeconds"?)');
    expect(msg).toContain('pb.yaml:4');
  });

  it('refuses a wrong type and a reference to nothing', () => {
    const msg = errorOf('name: x\nsteps:\n  - type: renew-ca\n    days: "ten"\n  - type: restart-flannel\n    command: [echo, "{{ secrets.x }}"]\n');
    expect(msg).toMatch(/steps\[0\]\.days: expected an integer/);
    expect(msg).toContain('{{ secrets.x }}: unknown reference');
  });

  it('reports every error at once', () => {
    const msg = errorOf('name: x\nsteps:\n  - type: nope\n  - type: backup\n    targets: ["bad target!"]\n');
    expect(msg.split('\n').filter((l) => l.startsWith('  ')).length).toBe(2);
  });
});
