// The pure half of `certroll status`: from host facts, backups and the local journal, what state the fleet is in and the
// one command that moves it forward. No I/O: every input is passed in, so every verdict is unit-tested.
import { describeServedMismatch, servedMismatches } from '../facts/served.js';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { FleetFacts, HostFacts, LockInfo } from '../facts/types.js';
import type { HostBackups } from '../rollback/backups.js';
import type { ListedRun } from '../journal/journal.js';
import { runStandings } from '../rollback/backups.js';
import { parseCertificates } from '../pki/index.js';
import { quote } from '../ssh/quote.js';
import { rowValueOf } from '../manager/sql.js';
import { STATUS_SCHEMA, type BackupRun, type CertRole, type CertVersion, type EtcdHealth, type LockHolder, type NextStep, type ParkedManifest, type StaleMarker, type StatusReport } from './types.js';
import { backupDirOf } from '../host-paths.js';

export interface StatusHost {
  name: string;
  certDir: string;
  manifestsDir: string;
  parkDir: string;
  /** The etcd client endpoint, on etcd hosts: their served certificate is compared with the file. */
  etcdEndpoint?: string;
}

export interface StatusInput {
  /** The inventory and playbook as the operator named them (used in the commands printed). */
  inventoryArg: string;
  playbookArg: string;
  /** Absolute inventory path: local runs of other inventories are not this cluster's. */
  inventoryFile: string;
  hosts: StatusHost[];
  firstMaster: string;
  files: { ca: string; cert: string };
  /**
   * kubeadm (the playbook renews per-node leaves): files.cert is each node's own certificate, different on every node by
   * design, so only files.ca is compared, and only across these hosts (the renewal's targets). Absent: TOS, every host
   * holds the same ca and cert.
   */
  perNode?: { hosts: string[] };
  facts: FleetFacts;
  backups: HostBackups[];
  backupFailures: Array<{ host: string; message: string }>;
  localRuns: ListedRun[];
  now: Date;
  /** This machine's host name: a lock taken from here can have its pid checked. */
  thisMachine: string;
  /** Whether a process id is alive on this machine. */
  pidAlive: (pid: number) => boolean;
}

/** The lock owner fields status needs beyond LockInfo (rollbacks write kind and rollbackOf). */
type Owner = LockInfo & { kind?: string; rollbackOf?: string };

/** Text read from a host (file names, error messages) made safe for a terminal: control characters escaped. */
const clean = (v: string) => v.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const cmd = (...words: string[]) => words.map((w) => (w.startsWith('-') || /^[A-Za-z0-9_./:@%+=,-]+$/.test(w) ? w : quote(w))).join(' ');

function ageSeconds(startedAt: string | undefined, now: Date): number | undefined {
  const t = startedAt ? Date.parse(startedAt) : NaN;
  return Number.isFinite(t) ? Math.max(0, Math.round((now.getTime() - t) / 1000)) : undefined;
}

