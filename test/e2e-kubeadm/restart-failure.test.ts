// A node whose kube-apiserver cannot start after the restart (its apiserver.crt replaced, after the backup, by a certificate
// that does not match apiserver.key): the run stops on that node at that pod with a message naming both, and
// `--on-failure rollback-node` restores the node's PKI dir from the backup and restarts its pods: the apiserver serves the
// original certificate again, etcd keeps 3/3, no other node was restarted.
import { describe, expect, it } from 'vitest';
import { SafetyStop } from '../../src/errors.js';
import { kubeadmLabSh, useKubeadmLab } from './kubeadm-lab-helpers.js';
import { podIds, restartRun } from './restart-helpers.js';

const lab = useKubeadmLab();
const PKI = '/etc/kubernetes/pki';

describe('kubeadm rolling restart: a pod that does not come back', () => {
  it('stops on that node naming the pod; --on-failure rollback-node restores it and its apiserver serves the original certificate', async () => {
    const cp = lab.controlPlane;
    const addr = (name: string) => cp.find((h) => h.name === name)!.address;
    const before = Object.fromEntries(await Promise.all(cp.map(async (h) => [h.name, podIds(await kubeadmLabSh(h.address, 'crictl ps -o json', lab.dir))] as const)));
    let broken: { host: string; sha: string } | undefined;
    const t0 = Date.now();
    // The first node's apiserver.crt goes bad just before its first pod is parked (after the backup): as a renewal gone wrong.
    const run = await restartRun(lab, {
      onFailure: 'rollback-node',
      onIntent: async (e) => {
        if (broken || e.event !== 'intent' || !e.message?.startsWith('park:') || !e.host) return;
        const sha = (await kubeadmLabSh(addr(e.host), `sha256sum < ${PKI}/apiserver.crt`, lab.dir)).slice(0, 64);
        await kubeadmLabSh(addr(e.host), `cp ${PKI}/front-proxy-client.crt ${PKI}/apiserver.crt`, lab.dir);
        broken = { host: e.host, sha };
      },
    });
    const ms = Date.now() - t0;
    expect(broken).toBeDefined();
    const host = broken!.host;
    const e = run.result.error as SafetyStop;
    expect(e, String(e)).toBeInstanceOf(SafetyStop);
    expect(e.check).toBe('rolled-back');
    const [first, second] = e.message.split('\n');
    console.log(`kubeadm restart failure + rollback-node: ${ms} ms\n${first}\n${second}`);
    expect(first).toMatch(new RegExp(`^${host}: kube-apiserver: (kube-apiserver (started and exited again|was restarted .*) after its manifest returned, and it is not healthy|not healthy \\d+s after restart)`));
    expect(second).toBe(`--on-failure rollback-node: restored ${host} from backup and restarted ${host}; the cluster is healthy (that node with its old certificates, which the other nodes still trust)`);
    expect(run.notes.filter((n) => n.event === 'node-restarted')).toEqual([]);

    // The node is back as it was: the original apiserver.crt, served on 6443, /readyz answering; its pods in new containers.
    const a = addr(host);
    expect((await kubeadmLabSh(a, `sha256sum < ${PKI}/apiserver.crt`, lab.dir)).slice(0, 64)).toBe(broken!.sha);
    const [served, file] = (await kubeadmLabSh(a, `echo | openssl s_client -connect ${a}:6443 2>/dev/null | openssl x509 -noout -fingerprint -sha256; echo @@; openssl x509 -in ${PKI}/apiserver.crt -noout -fingerprint -sha256`, lab.dir)).split('@@\n');
    expect(served).toBe(file);
    await kubeadmLabSh(a, `curl -sf -o /dev/null --cacert ${PKI}/ca.crt --cert ${PKI}/apiserver-kubelet-client.crt --key ${PKI}/apiserver-kubelet-client.key https://${a}:6443/readyz`, lab.dir);
    const now = Object.fromEntries(await Promise.all(cp.map(async (h) => [h.name, podIds(await kubeadmLabSh(h.address, 'crictl ps -o json', lab.dir))] as const)));
    expect(now[host]!['kube-apiserver']).not.toBe(before[host]!['kube-apiserver']);
    // No other node was touched.
    for (const h of cp.filter((x) => x.name !== host)) expect(now[h.name]).toEqual(before[h.name]);
    expect(await kubeadmLabSh(a, 'ls -A /etc/kubernetes/certroll-parked', lab.dir)).toBe('');

    const eps = cp.map((h) => `https://${h.address}:2379`).join(',');
    const health = JSON.parse(await kubeadmLabSh(a, `ETCDCTL_API=3 etcdctl --endpoints=${eps} --cacert ${PKI}/etcd/ca.crt --cert ${PKI}/etcd/healthcheck-client.crt --key ${PKI}/etcd/healthcheck-client.key endpoint health -w json`, lab.dir)) as Array<{ health: boolean }>;
    expect(health.filter((x) => x.health)).toHaveLength(3);
  }, 240_000);
});
