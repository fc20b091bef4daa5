// `check --format kubeadm`: `kubeadm certs check-expiration`'s two tables for each selected control-plane node, then what
// kubeadm's tables cannot say (rows it could not read, other hosts, hosts not read) and the check's summary line.
import type { CheckReport } from './model.js';
import { renderKubeadmTables } from './kubeadm.js';
import { TEXT as CHECK_TEXT } from './render-text.js';

/** The sentences of this view, in one place. */
export const KUBEADM_TEXT = {
  heading: (host: string, address?: string) => `== ${host}${address ? ` (${address})` : ''} ==`,
  hostFailed: (message: string) => `error: not read: ${message}`,
  externalEtcd: 'etcd: external (not in group etcd): kubeadm lists no etcd rows here',
  unreadableRow: (host: string, name: string, problem: string) => `note: ${host}: !ERROR! ${name}: ${problem} (kubeadm itself stops with an error here)`,
  notControlPlane: (hosts: string) => `note: not in group control-plane, so kubeadm lists nothing there: ${hosts} (the table of \`certroll check\` shows their kubelet certificates)`,
  noControlPlane: 'No host of group control-plane selected: kubeadm lists certificates on control-plane nodes only.',
};

export function renderKubeadm(r: CheckReport): string {
  const views = r.kubeadm ?? [];
  if (!views.length) return KUBEADM_TEXT.noControlPlane;
  const address = new Map(r.hosts.map((h) => [h.name, h.address]));
  const out: string[] = [];
  const notes: string[] = [];
  for (const v of views) {
    if (out.length) out.push('');
    out.push(KUBEADM_TEXT.heading(v.host, address.get(v.host)));
    if (v.error !== undefined) {
      out.push(KUBEADM_TEXT.hostFailed(v.error));
      continue;
    }
    if (v.etcd === 'external') out.push(KUBEADM_TEXT.externalEtcd);
    out.push(renderKubeadmTables(v));
    for (const e of [...v.certificates, ...v.certificateAuthorities]) if (e.problem) notes.push(KUBEADM_TEXT.unreadableRow(v.host, e.name, e.problem));
  }
  const others = r.hosts.filter((h) => !views.some((v) => v.host === h.name)).map((h) => h.name);
  if (others.length) notes.push(KUBEADM_TEXT.notControlPlane(others.join(', ')));
  for (const h of r.hosts) if (h.status === 'failed' && others.includes(h.name)) notes.push(CHECK_TEXT.hostFailed(h.name, h.error?.message ?? 'failed'));
  if (notes.length) out.push('', ...notes);
  out.push('', CHECK_TEXT.summary(r));
  return out.join('\n');
}