export function formatAge(s: number | undefined): string {
  if (s === undefined) return 'age unknown';
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${Math.round(s / 86400)} days`;
}

function locksOf(input: StatusInput, runIds: Set<string>): LockHolder[] {
  const by = new Map<string, LockHolder>();
  for (const h of input.hosts) {
    const lock = input.facts.hosts[h.name]?.lock as Owner | null | undefined;
    if (!lock) continue;
    const key = lock.unreadable ? `unreadable:${h.name}` : lock.runId;
    const held = by.get(key);
    if (held) {
      held.hosts.push(h.name);
      continue;
    }
    const kind = lock.kind === 'rollback' ? 'rollback' : 'run';
    const mine = lock.controlHost !== undefined && lock.controlHost === input.thisMachine && lock.pid !== undefined;
    by.set(key, {
      runId: lock.runId,
      kind,
      ...(kind === 'rollback' && lock.rollbackOf ? { rollbackOf: lock.rollbackOf } : {}),
      ...(lock.controlHost ? { controlHost: lock.controlHost } : {}),
      ...(lock.user ? { user: lock.user } : {}),
      ...(lock.pid !== undefined ? { pid: lock.pid } : {}),
      ...(lock.startedAt && lock.startedAt !== 'unknown' ? { startedAt: lock.startedAt } : {}),
      ...(ageSeconds(lock.startedAt, input.now) !== undefined ? { ageSeconds: ageSeconds(lock.startedAt, input.now)! } : {}),
      ...(lock.step ? { step: lock.step } : {}),
      hosts: [h.name],
      journalHere: runIds.has(kind === 'rollback' ? (lock.rollbackOf ?? '') : lock.runId),
      ...(mine ? { alive: input.pidAlive(lock.pid!) } : {}),
      ...(lock.unreadable ? { unreadable: lock.unreadable } : {}),
    });
  }
  return [...by.values()].sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? ''));
}

function parkedOf(input: StatusInput): { parked: ParkedManifest[]; stale: StaleMarker[] } {
  const parked: ParkedManifest[] = [];
  const stale: StaleMarker[] = [];
  for (const h of input.hosts) {
    const f = input.facts.hosts[h.name];
    if (!f) continue;
    const markers = f.manifests.markers ?? [];
    for (const m of f.manifests.parked) {
      if (f.manifests.inPlace.includes(m)) continue; // a copy in both places: the member runs
      const p: ParkedManifest = { host: h.name, manifest: clean(m), path: `${h.parkDir}/${clean(m)}`, home: `${h.manifestsDir}/${clean(m)}` };
      const mk = markers.find((x) => x.manifest === m);
      if (mk?.readable) p.marker = { file: `${h.parkDir}/${clean(mk.file)}`, runId: mk.runId, parkedAt: mk.parkedAt, sha256Matches: f.manifests.parkedSha256?.[m] === mk.sha256 };
      else if (mk) p.markerProblem = `${h.parkDir}/${clean(mk.file)}: ${clean(mk.error)}`;
      parked.push(p);
    }
    for (const mk of markers) {
      if (f.manifests.parked.includes(mk.manifest) && !f.manifests.inPlace.includes(mk.manifest)) continue;
      stale.push({ host: h.name, file: `${h.parkDir}/${clean(mk.file)}`, ...(mk.readable ? { runId: mk.runId } : {}) });
    }
  }
  return { parked, stale };
}

/** The identity of a certificate file: its fingerprint when it parses, else the file's hash. */
function certIdentity(pem: string | null | undefined): { id: string; notAfter?: string; subject?: string } {
  if (pem === null || pem === undefined) return { id: 'absent' };
  try {
    const c = parseCertificates(pem)[0];
    if (c) return { id: c.fingerprintSha256, notAfter: c.notAfter, subject: c.subject.text ?? '' };
  } catch {
    /* not a certificate: grouped by its bytes */
  }
  return { id: `sha256:${createHash('sha256').update(pem).digest('hex')}` };
}

function certificatesOf(input: StatusInput): CertRole[] {
  const roles: Array<['ca' | 'cert', string]> = input.perNode
    ? [['ca', input.files.ca]]
    : [
        ['ca', input.files.ca],
        ['cert', input.files.cert],
      ];
  const compared = input.perNode ? input.hosts.filter((h) => input.perNode!.hosts.includes(h.name)) : input.hosts;
  return roles.map(([role, file]) => {
    const versions = new Map<string, CertVersion>();
    const add = (pem: string | null | undefined) => {
      const c = certIdentity(pem);
      let v = versions.get(c.id);
      if (!v) versions.set(c.id, (v = { id: c.id, ...(c.notAfter ? { notAfter: c.notAfter } : {}), ...(c.subject ? { subject: c.subject } : {}), hosts: [], newest: false }));
      return v;
    };
    let fm: string | null = null;
    for (const h of compared) {
      const f: HostFacts | undefined = input.facts.hosts[h.name];
      if (!f) continue;
      const v = add(f.pems[role]);
      v.hosts.push(h.name);
      if (h.name === input.firstMaster) fm = v.id;
    }
    if (role === 'ca')
      for (const [host, t] of Object.entries(input.facts.manager?.templates ?? {})) {
        if (!t.ca?.exists || !t.ca.content) continue;
        const v = add(t.ca.content);
        (v.managerTemplates ??= []).push(host);
      }
    const list = [...versions.values()];
    const latest = list.filter((v) => v.notAfter).sort((a, b) => b.notAfter!.localeCompare(a.notAfter!))[0];
    if (latest) latest.newest = true;
    list.sort((a, b) => Number(b.newest) - Number(a.newest) || b.hosts.length - a.hosts.length);
    const differ = fm === null ? [] : list.filter((v) => v.id !== fm).flatMap((v) => v.hosts);
    return { role, file, versions: list, firstMaster: { host: input.firstMaster, id: fm }, differ };
  });
}

/**
 * The Manager's side of the target state: its template CA and its DB rows must be the first master's files, or the Manager
 * pushes the old CA back later. (config.json's expiry is not judged here: "87600h" is normal before the first renewal.)
 */
function managerState(input: StatusInput): string[] {
  const out: string[] = [];
  const m = input.facts.manager;
  const fm = input.facts.hosts[input.firstMaster];
  if (!m || !fm) return out;
  const ca = certIdentity(fm.pems.ca).id;
  for (const [h, t] of Object.entries(m.templates))
    if (t.ca?.exists && t.ca.content && fm.pems.ca && certIdentity(t.ca.content).id !== ca)
      out.push(`${h}: the Manager's template CA ${clean(t.ca.path)} is not ${input.firstMaster}'s ${input.files.ca} (the Manager would push it back)`);
  if (m.db?.ok)
    for (const role of ['ca', 'cert'] as const) {
      const pem = fm.pems[role];
      const row = m.db.rows[input.files[role]];
      if (pem && row && row.sha256 !== createHash('sha256').update(rowValueOf(pem)).digest('hex')) out.push(`${clean(m.db.target)}: the ${clean(m.db.table)} row ${input.files[role]} is not ${input.firstMaster}'s file`);
    }
  return out;
}

