// What the hosts show of a renewal that did not finish (a run killed with no journal left, or from another machine):
// a pure function of the facts, so that "nothing to do" means the whole target state holds, not only fresh files.
import type { Inventory } from '../inventory/types.js';
import type { ManagerTemplatesStep, Playbook, RollingRestartStep } from '../playbook/types.js';
import type { FleetFacts, HostFacts } from '../facts/types.js';
import { rewriteExpiry } from '../manager/config-json.js';
import { rowValueOf } from '../manager/sql.js';
import { sha256 } from '../hash.js';
import { describeServedMismatch, servedMismatches } from '../facts/served.js';
import { endpointOf, etcdHosts } from '../inventory/targets.js';

/** A node a certroll run stopped and left stopped: every manifest missing from its place is parked with a readable marker. */
export interface ParkedNode {
  host: string;
  runIds: string[];
  /** The parked manifests (full paths in the park dir). */
  files: string[];
}

/**
 * The manifests of `spec` that are not in place on `f`'s host, and whether certroll parked them all (a marker beside each).
 * null when every manifest is in place.
 */
export function parkedState(f: HostFacts, manifests: string[], parkDir: string): { missing: string[]; byCertroll: ParkedNode | null; unmarked: string[] } | null {
  const missing = manifests.filter((m) => !f.manifests.inPlace.includes(m));
  if (!missing.length) return null;
  const marked = new Map(f.manifests.markers.filter((m) => m.readable).map((m) => [m.manifest, m]));
  const unmarked = missing.filter((m) => !(f.manifests.parked.includes(m) && marked.has(m)));
  const runIds = [...new Set(missing.map((m) => marked.get(m)).filter((m) => m !== undefined).map((m) => (m as { runId: string }).runId))];
  return { missing, unmarked, byCertroll: unmarked.length ? null : { host: f.host, runIds, files: missing.map((m) => `${parkDir}/${m}`) } };
}

/** Every etcd node certroll left parked, by the playbook's rolling restart. */
export function parkedNodes(inv: Inventory, playbook: Playbook, facts: FleetFacts, hostsOf: (targets: string[]) => string[]): ParkedNode[] {
  const spec = playbook.steps.find((s) => s.type === 'rolling-restart') as RollingRestartStep | undefined;
  if (!spec) return [];
  const out: ParkedNode[] = [];
  for (const h of hostsOf(spec.targets)) {
    const f = facts.hosts[h];
    const p = f && parkedState(f, spec.manifests, inv.hosts.find((x) => x.name === h)!.vars.parkDir);
    if (p?.byCertroll) out.push(p.byCertroll);
  }
  return out;
}

/**
 * Why the fleet is not in the renewal's finished state although its files may be fresh: parked nodes, a stale lock being
 * broken, copies that differ between hosts, a Manager that does not hold the first master's CA and certificate.
 * Empty when everything the facts can show is finished.
 */
export function unfinishedReasons(inv: Inventory, playbook: Playbook, facts: FleetFacts, hostsOf: (targets: string[]) => string[], opts: { breakingLock: boolean }): string[] {
  const reasons: string[] = [];
  for (const p of parkedNodes(inv, playbook, facts, hostsOf)) reasons.push(`${p.host}: stopped by run ${p.runIds.join(', ')} (${p.files.join(', ')} parked)`);
  if (opts.breakingLock) {
    const held = Object.entries(facts.hosts).filter(([, f]) => f.lock);
    if (held.length) reasons.push(`run ${[...new Set(held.map(([, f]) => f.lock!.runId))].join(', ')} died holding the lock on ${held.map(([h]) => h).join(', ')}: it did not finish`);
  }
  const fm = facts.hosts[inv.firstMaster];
  if (!fm) return reasons;
  const distribute = playbook.steps.find((s) => s.type === 'distribute');
  const targets = distribute && 'targets' in distribute ? hostsOf(distribute.targets) : [];
  for (const role of ['ca', 'cert', 'key'] as const) {
    const name = playbook.files[role];
    const want = fm.certDir.files.find((f) => f.path === name)?.sha256;
    if (!want) continue;
    // A host without the file is a layout the next renewal completes, not a renewal left half done.
    const differ = targets.filter((h) => {
      const sha = facts.hosts[h]?.certDir.files.find((f) => f.path === name)?.sha256;
      return sha !== undefined && sha !== want;
    });
    if (differ.length) reasons.push(`${name} on ${differ.join(', ')} differs from ${inv.firstMaster}'s`);
  }
  const members = etcdHosts(inv).map((h) => ({ host: h.name, endpoint: endpointOf(h) }));
  for (const s of servedMismatches(members, facts)) reasons.push(describeServedMismatch(s, playbook.files.cert));
  const m = facts.manager;
  const caPem = fm.pems.ca;
  const templates = playbook.steps.find((s) => s.type === 'manager-templates') as ManagerTemplatesStep | undefined;
  if (m && caPem && templates) {
    for (const [h, t] of Object.entries(m.templates)) {
      if (t.ca?.sha256 && t.ca.sha256 !== sha256(caPem)) reasons.push(`${h}: the Manager's template CA ${t.ca.path} is not ${inv.firstMaster}'s ${playbook.files.ca}`);
      if (t.config?.content && rewriteExpiry(t.config.content, templates.expiryFrom, templates.expiry).changed > 0) reasons.push(`${h}: ${t.config.path} still has "expiry": "${templates.expiryFrom}"`);
    }
  }
  if (m?.db?.ok) {
    for (const role of ['ca', 'cert'] as const) {
      const pem = fm.pems[role];
      const row = m.db.rows[playbook.files[role]];
      if (pem && row && row.sha256 !== sha256(rowValueOf(pem))) reasons.push(`${m.db.target}: the ${m.db.table} row ${playbook.files[role]} is not ${inv.firstMaster}'s file`);
    }
  }
  return reasons;
}
