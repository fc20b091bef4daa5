// The rollback planner and a park dir inside the cert dir (kubeadm: /etc/kubernetes/certroll-parked): a manifest the run
// parked there, with certroll's marker beside it, is the run's (restored away), not a foreign file that blocks the rollback.
import { describe, expect, it } from 'vitest';
import { parkedByCertroll } from '../../../src/rollback/plan.js';

describe('parkedByCertroll', () => {
  const current = new Set(['certroll-parked/etcd.yaml', 'certroll-parked/etcd.yaml.certroll-park', 'certroll-parked/notes.txt', 'manifests/kube-apiserver.yaml']);
  it('a marked file in a park dir inside the cert dir', () => {
    expect(parkedByCertroll('certroll-parked/etcd.yaml', '/etc/kubernetes', '/etc/kubernetes/certroll-parked', current)).toBe(true);
    expect(parkedByCertroll('certroll-parked/etcd.yaml', '/etc/kubernetes/', '/etc/kubernetes/certroll-parked/', current)).toBe(true);
  });
  it('not an unmarked file there, not a file elsewhere, not with the park dir outside the cert dir', () => {
    expect(parkedByCertroll('certroll-parked/notes.txt', '/etc/kubernetes', '/etc/kubernetes/certroll-parked', current)).toBe(false);
    expect(parkedByCertroll('manifests/kube-apiserver.yaml', '/etc/kubernetes', '/etc/kubernetes/certroll-parked', current)).toBe(false);
    expect(parkedByCertroll('certroll-parked/etcd.yaml', '/srv/kubernetes', '/opt/kubernetes', current)).toBe(false);
    expect(parkedByCertroll('certroll-parked/etcd.yaml', '/etc/kubernetes', '/etc/kubernetes', current)).toBe(false);
  });
});
