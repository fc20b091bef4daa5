// The kubeadm renewal end to end on the kubeadm lab, without the restart: `plan` writes nothing; `run` renews every leaf and
// kubeconfig client certificate on every control-plane node, each verifying with openssl against its CA there; kubeconfigs
// differ from their backup only in the two values; keys stay 0600; the journal holds no key; a second plan has nothing to do.
//
// One run per control-plane node, each with an inventory of that node alone: the lab's hosts share the machine's /etc (only
// /etc/kubernetes is their own), so the run lock and the backup, both beside /etc/kubernetes, would be one directory for
// all of them. A real node has its own /etc. The backups this file leaves in the machine's /etc are removed afterwards.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { dump, load } from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { certroll } from '../support/cli.js';
import { kubeadmLabSh, useKubeadmLab } from './kubeadm-lab-helpers.js';

const lab = useKubeadmLab({ resetAfter: true });
const tmp = mkdtempSync(join(tmpdir(), 'certroll-kbrenew-'));
const runIds: string[] = [];
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  for (const id of runIds) execFileSync('rm', ['-rf', '--', `/etc/kubernetes-bak-${id}`, `/etc/kubernetes-bak-${id}.partial`]);
});
const env = { CERTROLL_HOME: join(tmp, 'home') };

const LEAVES: Array<[string, string]> = [
  ['apiserver', 'ca'],
  ['apiserver-kubelet-client', 'ca'],
  ['apiserver-etcd-client', 'etcd/ca'],
  ['front-proxy-client', 'front-proxy-ca'],
  ['etcd/server', 'etcd/ca'],
  ['etcd/peer', 'etcd/ca'],
  ['etcd/healthcheck-client', 'etcd/ca'],
];
const CONFS = ['admin.conf', 'super-admin.conf', 'controller-manager.conf', 'scheduler.conf'];

function inputs(node: (typeof lab.hosts)[number]): { inventory: string; playbook: string } {
  const inventory = join(tmp, `inventory-${node.name}.yaml`);
  writeFileSync(
    inventory,
    [
      'vars: { certDir: /etc/kubernetes, manifestsDir: /etc/kubernetes/manifests, parkDir: /etc/kubernetes/certroll-parked, etcdClientPort: 2379 }',
      `ssh: { user: root, identityFile: ${lab.identityFile}, knownHostsFile: ${lab.knownHostsFile}, config: none }`,
      'hosts:',
      `  ${node.name}: { address: ${node.address}, vars: { probeAddress: ${node.address} } }`,
      'groups:',
      `  control-plane: [${node.name}]`,
      `  etcd: [${node.name}]`,
    ].join('\n'),
  );
  // The repository's playbook without the restart and the ~/.kube refresh: renewal only (a one-node inventory has a
  // one-member etcd, which the restart rightly refuses to stop; the whole flow is test/e2e-kubeadm/flow.test.ts).
  const playbook = join(tmp, 'renew.yaml');
  const doc = load(readFileSync('playbooks/kubeadm-renew.yaml', 'utf8')) as { steps: Array<{ type: string }> };
  doc.steps = doc.steps.filter((s) => s.type !== 'rolling-restart' && s.type !== 'refresh-kube-config');
  writeFileSync(playbook, dump(doc));
  return { inventory, playbook };
}

/** sha256, mode and mtime of every file under /etc/kubernetes and /var/lib/kubelet of every host. */
const snapshot = async () =>
  Object.fromEntries(
    await Promise.all(lab.hosts.map(async (h) => [h.name, await kubeadmLabSh(h.address, `find /etc/kubernetes /var/lib/kubelet -type f -printf '%p %m %T@ ' -exec sha256sum {} \\; | sort`, lab.dir)] as const)),
  );

describe('kubeadm renew-leaves + renew-kubeconfigs on the kubeadm lab', () => {
  it('plan writes nothing; run renews every leaf and kubeconfig, each verified by openssl on its node; a second plan has nothing to do', async () => {
    const first = inputs(lab.controlPlane[0]!);
    const before = await snapshot();
    const plan = await certroll(['plan', '-i', first.inventory, first.playbook], env);
    expect(plan.code, plan.stderr + plan.stdout).toBe(0);
    expect(plan.stdout).toMatch(/Status: ready/);
    expect(plan.stdout).toMatch(/renew apiserver\.crt by ca, apiserver-kubelet-client\.crt by ca, apiserver-etcd-client\.crt by etcd\/ca/);
    expect(plan.stdout).toMatch(/admin\.conf \(kubernetes-admin\) by ca/);
    expect(plan.stdout).not.toMatch(/PRIVATE KEY/);
    expect(await snapshot()).toEqual(before);

    for (const h of lab.controlPlane) {
      const { inventory, playbook } = inputs(h);
      const run = await certroll(['run', '--yes', '-i', inventory, playbook], env);
      expect(run.code, run.stderr + run.stdout).toBe(0);
      const runId = /Run (\S+) succeeded/.exec(run.stdout)![1]!;
      runIds.push(runId);
      const script = [
        'cd /etc/kubernetes/pki',
        ...LEAVES.map(([leaf, ca]) => `openssl verify -CAfile ${ca}.crt ${leaf}.crt && openssl x509 -in ${leaf}.crt -noout -enddate && stat -c '%a %n' ${leaf}.key`),
        'cd /etc/kubernetes',
        ...CONFS.map((c) => `if [ -f ${c} ]; then sed -n 's/^ *client-certificate-data: //p' ${c} | base64 -d > /tmp/${c}.crt && openssl verify -CAfile pki/ca.crt /tmp/${c}.crt; rm -f /tmp/${c}.crt; echo "diff ${c}: $(diff ${c} /etc/kubernetes-bak-${runId}/${c} | grep '^[<>]' | sed -E 's/^[<>] *([A-Za-z-]+):.*/\\1/' | sort | uniq -c | tr -s ' ' | tr '\\n' ';')"; fi`),
      ].join('\n');
      const out = await kubeadmLabSh(h.address, script, lab.dir);
      for (const [leaf] of LEAVES) expect(out, `${h.name} ${leaf}`).toContain(`${leaf}.crt: OK`);
      for (const c of CONFS.filter((c) => c !== 'super-admin.conf' || out.includes(`/tmp/${c}.crt: OK`))) expect(out, `${h.name} ${c}`).toContain(`/tmp/${c}.crt: OK`);
      // Each kubeconfig differs from its backup in exactly its two values (each line once old, once new).
      for (const c of ['admin.conf', 'controller-manager.conf', 'scheduler.conf']) expect(out, `${h.name} ${c}`).toMatch(new RegExp(`diff ${c}: +2 client-certificate-data; 2 client-key-data;\n`));
      const year = new Date(Date.now() + 365 * 86_400_000).getUTCFullYear();
      expect(out.match(new RegExp(`notAfter=.* ${year} GMT`, 'g'))?.length).toBe(LEAVES.length);
      expect(out.match(/^600 /gm)?.length).toBe(LEAVES.length);
      // The journal records sha256s, never a key.
      const journal = join(env.CERTROLL_HOME, 'runs', runId);
      for (const f of readdirSync(journal)) expect(readFileSync(join(journal, f), 'utf8'), f).not.toMatch(/PRIVATE KEY|LS0tLS1CRUdJTi[A-Za-z0-9+/]*UFJJVkFURSBLRVk/);
    }

    const again = await certroll(['plan', '-i', first.inventory, first.playbook], env);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(again.stdout).toMatch(/nothing to do|nothing to renew/i);
  }, 600_000);
});
