// Read-only facts for a rollback: per host the backup (manifest check, metadata, actual files) and the cert dir now; etcd as seen now.
import type { Fleet } from '../ssh/fleet.js';
import type { Host, Inventory } from '../inventory/types.js';
import type { Playbook } from '../playbook/types.js';
import type { Remote } from '../ssh/remote.js';
import type { EtcdFacts, FileFact } from '../facts/types.js';
import { hostFactsScript, parseHostFacts, type HostFactsQuery } from '../facts/host-facts.js';
import { backupDirOf } from '../host-paths.js';
import { BACKUP_META, BACKUP_SUMS } from '../host-paths.js';
import { inspectBackup, type BackupMeta } from '../steps/restore.js';
import { queryCluster } from '../facts/etcd-cluster.js';
import { hostScope } from '../inventory/targets.js';
import { inspectTemplatesBackup } from '../manager/templates.js';
import { managerTemplatesBackupDir } from '../host-paths.js';
import type { BeforeState, ExpectedFile, RollbackHostFacts } from './types.js';

const SPLIT = '@@certroll-rollback:split';

const expected = (f: Pick<FileFact, 'path' | 'sha256' | 'mode' | 'uid' | 'gid' | 'size'>): ExpectedFile => ({ path: f.path, sha256: f.sha256, mode: f.mode, uid: f.uid, gid: f.gid, size: f.size });

export function metaToBefore(meta: BackupMeta): BeforeState {
  return { files: meta.files.map(expected), dir: meta.dir };
}

/** Read one host: the backup's manifest check and metadata (inspectBackup), then the cert dir and the backup dir listed with sha256, mode and owner. */
export async function readRollbackHost(r: Remote, host: Host, playbook: Playbook, runId: string, opts: { managerTemplates?: boolean } = {}): Promise<RollbackHostFacts> {
  const certDir = host.vars.certDir;
  const backupDir = backupDirOf(certDir, runId);
  const b = await inspectBackup(r, backupDir);
  const q = (dir: string, pems: boolean): HostFactsQuery => ({
    certDir: dir,
    manifestsDir: host.vars.manifestsDir,
    parkDir: host.vars.parkDir,
    pemFiles: pems ? { ca: playbook.files.ca } : {},
  });
  const out = await r.sh(`(\n${hostFactsScript(q(certDir, false))}\n)\necho '${SPLIT}'\n(\n${hostFactsScript(q(backupDir, false))}\n)`, { timeoutMs: host.ssh.commandTimeout * 1000 });
  const [curText = '', bakText = ''] = out.stdout.split(`${SPLIT}\n`);
  const cur = parseHostFacts(host.name, q(certDir, false), curText);
  const bak = parseHostFacts(host.name, q(backupDir, false), bakText);
  const exists = !(b.problem ?? '').endsWith('does not exist');
  let managerTemplates: RollbackHostFacts['managerTemplates'];
  if (opts.managerTemplates) {
    const dir = managerTemplatesBackupDir(certDir, runId);
    const t = await inspectTemplatesBackup(r, dir);
    managerTemplates = { dir, found: t !== null, verified: Boolean(t?.verified), ...(t?.problem ? { problem: t.problem } : {}), files: t?.meta?.files.length ?? 0 };
  }
  return {
    ...(managerTemplates ? { managerTemplates } : {}),
    host: host.name,
    certDir,
    backupDir,
    backup: {
      exists,
      verified: b.verified,
      ...(b.problem ? { problem: b.problem } : {}),
      ...(b.meta ? { metaRunId: b.meta.runId, createdAt: b.meta.createdAt, meta: metaToBefore(b.meta) } : {}),
      files: bak.certDir.files.filter((f) => f.path !== BACKUP_META && f.path !== BACKUP_SUMS).map(expected),
    },
    current: { exists: cur.certDir.exists, files: cur.certDir.files.map(expected), dir: { mode: cur.certDir.mode, uid: cur.certDir.uid, gid: cur.certDir.gid } },
    lock: cur.lock,
    manifests: cur.manifests,
  };
}

/** Read every connected host (at most --forks at a time) and query etcd from the first reachable etcd host. */
export async function gatherRollbackFacts(
  fleet: Fleet,
  inv: Inventory,
  playbook: Playbook,
  runId: string,
  templateHosts: readonly string[] = [],
): Promise<{ facts: Record<string, RollbackHostFacts>; unreachable: Array<{ host: string; message: string }>; etcd: EtcdFacts | null }> {
  const facts: Record<string, RollbackHostFacts> = {};
  const unreachable = [...fleet.errors].map(([host, e]) => ({ host, message: e.shortMessage }));
  const outcomes = await fleet.run((r) => readRollbackHost(r, inv.hosts.find((h) => h.name === r.host)!, playbook, runId, { managerTemplates: templateHosts.includes(r.host) }));
  for (const o of outcomes) {
    if (o.ok) facts[o.host] = o.value;
    else unreachable.push({ host: o.host, message: o.error.shortMessage });
  }
  const etcdNames = inv.groups.etcd ?? [];
  const from = etcdNames.find((n) => fleet.remotes.has(n));
  let etcd: EtcdFacts | null = null;
  if (from) {
    const ctx = { inventory: inv, playbook, remote: (n: string) => fleet.remotes.get(n)!, scope: (n: string) => hostScope(inv, playbook, n) };
    try {
      etcd = await queryCluster(ctx, from);
    } catch (e) {
      etcd = { queriedFrom: from, members: [], statuses: [], health: [], memberOfHost: {}, error: (e as Error).message };
    }
  }
  return { facts, unreachable, etcd };
}

/** The cert dir of a host now, for the final check (one round trip). */
export async function readCertDir(r: Remote, host: Host): Promise<{ exists: boolean; files: ExpectedFile[]; dir: BeforeState['dir'] }> {
  const q: HostFactsQuery = { certDir: host.vars.certDir, manifestsDir: host.vars.manifestsDir, parkDir: host.vars.parkDir, pemFiles: {} };
  const out = await r.sh(hostFactsScript(q), { timeoutMs: host.ssh.commandTimeout * 1000 });
  const f = parseHostFacts(host.name, q, out.stdout);
  return { exists: f.certDir.exists, files: f.certDir.files.map(expected), dir: { mode: f.certDir.mode, uid: f.certDir.uid, gid: f.certDir.gid } };
}
