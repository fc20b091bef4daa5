// The status verdict: from host facts, backups and the local journal, the fleet's state and the one command to run next.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildStatus, type StatusInput } from '../../../src/status/verdict.js';
import { renderStatus } from '../../../src/status/render.js';
import { palette } from '../../../src/render/text.js';
import type { FleetFacts, HostFacts, LockInfo, ParkMarker } from '../../../src/facts/types.js';
import type { HostBackups } from '../../../src/rollback/backups.js';
import type { ListedRun } from '../../../src/journal/journal.js';

const dir = mkdtempSync(join(tmpdir(), 'certroll-status-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** Real certificates made with openssl: the old CA (expiring) and the renewed one (same key), and two leaves. */
const pem: Record<'oldCa' | 'newCa' | 'oldLeaf' | 'newLeaf', string> = { oldCa: '', newCa: '', oldLeaf: '', newLeaf: '' };
beforeAll(() => {
  const run = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  run('genrsa', '-out', 'ca.key', '2048');
  run('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=etcd-ca', '-days', '20', '-out', 'old-ca.pem');
  run('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=etcd-ca', '-days', '36500', '-out', 'new-ca.pem');
  run('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=etcd', '-days', '19', '-out', 'old-leaf.pem');
  run('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=etcd', '-days', '36000', '-out', 'new-leaf.pem');
  for (const [k, f] of [['oldCa', 'old-ca.pem'], ['newCa', 'new-ca.pem'], ['oldLeaf', 'old-leaf.pem'], ['newLeaf', 'new-leaf.pem']] as const) pem[k] = readFileSync(join(dir, f), 'utf8');
});

const HOSTS = ['n1', 'n2', 'n3', 'm1'];
const RUN = '20261202T093000Z-abc123';
const NOW = new Date('2026-12-02T10:00:00Z');

/** A fleet where every host holds the given set; each test changes what it is about. */
class Fleet {
  facts: FleetFacts = { gatheredAt: NOW.toISOString(), hosts: {}, unreachable: [], etcd: null };
  backups: HostBackups[] = [];
  runs: ListedRun[] = [];
  constructor(set: 'old' | 'new' = 'old') {
    for (const h of HOSTS) this.host(h, set);
    this.etcd(['n1', 'n2', 'n3']);
  }
  host(name: string, set: 'old' | 'new'): this {
    const f: HostFacts = {
      host: name,
      hostname: name,
      certDir: { path: '/srv/kubernetes', exists: true, files: [] },
      pems: { ca: set === 'old' ? pem.oldCa : pem.newCa, cert: set === 'old' ? pem.oldLeaf : pem.newLeaf },
      manifests: { inPlace: ['tos-etcd.manifest', 'tos-apiserver.manifest'], parked: [], parkedSha256: {}, markers: [] },
      disk: { availKiB: 1e6, certDirKiB: 40 },
      lock: null,
      backups: [],
    };
    this.facts.hosts[name] = f;
    return this;
  }
  lock(hosts: string[], l: Partial<LockInfo> = {}): this {
    for (const h of hosts) this.facts.hosts[h]!.lock = { runId: RUN, startedAt: '2026-12-02T09:30:00Z', controlHost: 'ops-1', user: 'root', pid: 4242, step: 'Restart etcd', ...l };
    return this;
  }
  park(host: string, manifest: string, marker?: Partial<ParkMarker> | 'unreadable'): this {
    const m = this.facts.hosts[host]!.manifests;
    m.inPlace = m.inPlace.filter((x) => x !== manifest);
    m.parked.push(manifest);
    m.parkedSha256[manifest] = 'a'.repeat(64);
    if (marker === 'unreadable') m.markers.push({ file: `${manifest}.certroll-park`, readable: false, manifest, error: 'not valid JSON' });
    else if (marker)
      m.markers.push({ file: `${manifest}.certroll-park`, readable: true, runId: RUN, host, manifest, from: `/opt/kubernetes/manifests-multi/${manifest}`, to: `/opt/kubernetes/${manifest}`, sha256: 'a'.repeat(64), parkedAt: '2026-12-02T09:31:00Z', ...marker } as ParkMarker);
    return this;
  }
  etcd(healthy: string[], total = ['n1', 'n2', 'n3']): this {
    this.facts.etcd = {
      queriedFrom: 'n1',
      members: total.map((h, i) => ({ id: String(i), name: h, peerURLs: [], clientURLs: [`https://${h}:4001`] })),
      statuses: [],
      health: total.map((h) => ({ endpoint: `https://${h}:4001`, healthy: healthy.includes(h), ...(healthy.includes(h) ? {} : { error: 'connection refused' }) })),
      leaderHost: 'n1',
      memberOfHost: {},
    };
    return this;
  }
  journal(state: string, extra: Partial<ListedRun> = {}): this {
    this.runs.push({ runId: RUN, state: state as ListedRun['state'], inventory: '/inv/prod.yaml', playbook: '/pb.yaml', startedAt: '2026-12-02T09:30:00Z', dir: `/home/u/.local/state/certroll/runs/${RUN}`, ...extra });
    return this;
  }
  backup(runId: string, verified = true, hosts = HOSTS): this {
    for (const h of hosts) {
      let hb = this.backups.find((b) => b.host === h);
      if (!hb) this.backups.push((hb = { host: h, certDir: '/srv/kubernetes', backups: [] }));
      hb.backups.push({ host: h, dir: `/srv/kubernetes-bak-${runId}`, runId, createdAt: '2026-12-02T09:30:05Z', sizeKiB: 40, certroll: true, verified, ...(verified ? {} : { problem: 'does not match its checksum' }) });
    }
    return this;
  }
  status(over: Partial<StatusInput> = {}) {
    return buildStatus({
      inventoryArg: 'inventories/prod.yaml',
      playbookArg: 'playbooks/tos-etcd-renew.yaml',
      inventoryFile: '/inv/prod.yaml',
      hosts: HOSTS.map((name) => ({ name, certDir: '/srv/kubernetes', manifestsDir: '/opt/kubernetes/manifests-multi', parkDir: '/opt/kubernetes' })),
      firstMaster: 'n1',
      files: { ca: 'etcd-ca.pem', cert: 'etcd.pem' },
      facts: this.facts,
      backups: this.backups,
      backupFailures: [],
      localRuns: this.runs,
      now: NOW,
      thisMachine: 'ops-1',
      pidAlive: () => false,
      ...over,
    });
  }
}

describe('status verdict', () => {
  it('a uniform, healthy, unlocked fleet: nothing to do, exit 0', () => {
    const s = new Fleet('new').backup('20261101T000000Z-000001').status();
    expect(s.state).toBe('clean');
    expect(s.exitCode).toBe(0);
    expect(s.next.command).toBeUndefined();
    expect(s.next.why).toMatch(/^nothing to do/);
    expect(s.findings).toEqual([]);
    expect(s.schema).toBe('certroll.status/v1');
  });

  it('a run killed during the restart, journal here: names the lock (machine, user, pid, age, step) and the parked files, and says resume', () => {
    const s = new Fleet('new').lock(HOSTS).park('n2', 'tos-etcd.manifest', {}).park('n2', 'tos-apiserver.manifest', {}).etcd(['n1', 'n3']).journal('running').status();
    expect(s.exitCode).toBe(1);
    expect(s.locks).toEqual([
      expect.objectContaining({ runId: RUN, kind: 'run', controlHost: 'ops-1', user: 'root', pid: 4242, ageSeconds: 1800, step: 'Restart etcd', hosts: HOSTS, journalHere: true, alive: false }),
    ]);
    expect(s.parked.map((p) => [p.host, p.path, p.home, p.marker?.runId])).toEqual([
      ['n2', '/opt/kubernetes/tos-etcd.manifest', '/opt/kubernetes/manifests-multi/tos-etcd.manifest', RUN],
      ['n2', '/opt/kubernetes/tos-apiserver.manifest', '/opt/kubernetes/manifests-multi/tos-apiserver.manifest', RUN],
    ]);
    expect(s.next.command).toBe(`certroll run --resume ${RUN}`);
    expect(s.next.why).toMatch(/process 4242 is gone.*puts the parked member back/);
    expect(s.next.alternative).toBe(`certroll rollback -i inventories/prod.yaml --run ${RUN}`);
    const text = renderStatus(s, palette(false));
    expect(text).toContain('Lock        run 20261202T093000Z-abc123 (machine ops-1, user root, pid 4242, 30 min, step "Restart etcd") — process gone');
    expect(text).toContain('Parked      n2: /opt/kubernetes/tos-etcd.manifest (belongs in /opt/kubernetes/manifests-multi/tos-etcd.manifest; marker of run');
    expect(text).toContain(`Next: certroll run --resume ${RUN}`);
    expect(text).toContain('etcd        2/3 healthy');
  });

  it('the same with the journal lost (another admin machine): run with --break-lock', () => {
    const s = new Fleet('new').lock(HOSTS, { controlHost: 'laptop-7' }).park('n2', 'tos-etcd.manifest', {}).status();
    expect(s.locks[0]!.journalHere).toBe(false);
    expect(s.locks[0]!.alive).toBeUndefined(); // another machine: its pid cannot be checked from here
    expect(s.next.command).toBe('certroll run -i inventories/prod.yaml playbooks/tos-etcd-renew.yaml --break-lock');
    expect(s.next.why).toMatch(/from laptop-7; make sure it is not still running there/);
  });

  it('a run still going on this machine: wait, no command', () => {
    const s = new Fleet('new').lock(HOSTS).journal('running').status({ pidAlive: (p) => p === 4242 });
    expect(s.locks[0]!.alive).toBe(true);
    expect(s.next.command).toBeUndefined();
    expect(s.next.why).toMatch(/still running on this machine \(pid 4242, step Restart etcd\)/);
    expect(s.exitCode).toBe(1);
  });

  it('a manifest parked by hand (no marker) is named, with the mv that puts it back; certroll is not offered', () => {
    const s = new Fleet('new').lock(HOSTS).journal('running').park('n3', 'tos-etcd.manifest').status();
    expect(s.parked[0]).toMatchObject({ host: 'n3', path: '/opt/kubernetes/tos-etcd.manifest' });
    expect(s.parked[0]!.marker).toBeUndefined();
    expect(s.next.command).toBeUndefined();
    expect(s.next.manual).toEqual(['on n3: mv -- /opt/kubernetes/tos-etcd.manifest /opt/kubernetes/manifests-multi/tos-etcd.manifest']);
    expect(s.findings.join('\n')).toMatch(/n3: tos-etcd.manifest parked at \/opt\/kubernetes\/tos-etcd.manifest \(member down\) — no certroll marker/);
  });

  it('an unreadable marker counts as no marker, with the reason', () => {
    const s = new Fleet('new').park('n3', 'tos-etcd.manifest', 'unreadable').status();
    expect(s.parked[0]!.markerProblem).toBe('/opt/kubernetes/tos-etcd.manifest.certroll-park: not valid JSON');
    expect(s.next.manual?.[0]).toMatch(/^on n3: mv -- /);
  });

  it('a parked member with a marker and no lock: resume when the journal is here, else a new run', () => {
    expect(new Fleet('new').park('n2', 'tos-etcd.manifest', {}).journal('interrupted').status().next.command).toBe(`certroll run --resume ${RUN}`);
    expect(new Fleet('new').park('n2', 'tos-etcd.manifest', {}).status().next.command).toBe('certroll run -i inventories/prod.yaml playbooks/tos-etcd-renew.yaml');
  });

  it('hosts holding different CA and certificate: groups them, says which set the first master holds and who differs', () => {
    const f = new Fleet('new').host('n3', 'old').host('m1', 'old');
    const s = f.status();
    const ca = s.certificates.find((c) => c.role === 'ca')!;
    expect(ca.versions.map((v) => [v.newest, v.hosts])).toEqual([
      [true, ['n1', 'n2']],
      [false, ['n3', 'm1']],
    ]);
    expect(ca.versions[0]!.id).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(ca.firstMaster).toEqual({ host: 'n1', id: ca.versions[0]!.id });
    expect(ca.differ).toEqual(['n3', 'm1']);
    expect(s.next.command).toBe('certroll run -i inventories/prod.yaml playbooks/tos-etcd-renew.yaml');
    expect(s.next.why).toMatch(/half renewed \(etcd-ca.pem differs on n3, m1; etcd.pem differs on n3, m1\)/);
    // With an unfinished run of this inventory in the journal: resume it.
    expect(f.journal('failed').status().next.command).toBe(`certroll run --resume ${RUN}`);
  });

  it('the Manager template CA is shown with the version it equals', () => {
    const f = new Fleet('new');
    f.facts.manager = { templates: { m1: { host: 'm1', root: '/r', rootExists: true, candidates: [], dirs: [], ca: { path: '/r/ca.pem', exists: true, content: pem.oldCa } } } };
    const ca = f.status().certificates.find((c) => c.role === 'ca')!;
    expect(ca.versions.find((v) => !v.newest)).toMatchObject({ hosts: [], managerTemplates: ['m1'] });
  });

  it('files all renewed but the run stopped before its later steps (journal interrupted): resume', () => {
    const s = new Fleet('new').journal('interrupted', { stoppedAt: 'Restart etcd' }).status();
    expect(s.next.command).toBe(`certroll run --resume ${RUN}`);
    expect(s.next.why).toMatch(/later steps may not have run/);
    expect(s.unfinishedRuns).toEqual([{ runId: RUN, state: 'interrupted', stoppedAt: 'Restart etcd', journal: `/home/u/.local/state/certroll/runs/${RUN}` }]);
  });

  it('ignores local runs of another inventory, rolled-back runs and runs older than the latest', () => {
    expect(new Fleet('new').journal('interrupted', { inventory: '/other/cluster.yaml' }).status().state).toBe('clean');
    const rolledBack = new Fleet('old').journal('failed');
    rolledBack.runs.push({ runId: '20261202T094000Z-ffffff', state: 'succeeded', kind: 'rollback', rollbackOf: RUN, inventory: '/inv/prod.yaml', playbook: '', startedAt: '', dir: '/x' });
    expect(rolledBack.status().state).toBe('clean');
    const older = new Fleet('new').journal('failed');
    older.runs.push({ runId: '20261202T095000Z-000002', state: 'succeeded', inventory: '/inv/prod.yaml', playbook: '', startedAt: '', dir: '/y' });
    expect(older.status().state).toBe('clean');
  });

  it('a rollback holding the lock: run the rollback again with --break-lock', () => {
    const s = new Fleet('old').lock(HOSTS, { runId: '20261202T094000Z-ffffff', kind: 'rollback', rollbackOf: RUN }).journal('failed').status();
    expect(s.locks[0]).toMatchObject({ kind: 'rollback', rollbackOf: RUN, journalHere: true });
    expect(s.next.command).toBe(`certroll rollback -i inventories/prod.yaml --run ${RUN} --break-lock`);
    const lost = new Fleet('old').lock(HOSTS, { runId: '20261202T094000Z-ffffff', kind: 'rollback', rollbackOf: RUN }).status();
    expect(lost.next.command).toBe(`certroll rollback -i inventories/prod.yaml --from-backup /srv/kubernetes-bak-${RUN} --break-lock`);
  });

  it('an unreadable lock file: a run with --break-lock', () => {
    const s = new Fleet('new').lock(['n1'], { runId: 'unknown (unreadable lock file)', unreadable: 'not valid JSON' }).status();
    expect(s.next.command).toBe('certroll run -i inventories/prod.yaml playbooks/tos-etcd-renew.yaml --break-lock');
    expect(s.findings).toContain('n1: lock file unreadable (not valid JSON)');
  });

  it('an unreachable host: exit 2, named', () => {
    const f = new Fleet('new');
    delete f.facts.hosts.m1;
    f.facts.unreachable.push({ host: 'm1', kind: 'connect', message: 'm1: connect ECONNREFUSED 10.0.0.9:22' });
    const s = f.status();
    expect(s.exitCode).toBe(2);
    expect(s.state).toBe('unreachable');
    expect(s.next.why).toMatch(/m1 could not be read/);
    expect(renderStatus(s, palette(false))).toContain('Unreachable m1: m1: connect ECONNREFUSED');
  });

  it('etcd unhealthy with nothing to explain it: work left, investigate', () => {
    const s = new Fleet('new').etcd(['n1', 'n2']).status();
    expect(s.exitCode).toBe(1);
    expect(s.next.command).toBeUndefined();
    expect(s.next.why).toMatch(/etcd is not healthy \(2 of 3 members\)/);
  });

  it('groups backups by run and says which do not verify', () => {
    const s = new Fleet('new').backup(RUN, true, ['n1', 'n2']).backup(RUN, false, ['n3']).status();
    expect(s.backups).toEqual([expect.objectContaining({ runId: RUN, verified: false, journal: 'not in the local journal' })]);
    expect(s.backups[0]!.hosts.map((h) => [h.host, h.verified])).toEqual([
      ['n1', true],
      ['n2', true],
      ['n3', false],
    ]);
    expect(s.findings).toContain(`backup of run ${RUN} does not verify on n3`);
    expect(s.exitCode).toBe(1);
  });

  it('a leftover marker next to a manifest that is back in place is reported, with the rm', () => {
    const f = new Fleet('new');
    f.facts.hosts.n2!.manifests.markers.push({ file: 'tos-etcd.manifest.certroll-park', readable: true, runId: RUN, host: 'n2', manifest: 'tos-etcd.manifest', from: '/a', to: '/b', sha256: 'a'.repeat(64), parkedAt: 'x' });
    const s = f.status();
    expect(s.staleMarkers).toEqual([{ host: 'n2', file: '/opt/kubernetes/tos-etcd.manifest.certroll-park', runId: RUN }]);
    expect(s.next.manual).toEqual(['on n2: rm -- /opt/kubernetes/tos-etcd.manifest.certroll-park']);
  });

  it('never passes a control character from a host through (file names, etcd errors)', () => {
    const f = new Fleet('new').park('n2', 'x\u001b[2J.manifest', 'unreadable').etcd(['n1', 'n2']);
    f.facts.etcd!.health[2]!.error = 'bad\u001b]0;title\u0007';
    const text = renderStatus(f.status(), palette(false));
    expect(text).toContain('x\\u001b[2J.manifest');
    expect(text).toContain('bad\\u001b]0;title\\u0007');
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });

  it('kubeadm (per-node leaves): only the CA is compared, and only across the renewal\'s hosts', () => {
    // Every node holds its own leaf (n2, n3 "old" leaves here), m1 (a worker) holds no etcd CA at all.
    const f = new Fleet('new');
    for (const h of ['n2', 'n3']) f.facts.hosts[h]!.pems.cert = pem.oldLeaf;
    f.facts.hosts.m1!.pems = { ca: null, cert: null } as never;
    const s = f.status({ perNode: { hosts: ['n1', 'n2', 'n3'] } });
    expect(s.certificates.map((c) => [c.role, c.differ])).toEqual([['ca', []]]);
    expect(s.next.why).not.toMatch(/half renewed/);
    // A node whose CA differs still is.
    f.facts.hosts.n3!.pems.ca = pem.oldCa;
    expect(f.status({ perNode: { hosts: ['n1', 'n2', 'n3'] } }).next.why).toMatch(/half renewed \(etcd-ca.pem differs on n3\)/);
  });

  it('quotes paths with spaces in the commands it prints', () => {
    const s = new Fleet('new').lock(HOSTS, { controlHost: 'elsewhere' }).status({ inventoryArg: 'my inv.yaml' });
    expect(s.next.command).toBe("certroll run -i 'my inv.yaml' playbooks/tos-etcd-renew.yaml --break-lock");
  });
});

describe('the Manager must hold the first master\'s CA and certificate', () => {
  it('a template CA that is not the first master\'s is work left, with a run as the next command', () => {
    const f = new Fleet('new');
    f.facts.manager = { templates: { m1: { host: 'm1', root: '/r', rootExists: true, candidates: [], dirs: [], ca: { path: '/r/ca.pem', exists: true, content: pem.oldCa } } } };
    const s = f.status();
    expect(s.exitCode).toBe(1);
    expect(s.targetState).toEqual(["m1: the Manager's template CA /r/ca.pem is not n1's etcd-ca.pem (the Manager would push it back)"]);
    expect(s.next.command).toBe('certroll run -i inventories/prod.yaml playbooks/tos-etcd-renew.yaml');
    expect(renderStatus(s, palette(false))).toContain("Unfinished  m1: the Manager's template CA /r/ca.pem is not n1's etcd-ca.pem");
    // With an unfinished run of this inventory in the journal: resume it instead.
    expect(f.journal('completed-with-errors').status().next.command).toBe(`certroll run --resume ${RUN}`);
    // Every host holds one CA: an older CA only in the Manager's templates is not a half-renewed fleet.
    expect(s.findings.join('\n')).not.toMatch(/versions on the|not reachable/);
    expect(s.next.why).not.toMatch(/half renewed/);
  });
  it('DB rows that are not the first master\'s files are named; equal rows (trailing newline stripped, as stored) are fine', () => {
    const f = new Fleet('new');
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    f.facts.manager = { templates: {}, db: { host: 'm1', target: 'manager@10.0.0.9:3306/manager', table: 'manager_info', ok: true, rows: { 'etcd-ca.pem': { sha256: sha(pem.newCa.replace(/\n+$/, '')), size: 1 }, 'etcd.pem': { sha256: sha(pem.oldLeaf.replace(/\n+$/, '')), size: 1 } }, backupTables: [] } };
    expect(f.status().targetState).toEqual(["manager@10.0.0.9:3306/manager: the manager_info row etcd.pem is not n1's file"]);
  });
  it('the same template CA as the first master\'s is clean', () => {
    const f = new Fleet('new');
    f.facts.manager = { templates: { m1: { host: 'm1', root: '/r', rootExists: true, candidates: [], dirs: [], ca: { path: '/r/ca.pem', exists: true, content: pem.newCa } } } };
    expect(f.status().state).toBe('clean');
  });
});
