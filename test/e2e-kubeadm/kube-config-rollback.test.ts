// Rollback of the ~/.kube copies on the kubeadm lab, resumed, and from the hosts alone: a run replaces root's ~/.kube/config
// and a copy owned by 1000:1001 (mode 0640); a rollback killed (SIGKILL, failpoint) right after it put the first copy back
// is finished by `rollback --from-backup` from another journal home (no journal: the copies are found beside their
// backups on the hosts), which says the first copy is already as before and puts the rest back: afterwards every
// ~/.kube copy and every file under /etc/kubernetes and /var/lib/kubelet is byte-identical to before the run, with mode and owner.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { certroll } from '../support/cli.js';
import { kubeadmLabSh, useKubeadmLab } from './kubeadm-lab-helpers.js';

const lab = useKubeadmLab({ resetAfter: true });
const tmp = mkdtempSync(join(tmpdir(), 'certroll-kbkube-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const PLAYBOOK = 'playbooks/kubeadm-renew.yaml';

/** Per control-plane node: "path mode uid:gid sha256" of /root/.kube's files (backups left out) and of everything under /etc/kubernetes and /var/lib/kubelet. */
const state = async () =>
  Object.fromEntries(
    await Promise.all(
      lab.controlPlane.map(async (h) => [
        h.name,
        (await kubeadmLabSh(h.address, `find /root/.kube -maxdepth 1 -type f ! -name '*.certroll-bak-*' -printf '%p %m %U:%G ' -exec sha256sum {} \\; | sort; find /etc/kubernetes /var/lib/kubelet -type f -printf '%p %m %U:%G ' -exec sha256sum {} \\; | sort`, lab.dir)).trim(),
      ] as const),
    ),
  );

describe('rollback of the ~/.kube copies on the kubeadm lab', () => {
  it('killed after the first copy, finished from the hosts alone: every copy back with its bytes, mode and owner', async () => {
    const cp = lab.controlPlane;
    const env = { CERTROLL_HOME: join(tmp, 'home') };
    for (const h of cp) await kubeadmLabSh(h.address, 'cd /root/.kube && cp -p config ops.conf && chown 1000:1001 ops.conf && chmod 640 ops.conf', lab.dir);
    const before = await state();

    const run = await certroll(['run', '--yes', '--pause', '0', '-i', lab.inventory, PLAYBOOK], env);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const runId = /Run (\S+) succeeded/.exec(run.stdout)![1]!;
    for (const h of cp) expect(await kubeadmLabSh(h.address, 'cmp /root/.kube/config /etc/kubernetes/admin.conf && cmp /root/.kube/ops.conf /etc/kubernetes/admin.conf && echo same', lab.dir)).toBe('same\n');

    // Killed right after its first copy was put back (before anything else: the copies go before the cert dirs).
    const killed = await certroll(['rollback', '--yes', '--pause', '0', '--run', runId], { ...env, CERTROLL_FAILPOINT: 'restore-kube-config.after' });
    expect(killed.stderr).toContain('failpoint restore-kube-config.after');
    const mid = await state();
    const restoredFirst = cp.filter((h) => mid[h.name]!.split('\n')[0] === before[h.name]!.split('\n')[0]);
    expect(restoredFirst.length, 'at least one copy (a first one) put back before the kill').toBeGreaterThanOrEqual(1);

    // Finished without the journal (another journal home): the copies are found beside their backups on the hosts. The
    // dead rollback's lock is on the hosts: --break-lock. The worker was not part of the run: --limit control-plane.
    const fin = await certroll(['rollback', '--yes', '--pause', '0', '--break-lock', '-i', lab.inventory, '--from-backup', `/etc/kubernetes-bak-${runId}`, '--limit', 'control-plane', PLAYBOOK], { CERTROLL_HOME: join(tmp, 'other-home') });
    expect(fin.code, fin.stderr + fin.stdout).toBe(0);
    expect(fin.stdout).toMatch(/\/root\/\.kube\/config: already as before run/);
    expect(fin.stdout).toMatch(/put back from ops\.conf\.certroll-bak-/);
    expect(fin.stdout).toMatch(/~\/\.kube cop(y|ies) as before/);
    expect(await state()).toEqual(before);
  }, 300_000);
});