function backupsOf(input: StatusInput): BackupRun[] {
  const standing = runStandings(input.localRuns);
  const by = new Map<string, BackupRun>();
  for (const h of input.backups)
    for (const b of h.backups) {
      let r = by.get(b.runId);
      if (!r) by.set(b.runId, (r = { runId: clean(b.runId), hosts: [], verified: true, createdAt: b.createdAt, journal: standing(b.runId).detail }));
      r.hosts.push({ host: h.host, dir: clean(b.dir), verified: b.verified, certroll: b.certroll, ...(b.problem ? { problem: clean(b.problem) } : {}) });
      if (b.certroll && !b.verified) r.verified = false;
      if (b.createdAt < r.createdAt) r.createdAt = b.createdAt;
    }
  return [...by.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.runId.localeCompare(a.runId));
}

function etcdOf(facts: FleetFacts): EtcdHealth | null {
  const e = facts.etcd;
  if (!e) return null;
  return {
    queriedFrom: e.queriedFrom,
    healthy: e.health.filter((x) => x.healthy).length,
    total: Math.max(e.members.length, e.health.length),
    ...(e.leaderHost ? { leader: e.leaderHost } : {}),
    unhealthy: e.health.filter((x) => !x.healthy).map((x) => ({ endpoint: clean(x.endpoint), ...(x.error ? { error: clean(x.error) } : {}) })),
    ...(e.error ? { error: e.error.split('\n').map(clean).join('\n') } : {}),
  };
}

