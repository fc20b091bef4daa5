// Which hosts a playbook step targets (groups, all, first(group)), a host's template scope, and the etcd client endpoints (pure).
import type { Host, Inventory } from './types.js';

/** Every host that will be touched by the playbook's targets. */
export function resolveTargets(inv: Inventory, specs: string[]): string[] {
  const wanted = new Set<string>();
  for (const spec of specs) {
    const first = /^first\((.+)\)$/.exec(spec);
    if (spec === 'all') inv.hosts.forEach((h) => wanted.add(h.name));
    else if (first) {
      const g = inv.groups[first[1]!];
      if (g?.[0]) wanted.add(g[0]);
    } else (inv.groups[spec] ?? []).forEach((h) => wanted.add(h));
  }
  return inv.hosts.map((h) => h.name).filter((n) => wanted.has(n));
}

/** A host's names for templates ({{ host.name }}, {{ files.cert }}, {{ vars.certDir }}, {{ etcd.endpoints }}…). */
export type HostScope = {
  vars: Host['vars'];
  host: { name: string; hostname: string; address: string; ip: string };
  files: Record<'ca' | 'caKey' | 'cert' | 'key', string>;
  etcd: { endpoints: string };
};

/** The template scope of one host: its variables, names and addresses, the playbook's file paths in its cert dir, the etcd endpoints. */
export function hostScope(inv: Inventory, playbook: { files: Record<'ca' | 'caKey' | 'cert' | 'key', string> }, name: string): HostScope {
  const h = inv.hosts.find((x) => x.name === name)!;
  const d = h.vars.certDir;
  return {
    vars: h.vars,
    host: { name: h.name, hostname: h.hostname, address: h.address, ip: h.ip ?? h.address },
    files: { ca: `${d}/${playbook.files.ca}`, caKey: `${d}/${playbook.files.caKey}`, cert: `${d}/${playbook.files.cert}`, key: `${d}/${playbook.files.key}` },
    etcd: { endpoints: endpointsOf(inv) },
  };
}

export function endpointOf(h: Host): string {
  const a = h.ip ?? h.address;
  return `https://${a.includes(':') ? `[${a}]` : a}:${h.vars.etcdClientPort}`;
}

export function etcdHosts(inv: Inventory): Host[] {
  const names = inv.groups.etcd ?? [];
  return names.map((n) => inv.hosts.find((h) => h.name === n)!).filter(Boolean);
}

export function endpointsOf(inv: Inventory): string {
  return etcdHosts(inv).map(endpointOf).join(',');
}

