// check's default globs follow the inventory's directories (certDir, pkiDir, kubeletPkiDir, kubernetesDir) unless checkPaths is set.
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../../src/inventory/load.js';
import { defaultClusterVars } from '../../../src/inventory/types.js';

const inv = (vars: string, hostVars = '') =>
  parseInventory(`${vars}hosts:\n  cp-1: { address: 10.0.0.1${hostVars} }\n  cp-2: { address: 10.0.0.2 }\ngroups:\n  master: [cp-1, cp-2]\n`, 'inv.yaml', { home: '/home/u' });

describe('default check paths', () => {
  it('are the stock kubeadm/TOS/kubelet locations when nothing is set', () => {
    const i = inv('');
    expect(i.hosts[0]!.vars.checkPaths).toEqual(defaultClusterVars.checkPaths);
    expect(defaultClusterVars.checkPaths).toEqual(['/srv/kubernetes/*.pem', '/etc/kubernetes/pki/**/*.crt', '/var/lib/kubelet/pki/*.crt', '/var/lib/kubelet/pki/*.pem', '/etc/kubernetes/*.conf']);
    expect(i.hosts[0]!.vars).toMatchObject({ kubernetesDir: '/etc/kubernetes', pkiDir: '/etc/kubernetes/pki', kubeletPkiDir: '/var/lib/kubelet/pki' });
  });

  it('follow the directories set at inventory and host level', () => {
    const i = inv('vars:\n  kubernetesDir: /data/k8s\n  pkiDir: /data/k8s/certs\n', ', vars: { kubeletPkiDir: /opt/kubelet/pki }');
    expect(i.hosts[0]!.vars.checkPaths).toEqual(['/srv/kubernetes/*.pem', '/data/k8s/certs/**/*.crt', '/opt/kubelet/pki/*.crt', '/opt/kubelet/pki/*.pem', '/data/k8s/*.conf']);
    expect(i.hosts[1]!.vars.checkPaths).toEqual(['/srv/kubernetes/*.pem', '/data/k8s/certs/**/*.crt', '/var/lib/kubelet/pki/*.crt', '/var/lib/kubelet/pki/*.pem', '/data/k8s/*.conf']);
    expect(i.vars.checkPaths).toEqual(i.hosts[1]!.vars.checkPaths);
  });

  it('are exactly what the inventory says when it sets checkPaths', () => {
    const i = inv('vars:\n  pkiDir: /data/pki\n  checkPaths: [/x/*.pem]\n');
    expect(i.hosts[0]!.vars.checkPaths).toEqual(['/x/*.pem']);
  });

  it('reject a relative pkiDir with its line', () => {
    expect(() => inv('vars:\n  pkiDir: pki\n')).toThrow(/vars\.pkiDir: expected an absolute path, got relative path "pki" \(inv\.yaml:2/);
  });
});
