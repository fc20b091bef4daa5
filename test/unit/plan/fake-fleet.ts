// Fixture builders for pure plan tests: an inventory from text, and fleet facts host by host (style.md #12).
import { parseInventory } from '../../../src/inventory/load.js';
import type { FleetFacts, HostFacts, EtcdFacts } from '../../../src/facts/types.js';
import type { Inventory } from '../../../src/inventory/types.js';
import { sha256 } from '../../../src/hash.js';

export function inventory(names: string[], opts: { flannel?: string[]; manager?: string[] } = {}): Inventory {
  const all = [...names, ...(opts.flannel ?? []), ...(opts.manager ?? [])];
  const text = [
    'vars: { serviceIp: 10.96.0.1 }',
    'ssh: { identityFile: /tmp/id, knownHostsFile: /tmp/kh }',
    'hosts:',
    ...all.map((n, i) => `  ${n}: { address: 10.9.0.${i + 1} }`),
    'groups:',
    `  master: [${names.join(', ')}]`,
    `  etcd: [${names.join(', ')}]`,
    `  flannel: [${(opts.flannel ?? []).join(', ')}]`,
    `  manager: [${(opts.manager ?? []).join(', ')}]`,
  ].join('\n');
  return parseInventory(text, 'fake.yaml');
}

export class FakeFleet {
  readonly facts: FleetFacts = { gatheredAt: '2026-11-23T00:00:00Z', hosts: {}, unreachable: [], etcd: null };
  host(name: string, pems: { ca: string; cert: string }, opts: { caKey?: boolean; availKiB?: number; lock?: HostFacts['lock'] } = {}): this {
    const file = (path: string, content: string, mode = 0o644) => ({ path, size: content.length, mode, uid: 0, gid: 0, mtime: 1, sha256: sha256(content) });
    const files = [file('etcd-ca.pem', pems.ca), file('etcd.pem', pems.cert), file('etcd-key.pem', 'k', 0o600), file('apiserver.pem', 'other')];
    if (opts.caKey) files.push(file('etcd-ca-key.pem', 'ck', 0o600));
    this.facts.hosts[name] = {
      host: name,
      hostname: name,
      certDir: { path: '/srv/kubernetes', exists: true, mode: 0o755, uid: 0, gid: 0, files },
      pems: { ca: pems.ca, cert: pems.cert },
      manifests: { inPlace: ['tos-etcd.manifest', 'tos-apiserver.manifest'], parked: [], parkedSha256: {}, markers: [] },
      disk: { availKiB: opts.availKiB ?? 1_000_000, certDirKiB: 40 },
      lock: opts.lock ?? null,
      backups: [],
    };
    return this;
  }
  unreachable(name: string): this {
    this.facts.unreachable.push({ host: name, kind: 'connect', message: `${name}: connection refused` });
    return this;
  }
  etcd(hosts: string[], leader: string, healthy = hosts): this {
    const e: EtcdFacts = {
      queriedFrom: hosts[0]!,
      members: hosts.map((h, i) => ({ id: String(i + 1), name: h, peerURLs: [], clientURLs: [] })),
      statuses: hosts.map((h, i) => ({ endpoint: h, memberId: String(i + 1), leaderId: String(hosts.indexOf(leader) + 1), raftIndex: 10, raftTerm: 2, version: '3.4.23' })),
      health: hosts.map((h) => ({ endpoint: h, healthy: healthy.includes(h) })),
      leaderHost: leader,
      memberOfHost: Object.fromEntries(hosts.map((h, i) => [h, String(i + 1)])),
    };
    this.facts.etcd = e;
    return this;
  }
}
