// The kubeadm rolling restart on the kubeadm lab, under the etcd write probe: one control-plane node at a time, the etcd
// leader's node last; on each node etcd, kube-apiserver, kube-controller-manager, kube-scheduler, each with a new container
// id; the served certificates on 6443/2379/2380 checked against the files after each node; etcd 3/3 after, 0 failed writes.
import { describe, expect, it } from 'vitest';
import { kubeadmLabSh, useKubeadmLab } from './kubeadm-lab-helpers.js';
import { podIds, restartRun } from './restart-helpers.js';
import { startWriter } from '../support/etcd-writer.js';

const lab = useKubeadmLab();
const PODS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];
const PKI = '/etc/kubernetes/pki';

describe('kubeadm rolling restart on the lab', () => {
  it('restarts every static pod, node by node, leader last, new container ids, served certificates checked, 0 failed writes', async () => {
    const cp = lab.controlPlane;
    const before = Object.fromEntries(await Promise.all(cp.map(async (h) => [h.name, podIds(await kubeadmLabSh(h.address, 'crictl ps -o json', lab.dir))] as const)));
    const first = cp[0]!.address;
    const [ca, cert, key] = await Promise.all(['etcd/ca.crt', 'apiserver-etcd-client.crt', 'apiserver-etcd-client.key'].map((f) => kubeadmLabSh(first, `cat ${PKI}/${f}`, lab.dir)));
    const writer = startWriter({ endpoints: cp.map((h) => `https://${h.address}:2379`), ca: ca!, cert: cert!, key: key!, intervalMs: 100, prefix: '/certroll-kbroll' });
    const t0 = Date.now();
    const run = await restartRun(lab, { onFailure: 'stop' });
    const ms = Date.now() - t0;
    const stats = await writer.stop();
    expect(run.warnings.filter((w) => w.level === 'block')).toEqual([]);
    expect(run.result.error, `${run.result.stoppedAt}: ${String(run.result.error)}\n${run.reports.join("\n")}`).toBeUndefined();
    console.log(`kubeadm restart: ${ms} ms for ${cp.length} nodes; ${stats.attempts} writes, ${stats.failures} failed, longest gap ${stats.longestGapMs} ms`);
    for (const n of run.notes.filter((x) => x.event === "node-timing")) console.log(`  ${n.host}: ${n.message}`);
    expect(stats.failures, stats.errors.join('\n')).toBe(0);

    // Order: the leader's node last, as planned and as done.
    const leader = run.facts.etcd?.leaderHost;
    expect(leader).toBeDefined();
    expect(run.plan.restartOrder.at(-1)).toBe(leader);
    const restarted = run.notes.filter((n) => n.event === 'node-restarted').map((n) => n.host);
    expect(restarted).toHaveLength(3);
    expect(restarted.at(-1)).toBe(leader);

    // Each node: every pod in a new container (seen by the step and by crictl now), the three served ports checked.
    for (const n of run.notes.filter((x) => x.event === 'node-timing')) {
      const t = JSON.parse(n.message!) as { pods: Array<{ container: string; before: string[]; after: string }>; served: Array<{ endpoint: string; serial: string }> };
      expect(t.pods.map((p) => p.container)).toEqual(PODS);
      for (const p of t.pods) expect(p.before).not.toContain(p.after);
      expect(t.served.map((s) => s.endpoint.split(':')[1])).toEqual(['6443', '2379', '2380']);
    }
    for (const h of cp) {
      const now = podIds(await kubeadmLabSh(h.address, 'crictl ps -o json', lab.dir));
      for (const p of PODS) {
        expect(now[p], `${h.name} ${p}`).toBeDefined();
        expect(now[p], `${h.name} ${p}`).not.toBe(before[h.name]![p]);
      }
      expect(await kubeadmLabSh(h.address, 'ls -A /etc/kubernetes/certroll-parked; ls /etc/kubernetes/manifests', lab.dir)).toBe(PODS.map((p) => `${p}.yaml`).join('\n') + '\n');
    }

    // etcd 3/3 healthy afterwards.
    const eps = cp.map((h) => `https://${h.address}:2379`).join(',');
    const health = JSON.parse(await kubeadmLabSh(first, `ETCDCTL_API=3 etcdctl --endpoints=${eps} --cacert ${PKI}/etcd/ca.crt --cert ${PKI}/etcd/healthcheck-client.crt --key ${PKI}/etcd/healthcheck-client.key endpoint health -w json`, lab.dir)) as Array<{ health: boolean }>;
    expect(health.filter((e) => e.health)).toHaveLength(3);
  }, 240_000);
});
