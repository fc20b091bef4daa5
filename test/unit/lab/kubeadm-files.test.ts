// The kubeadm lab's pure parts: its options, its hosts, the inventory it writes (the committed inventories/lab-kubeadm.yaml
// is exactly what `up --flavour kubeadm` writes), and manifests that carry kubeadm's flags with the host's own address.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kubeadmApiserverManifest, kubeadmEtcdManifest, kubeadmInventoryYaml, kubeletConfRotated } from '../../../lab/src/kubeadm-files.js';
import { LabLayout, resolveOptions } from '../../../lab/src/layout.js';

const repo = join(__dirname, '../../..');
const layout = new LabLayout(resolveOptions({ flavour: 'kubeadm', sshPort: 22 }));

describe('the kubeadm lab layout', () => {
  it('has its own dir, subnet and four hosts: three control-plane nodes with stacked etcd and a worker', () => {
    expect(layout.dir).toBe('/var/lib/certroll-lab-kubeadm');
    expect(layout.hosts()).toEqual([
      { name: 'kadm-lab-1', address: '127.21.0.11', roles: ['control-plane', 'etcd'] },
      { name: 'kadm-lab-2', address: '127.21.0.12', roles: ['control-plane', 'etcd'] },
      { name: 'kadm-lab-3', address: '127.21.0.13', roles: ['control-plane', 'etcd'] },
      { name: 'kadm-lab-4', address: '127.21.0.21', roles: ['worker'] },
    ]);
    expect(layout.hostPath(layout.hosts()[0]!, '/etc/kubernetes/pki/ca.crt')).toBe('/var/lib/certroll-lab-kubeadm/hosts/kadm-lab-1/fs/etc-kubernetes/pki/ca.crt');
    expect(layout.hostPath(layout.hosts()[0]!, '/var/lib/kubelet/pki/kubelet.crt')).toBe('/var/lib/certroll-lab-kubeadm/hosts/kadm-lab-1/fs/var-lib-kubelet/pki/kubelet.crt');
  });

  it('checks its options: four names, no extra hosts, a dir not under a path the hosts mount over', () => {
    expect(resolveOptions({ flavour: 'kubeadm', namePrefix: 'k' }).names).toEqual(['k-1', 'k-2', 'k-3', 'k-4']);
    expect(() => resolveOptions({ flavour: 'kubeadm', names: ['a', 'b', 'c', 'd', 'e'] })).toThrow(/expected 4 names \(3 control-plane, 1 worker\)/);
    expect(() => resolveOptions({ flavour: 'kubeadm', extra: 3 })).toThrow(/--extra: the kubeadm lab has no extra hosts/);
    expect(() => resolveOptions({ flavour: 'kubeadm', dir: '/etc/kubernetes/lab' })).toThrow(/must not be under \/etc\/kubernetes/);
    // The TOS lab keeps its defaults.
    expect(resolveOptions({}).names).toHaveLength(5);
    expect(resolveOptions({}).subnet).toBe('127.20');
  });

  it('writes the inventory committed as inventories/lab-kubeadm.yaml', () => {
    const text = kubeadmInventoryYaml(layout, layout.hosts());
    expect(readFileSync(join(repo, 'inventories/lab-kubeadm.yaml'), 'utf8')).toBe(text);
    expect(text).toContain('  control-plane: [kadm-lab-1, kadm-lab-2, kadm-lab-3]\n  etcd: [kadm-lab-1, kadm-lab-2, kadm-lab-3]\n  workers: [kadm-lab-4]\n');
    expect(text).toContain('  kadm-lab-2: { address: 127.21.0.12, vars: { probeAddress: 127.21.0.12 } }');
    expect(text).toContain('  config: none');
  });
});

describe('the kubeadm lab manifests and kubeconfigs', () => {
  const [h1, h2] = layout.hosts();
  const etcd = layout.hosts().filter((h) => h.roles.includes('etcd'));

  it('etcd.yaml: kubeadm\'s flags with the host\'s address where kubeadm says 127.0.0.1, every member in --initial-cluster', () => {
    const m = kubeadmEtcdManifest(h2!, etcd);
    expect(m).toContain('  - command:\n    - etcd\n    - --advertise-client-urls=https://127.21.0.12:2379\n');
    expect(m).toContain('    - --listen-client-urls=https://127.21.0.12:2379\n');
    expect(m).toContain('    - --initial-cluster=kadm-lab-1=https://127.21.0.11:2380,kadm-lab-2=https://127.21.0.12:2380,kadm-lab-3=https://127.21.0.13:2380\n');
    expect(m).toContain('    - --peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt\n');
    expect(m).not.toContain('127.0.0.1');
    expect(m).not.toContain('terminationGracePeriodSeconds');
  });

  it('kube-apiserver.yaml: the real flags, plus --bind-address and the local etcd member', () => {
    const m = kubeadmApiserverManifest(h1!);
    for (const f of ['--client-ca-file=/etc/kubernetes/pki/ca.crt', '--etcd-servers=https://127.21.0.11:2379', '--tls-cert-file=/etc/kubernetes/pki/apiserver.crt',
      '--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt', '--bind-address=127.21.0.11', '--secure-port=6443']) {
      expect(m).toContain(`    - ${f}\n`);
    }
    expect(m.indexOf('  name: kube-apiserver\n')).toBeLessThan(m.indexOf('spec:'));
  });

  it('a rotated kubelet.conf names kubelet-client-current.pem for both certificate and key', () => {
    const c = kubeletConfRotated({ server: 'https://127.21.0.11:6443', caPem: 'PEM' });
    expect(c).toContain('    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n');
    expect(c).toContain(`    certificate-authority-data: ${Buffer.from('PEM').toString('base64')}\n`);
  });
});
