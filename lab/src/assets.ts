// The lab's programs and fixtures, real files under lab/assets/: bin/ holds what the lab installs (the namespace anchor, the PKI
// generator, the kubelet, apiserver, flanneld, docker and kubectl stand-ins); tos/ holds a TOS cluster's Manager files and database
// schema, which the tests share.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LabFlavour } from './layout.js';

/** lab/assets: one level up from this file, whether it runs as lab/src/*.ts (tests) or compiled as lab/dist/*.js. */
export const assetsDir = fileURLToPath(new URL('../assets/', import.meta.url));
/** The Manager's gencerts files (config.json, etcd-csr.json) and database schema as a TOS cluster has them. */
export const tosFixturesDir = join(assetsDir, 'tos');

/** Where a program goes: the lab's own bin dir (run by the lab on the real machine) or the hosts' /usr/local/bin. */
export type ProgramPlace = 'lab-bin' | 'usr-local-bin';

/** Every program of lab/assets/bin, the name it is installed under, and the labs that install it. */
export const PROGRAMS: ReadonlyArray<{ asset: string; place: ProgramPlace; name: string; flavours: readonly LabFlavour[] }> = [
  { asset: 'anchor.sh', place: 'lab-bin', name: 'anchor.sh', flavours: ['tos', 'kubeadm'] },
  { asset: 'gen-pki.sh', place: 'lab-bin', name: 'gen-pki.sh', flavours: ['tos'] },
  { asset: 'lab-kubelet.py', place: 'usr-local-bin', name: 'lab-kubelet', flavours: ['tos', 'kubeadm'] },
  { asset: 'lab-apiserver.py', place: 'usr-local-bin', name: 'lab-apiserver', flavours: ['tos'] },
  { asset: 'lab-flanneld.py', place: 'usr-local-bin', name: 'lab-flanneld', flavours: ['tos'] },
  { asset: 'lab-flannel-restart.sh', place: 'usr-local-bin', name: 'lab-flannel-restart', flavours: ['tos'] },
  { asset: 'docker.py', place: 'usr-local-bin', name: 'docker', flavours: ['tos'] },
  { asset: 'kubectl.sh', place: 'usr-local-bin', name: 'kubectl', flavours: ['tos'] },
  { asset: 'kube-apiserver.py', place: 'usr-local-bin', name: 'kube-apiserver', flavours: ['kubeadm'] },
  { asset: 'kube-component.py', place: 'usr-local-bin', name: 'kube-controller-manager', flavours: ['kubeadm'] },
  { asset: 'kube-component.py', place: 'usr-local-bin', name: 'kube-scheduler', flavours: ['kubeadm'] },
  { asset: 'crictl.py', place: 'usr-local-bin', name: 'crictl', flavours: ['kubeadm'] },
];

/** A text file of lab/assets (path relative to it). */
export function asset(path: string): string {
  return readFileSync(join(assetsDir, path), 'utf8');
}

/**
 * A program as installed: the asset with the lab's hosts dir filled in. The assets spell it "@HOSTS_DIR@" where the program
 * needs a quoted string (it becomes a JSON string, valid in sh double quotes and in Python) and @HOSTS_DIR@ in comments.
 */
export function programText(assetName: string, hostsDir: string): string {
  return asset(join('bin', assetName)).replaceAll('"@HOSTS_DIR@"', JSON.stringify(hostsDir)).replaceAll('@HOSTS_DIR@', hostsDir);
}