/** The fleet's state and the one command to run next. */
export function buildStatus(input: StatusInput): StatusReport {
  const inv = input.inventoryArg;
  const pb = input.playbookArg;
  const ours = input.localRuns.filter((r) => r.kind !== 'rollback' && r.state !== 'damaged' && (!r.inventory || resolve(r.inventory) === input.inventoryFile));
  const runIds = new Set(ours.map((r) => r.runId));
  const standing = runStandings(input.localRuns);
  const locks = locksOf(input, runIds);
  const { parked, stale } = parkedOf(input);
  const certificates = certificatesOf(input);
  const backups = backupsOf(input);
  const etcd = etcdOf(input.facts);
  const unreachable = input.facts.unreachable.map((u) => ({ host: u.host, kind: u.kind, message: clean(u.message) }));

  const latest = ours.at(-1);
  const unfinished = ours.filter((r) => standing(r.runId).state === 'unfinished' && (r === latest || locks.some((l) => l.runId === r.runId)));
  const unfinishedRuns = unfinished.map((r) => ({ runId: r.runId, state: r.state, ...(r.stoppedAt ? { stoppedAt: r.stoppedAt } : {}), journal: r.dir }));

  const findings: string[] = [];
  for (const u of unreachable) findings.push(`${u.host}: unreachable (${u.kind}): ${u.message}`);
  for (const l of locks)
    findings.push(
      l.unreadable
        ? `${l.hosts.join(', ')}: lock file unreadable (${l.unreadable})`
        : `lock held by ${l.kind} ${l.runId}${l.rollbackOf ? ` (rollback of ${l.rollbackOf})` : ''} on ${l.hosts.join(', ')}${l.alive === true ? ' — still running on this machine' : l.alive === false ? ' — its process is gone' : ''}`,
    );
  for (const p of parked)
    findings.push(`${p.host}: ${p.manifest} parked at ${p.path} (member down)${p.marker ? ` by run ${p.marker.runId}${p.marker.sha256Matches ? '' : ' — its sha256 differs from the marker'}` : p.markerProblem ? ` — marker unreadable: ${p.markerProblem}` : ' — no certroll marker: parked by hand?'}`);
  for (const s of stale) findings.push(`${s.host}: leftover marker ${s.file}${s.runId ? ` of run ${s.runId}` : ''} (its manifest is in place)`);
  // Versions held by hosts (a version only in the Manager's templates is reported by the target state below).
  const onHosts = (c: CertRole) => c.versions.filter((v) => v.hosts.length > 0).length;
  for (const c of certificates)
    if (onHosts(c) > 1) findings.push(`${c.file}: ${onHosts(c)} versions on the hosts; ${c.differ.length ? `${c.differ.join(', ')} differ from the first master ${c.firstMaster.host}` : `the first master ${c.firstMaster.host} is not reachable`}`);
  const members = input.hosts.filter((h) => h.etcdEndpoint).map((h) => ({ host: h.name, endpoint: h.etcdEndpoint! }));
  const targetState = [...managerState(input), ...servedMismatches(members, input.facts).map((m) => clean(describeServedMismatch(m, input.files.cert)))];
  findings.push(...targetState);
  for (const r of unfinished) findings.push(`run ${r.runId} did not finish (journal: ${r.state}${r.stoppedAt ? ` at ${r.stoppedAt}` : ''})`);
  for (const b of backups.filter((x) => !x.verified)) findings.push(`backup of run ${b.runId} does not verify on ${b.hosts.filter((h) => h.certroll && !h.verified).map((h) => h.host).join(', ')}`);
  for (const f of input.backupFailures) findings.push(`${f.host}: backups not listed: ${f.message}`);
  if (etcd?.error && etcd.healthy < etcd.total) findings.push(`etcd health could not be read from ${etcd.queriedFrom}: ${etcd.error}`);
  for (const u of etcd?.unhealthy ?? []) findings.push(`etcd ${u.endpoint} unhealthy${u.error ? `: ${u.error}` : ''}`);

  const resume = (runId: string) => cmd('certroll', 'run', '--resume', runId);
  const rerun = (breakLock: boolean) => cmd('certroll', 'run', '-i', inv, pb, ...(breakLock ? ['--break-lock'] : []));
  const rollbackOf = (runId: string) => (runIds.has(runId) ? cmd('certroll', 'rollback', '-i', inv, '--run', runId) : cmd('certroll', 'rollback', '-i', inv, '--from-backup', backupDirOf(input.hosts[0]?.certDir ?? '<certDir>', runId)));

  const next = ((): NextStep => {
    const alive = locks.find((l) => l.alive === true);
    if (alive) return { why: `${alive.kind} ${alive.runId} is still running on this machine (pid ${alive.pid}${alive.step ? `, step ${alive.step}` : ''}): let it finish`, manual: [`certroll status -i ${inv} to follow it`] };
    const byHand = parked.filter((p) => !p.marker);
    if (byHand.length)
      return {
        why: `${byHand.map((p) => `${p.host}: ${p.path}`).join(', ')} ${byHand.length > 1 ? 'are' : 'is'} parked without a certroll marker; certroll will not move ${byHand.length > 1 ? 'them' : 'it'}: put ${byHand.length > 1 ? 'them' : 'it'} back by hand, then run certroll status again`,
        manual: byHand.map((p) => `on ${p.host}: mv -- ${quote(p.path)} ${quote(p.home)}`),
      };
    const lock = locks[0];
    if (lock) {
      if (lock.unreadable) return { command: rerun(true), why: `the lock on ${lock.hosts.join(', ')} cannot be read (${lock.unreadable}); a new run takes it over and finishes the work from what the hosts hold` };
      const others = locks.length > 1 ? ` (other holders: ${locks.slice(1).map((l) => `${l.runId} on ${l.hosts.join(', ')}`).join('; ')})` : '';
      const dead = lock.alive === false ? `its process ${lock.pid} is gone` : `held since ${formatAge(lock.ageSeconds)}${lock.controlHost ? ` from ${lock.controlHost}` : ''}; make sure it is not still running there`;
      if (lock.kind === 'rollback') {
        const of = lock.rollbackOf ?? lock.runId;
        return { command: `${rollbackOf(of)} --break-lock`, why: `rollback ${lock.runId} of run ${of} stopped part way (${dead}); running the rollback again finishes it${others}` };
      }
      if (lock.journalHere) return { command: resume(lock.runId), why: `run ${lock.runId} stopped part way (${dead}); resuming it finishes it${parked.length ? ' and first puts the parked member back' : ''}${others}`, alternative: rollbackOf(lock.runId) };
      return { command: rerun(true), why: `run ${lock.runId} stopped part way (${dead}) and its journal is not on this machine; a run with --break-lock finds the work left from the hosts and finishes it${others}` };
    }
    const marked = parked.find((p) => p.marker);
    if (marked) {
      const r = marked.marker!.runId;
      return runIds.has(r)
        ? { command: resume(r), why: `${marked.host}: ${marked.manifest} was parked by run ${r}, which stopped; resuming it puts the member back and finishes`, alternative: rollbackOf(r) }
        : { command: rerun(false), why: `${marked.host}: ${marked.manifest} was parked by run ${r}, whose journal is not on this machine; a new run puts the member back and finishes from what the hosts hold` };
    }
    const mixed = certificates.filter((c) => onHosts(c) > 1);
    const run = unfinished.at(-1);
    if (mixed.length) {
      const what = mixed.map((c) => `${c.file} differs on ${c.differ.join(', ') || 'some hosts'}`).join('; ');
      return run
        ? { command: resume(run.runId), why: `the fleet is half renewed (${what}) and run ${run.runId} did not finish; resuming it completes the renewal`, alternative: rollbackOf(run.runId) }
        : { command: rerun(false), why: `the fleet is half renewed (${what}); a run renews the hosts that hold the old files (certroll plan shows exactly what)` };
    }
    if (run) return { command: resume(run.runId), why: `run ${run.runId} stopped (${run.state}${run.stoppedAt ? ` at ${run.stoppedAt}` : ''}); every host holds the same files, but later steps may not have run (restarts, Manager): resuming finishes them`, alternative: rollbackOf(run.runId) };
    if (targetState.length)
      return { command: rerun(false), why: `the renewal's target state does not hold (${targetState.join('; ')}); a run brings every host and the Manager to one set (certroll plan shows what)` };
    if (stale.length) return { why: `leftover park markers (their manifests are in place): harmless; remove them by hand`, manual: stale.map((s) => `on ${s.host}: rm -- ${quote(s.file)}`) };
    if (etcd && (etcd.unhealthy.length || etcd.healthy < etcd.total || etcd.error))
      return { why: `etcd is not healthy (${etcd.healthy} of ${etcd.total} members) and no stopped run explains it: investigate before renewing`, manual: [`etcdctl endpoint health on ${etcd.queriedFrom ?? 'an etcd host'}`] };
    const badBackup = backups.find((b) => !b.verified);
    if (badBackup) return { why: `the backup of run ${badBackup.runId} does not verify`, manual: [`certroll backups -i ${inv} shows which files`] };
    if (unreachable.length) return { why: `${unreachable.map((u) => u.host).join(', ')} could not be read: fix SSH access and run certroll status again` };
    return { why: 'nothing to do: no lock, nothing parked, every host holds the same CA and certificate, etcd healthy' };
  })();

  const isClean = !next.command && !next.manual && findings.length === 0;
  const state = unreachable.length ? 'unreachable' : isClean ? 'clean' : 'work-left';
  return {
    schema: STATUS_SCHEMA,
    generatedAt: input.now.toISOString(),
    inventory: input.inventoryFile,
    playbook: input.playbookArg,
    state,
    exitCode: state === 'unreachable' ? 2 : state === 'clean' ? 0 : 1,
    hosts: input.hosts.map((h) => h.name),
    unreachable,
    locks,
    parked,
    staleMarkers: stale,
    certificates,
    backups,
    backupFailures: input.backupFailures,
    etcd,
    targetState,
    unfinishedRuns,
    findings,
    next,
  };
}
