// The kubeadm flavour as a user runs it, through the CLI, on the kubeadm lab (issue 10, "Proof"): `plan` writes nothing;
// `run --yes --pause 0` of playbooks/kubeadm-renew.yaml under the etcd write probe (0 failed, 0 lost writes), the etcd
// leader's node restarted last; after it every served certificate (6443, 2379, 2380 on each node) is the new file's, every
// renewed certificate verifies against its CA with openssl, every kubeconfig (incl. ~/.kube/config) is accepted by the
// apiserver stand-in; a second plan has nothing to do; `rollback` of the run puts every node back byte-identical (sha256
// of every file under /etc/kubernetes and /var/lib/kubelet) and the served certificates are the old ones again; the rollback
// plan (dry run, from the journal and from the backups on the hosts) lists the ~/.kube copies it puts back, and the rollback
// gives each its bytes, mode and owner from before the run, leaving alone (with a warning) a copy edited after the run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { certroll } from '../support/cli.js';
import { startWriter } from '../support/etcd-writer.js';
import { kubeadmLabSh, useKubeadmLab } from './kubeadm-lab-helpers.js';

const lab = useKubeadmLab({ resetAfter: true });
const tmp = mkdtempSync(join(tmpdir(), 'certroll-kbflow-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const env = { CERTROLL_HOME: join(tmp, 'home') };
const PLAYBOOK = 'playbooks/kubeadm-renew.yaml';
const PKI = '/etc/kubernetes/pki';

const LEAVES: Array<[string, string]> = [
  ['apiserver', 'ca'],
  ['apiserver-kubelet-client', 'ca'],
  ['apiserver-etcd-client', 'etcd/ca'],
  ['front-proxy-client', 'front-proxy-ca'],
  ['etcd/server', 'etcd/ca'],
  ['etcd/peer', 'etcd/ca'],
  ['etcd/healthcheck-client', 'etcd/ca'],
];

/** Per host: "path mode mtime sha256" of every file under /etc/kubernetes and /var/lib/kubelet (and ~/.kube). */
const snapshot = async (withMeta: boolean) =>
  Object.fromEntries(
    await Promise.all(
      lab.hosts.map(async (h) => [
        h.name,
        await kubeadmLabSh(h.address, `find /etc/kubernetes /var/lib/kubelet -type f ${withMeta ? `-printf '%p %m %T@ '` : `-printf '%p '`} -exec sha256sum {} \\; | sort`, lab.dir),
      ] as const),
    ),
  );

/** Per control-plane node: the sha256 fingerprint of the certificate served on 6443, 2379, 2380 and of the file it must be. */
async function served(): Promise<Array<{ host: string; port: number; served: string; file: string }>> {
  const ports = [[6443, 'apiserver', 'apiserver-kubelet-client'], [2379, 'etcd/server', 'etcd/healthcheck-client'], [2380, 'etcd/peer', 'etcd/peer']] as const;
  const perHost = await Promise.all(lab.controlPlane.map(async (h) => {
    const fp = (await kubeadmLabSh(h.address, ports.flatMap(([port, file, client]) => [
      `openssl s_client -connect ${h.address}:${port} -cert ${PKI}/${client}.crt -key ${PKI}/${client}.key </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`,
      `openssl x509 -in ${PKI}/${file}.crt -noout -fingerprint -sha256`,
    ]).join('\n'), lab.dir)).trim().split('\n');
    return ports.map(([port], i) => ({ host: h.name, port, served: fp[2 * i]!, file: fp[2 * i + 1]! }));
  }));
  return perHost.flat();
}

/** Every kubeconfig of a node (/etc/kubernetes/*.conf, ~/.kube/config) tried against its apiserver's /readyz: "OK path" / "FAIL path". */
const KUBECONFIGS_ACCEPTED = (address: string) => `for c in /etc/kubernetes/*.conf /root/.kube/config; do
  if grep -q 'client-certificate-data:' "$c"; then
    sed -n 's/^ *client-certificate-data: //p' "$c" | base64 -d > /tmp/kc.crt; sed -n 's/^ *client-key-data: //p' "$c" | base64 -d > /tmp/kc.key
  else
    cp "$(sed -n 's/^ *client-certificate: //p' "$c")" /tmp/kc.crt; cp "$(sed -n 's/^ *client-key: //p' "$c")" /tmp/kc.key
  fi
  if curl -sf -o /dev/null --max-time 3 --cacert ${PKI}/ca.crt --cert /tmp/kc.crt --key /tmp/kc.key https://${address}:6443/readyz; then echo "OK $c"; else echo "FAIL $c"; fi
  rm -f /tmp/kc.crt /tmp/kc.key
done`;

/** Per control-plane node: "path mode uid:gid sha256" of every file directly in /root/.kube, sorted. */
const kubeDir = async () =>
  Object.fromEntries(
    await Promise.all(lab.controlPlane.map(async (h) => [h.name, (await kubeadmLabSh(h.address, `find /root/.kube -maxdepth 1 -type f -printf '%p %m %U:%G ' -exec sha256sum {} \\; | sort`, lab.dir)).trim().split('\n')] as const)),
  );

describe('kubeadm through the CLI on the kubeadm lab: plan, run under the write probe, second plan, rollback', () => {
  it('renews, restarts leader last with 0 failed writes, serves the new certificates; rollback puts every byte back', async () => {
    const t0 = Date.now();
    const cp = lab.controlPlane;
    const inv = lab.inventory;
    // Two more copies of admin.conf in root's ~/.kube: ops.conf (mode 0640, owner 1000:1001: the run keeps them, the rollback
    // must give them back) and edited.conf (changed by hand after the run: the rollback must leave it, with a warning).
    for (const h of cp) await kubeadmLabSh(h.address, 'cd /root/.kube && cp -p config ops.conf && chown 1000:1001 ops.conf && chmod 640 ops.conf && cp -p config edited.conf', lab.dir);
    const kubeBefore = await kubeDir();
    const before = await snapshot(true);
    const servedBefore = await served();
    for (const s of servedBefore) expect(s.served, `${s.host}:${s.port}`).toBe(s.file);

    // plan writes nothing: sha256, mode and mtime of every file, on every node.
    const tPlan = Date.now();
    const plan = await certroll(['plan', '-i', inv, PLAYBOOK], env);
    console.log(`kubeadm flow: plan ${Date.now() - tPlan} ms`);
    expect(plan.code, plan.stderr + plan.stdout).toBe(0);
    expect(plan.stdout).toMatch(/Status: ready/);
    expect(plan.stdout).toMatch(/rolling-restart/);
    expect(plan.stdout).toMatch(/refresh-kube-config/);
    expect(await snapshot(true)).toEqual(before);

    // run under the write probe; the leader (asked just before) is the node restarted last.
    const first = cp[0]!.address;
    const [ca, cert, key] = await Promise.all(['etcd/ca.crt', 'apiserver-etcd-client.crt', 'apiserver-etcd-client.key'].map((f) => kubeadmLabSh(first, `cat ${PKI}/${f}`, lab.dir)));
    const writer = startWriter({ endpoints: cp.map((h) => `https://${h.address}:2379`), ca: ca!, cert: cert!, key: key!, intervalMs: 100, prefix: '/certroll-kbflow' });
    const tRun = Date.now();
    const run = await certroll(['run', '--yes', '--pause', '0', '-i', inv, PLAYBOOK], env);
    const runMs = Date.now() - tRun;
    const stats = await writer.stop();
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const runId = /Run (\S+) succeeded/.exec(run.stdout)![1]!;
    console.log(`kubeadm flow: run ${runMs} ms; ${stats.attempts} writes, ${stats.failures} failed, longest gap ${stats.longestGapMs} ms`);
    expect(stats.failures, stats.errors.join('\n')).toBe(0);
    // 0 acknowledged writes lost: every acknowledged key is in etcd.
    const eps = cp.map((h) => `https://${h.address}:2379`).join(',');
    const etcdctl = `ETCDCTL_API=3 etcdctl --endpoints=${eps} --cacert ${PKI}/etcd/ca.crt --cert ${PKI}/etcd/healthcheck-client.crt --key ${PKI}/etcd/healthcheck-client.key`;
    const keys = new Set((await kubeadmLabSh(first, `${etcdctl} get /certroll-kbflow/ --prefix --keys-only`, lab.dir)).split('\n').filter(Boolean));
    expect(stats.acknowledged.filter((k) => !keys.has(k))).toEqual([]);
    // Leader's node last: the order the run restarted nodes in, and the one it marked as the leader.
    const order = [...run.stdout.matchAll(/rolling-restart (\S+): serves the certificates on disk/g)].map((m) => m[1]);
    expect(order).toHaveLength(3);
    const leader = /rolling-restart (\S+) \(leader\): checking cluster health/.exec(run.stdout)?.[1];
    expect(leader).toBeDefined();
    expect(order.at(-1)).toBe(leader);

    // After it: every served certificate is the new file's, and differs from before.
    const servedAfter = await served();
    for (const s of servedAfter) {
      expect(s.served, `${s.host}:${s.port}`).toBe(s.file);
      expect(s.served, `${s.host}:${s.port}`).not.toBe(servedBefore.find((b) => b.host === s.host && b.port === s.port)!.served);
    }
    for (const h of cp) {
      // Every renewed certificate against its CA (openssl, on the node) and every kubeconfig accepted by the apiserver.
      const out = await kubeadmLabSh(h.address, [`cd ${PKI}`, ...LEAVES.map(([l, c]) => `openssl verify -CAfile ${c}.crt ${l}.crt`)].join('\n'), lab.dir);
      for (const [l] of LEAVES) expect(out, `${h.name} ${l}`).toContain(`${l}.crt: OK`);
      const kc = await kubeadmLabSh(h.address, KUBECONFIGS_ACCEPTED(h.address), lab.dir);
      expect(kc, h.name).not.toMatch(/FAIL/);
      expect(kc, h.name).toMatch(/OK \/root\/\.kube\/config/);
      expect(kc, h.name).toMatch(/OK \/etc\/kubernetes\/admin\.conf/);
      // ~/.kube/config and the other copies are the renewed admin.conf; ops.conf kept its mode and owner.
      expect(await kubeadmLabSh(h.address, 'for f in config ops.conf edited.conf; do cmp /root/.kube/$f /etc/kubernetes/admin.conf && echo same; done; stat -c "%a %u:%g" /root/.kube/ops.conf', lab.dir)).toBe('same\nsame\nsame\n640 1000:1001\n');
    }
    // After the run, someone edits one copy on the first node: the rollback must leave it.
    await kubeadmLabSh(first, "printf '# edited by hand after the run\\n' >> /root/.kube/edited.conf", lab.dir);
    const edited = await kubeadmLabSh(first, 'sha256sum < /root/.kube/edited.conf', lab.dir);

    const again = await certroll(['plan', '-i', inv, PLAYBOOK], env);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(again.stdout).toMatch(/Status: nothing to do/);

    // The rollback plan shows the ~/.kube copies it puts back and the one it leaves, before anything is done, from the journal
    // and, without it (--from-backup, another journal home), from the backups beside the copies on the hosts.
    const kubeAfterRun = await kubeDir();
    const left = `${cp[0]!.name}: /root/.kube/edited.conf changed since run ${runId} replaced it`;
    const dry = await certroll(['rollback', '--dry-run', '--run', runId], env);
    const dryBackup = await certroll(['rollback', '--dry-run', '-i', inv, '--from-backup', `/etc/kubernetes-bak-${runId}`, '--limit', 'control-plane', PLAYBOOK], { CERTROLL_HOME: join(tmp, 'other-home') });
    for (const d of [dry, dryBackup]) {
      expect(d.code, d.stderr + d.stdout).toBe(0);
      expect(d.stdout).toMatch(/put back the ~\/\.kube copies of admin\.conf the run replaced/);
      expect(d.stdout).toContain(`put /root/.kube/config back from config.certroll-bak-${runId} (content, mode 0600, owner 0:0)`);
      expect(d.stdout).toContain(`put /root/.kube/ops.conf back from ops.conf.certroll-bak-${runId} (content, mode 0640, owner 1000:1001)`);
      expect(d.stdout).toContain(left);
    }
    expect(await kubeDir()).toEqual(kubeAfterRun);

    // rollback of that run: every file byte-identical to before, served certificates old again.
    const tRb = Date.now();
    const rb = await certroll(['rollback', '--yes', '--pause', '0', '--run', runId], env);
    expect(rb.code, rb.stderr + rb.stdout).toBe(0);
    expect(rb.stdout).toContain(left);
    // ~/.kube: config and ops.conf byte-identical to before the run with their mode and owner; edited.conf left as edited;
    // the backups the run took stay beside them.
    const kubeAfter = await kubeDir();
    const bak = `.certroll-bak-${runId}`;
    for (const h of cp) {
      const mine = (l: string) => !l.includes(bak) && !l.startsWith('/root/.kube/edited.conf ');
      expect(kubeAfter[h.name]!.filter(mine), h.name).toEqual(kubeBefore[h.name]!.filter(mine));
      expect(kubeAfter[h.name]!.filter((l) => l.includes(bak)).map((l) => l.split(' ')[0]).sort(), h.name).toEqual([`/root/.kube/config${bak}`, `/root/.kube/edited.conf${bak}`, `/root/.kube/ops.conf${bak}`].sort());
      const e = kubeAfter[h.name]!.find((l) => l.startsWith('/root/.kube/edited.conf '))!;
      if (h === cp[0]) expect(e).toContain(edited.split(' ')[0]!);
      else expect(e, h.name).toBe(kubeBefore[h.name]!.find((l) => l.startsWith('/root/.kube/edited.conf ')));
    }
    console.log(`kubeadm flow: rollback ${Date.now() - tRb} ms`);
    const strip = (s: Record<string, string>) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.replace(/ \d+ [\d.]+ /g, ' ')]));
    expect(await snapshot(false)).toEqual(strip(before));
    for (const s of await served()) expect(s.served, `${s.host}:${s.port}`).toBe(servedBefore.find((b) => b.host === s.host && b.port === s.port)!.served);
    // ~/.kube/config is the old admin.conf again, and the apiserver accepts every kubeconfig.
    for (const h of cp) expect(await kubeadmLabSh(h.address, KUBECONFIGS_ACCEPTED(h.address), lab.dir), h.name).not.toMatch(/FAIL/);
    console.log(`kubeadm flow: whole test ${Date.now() - t0} ms`);
  }, 240_000);
});
