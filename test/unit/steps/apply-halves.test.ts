// The apply halves of the steps, below the lab: the real shell (LocalRemote) against a temporary cert dir, manifests dir and
// park dir, without root or SSH. Backup never overwrites; restore puts back the backup and deletes only what a run can have
// created; the swap is back to back; the lock is taken and released by its holder only; a restart parks and unparks with
// markers; the engine cleans up this run's staged files and lock after a failure.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalRemote } from '../../support/local-remote.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { hostScope } from '../../../src/inventory/targets.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { factsQuery } from '../../../src/facts/host-query.js';
import { hostFactsScript, parseHostFacts } from '../../../src/facts/host-facts.js';
import type { FleetFacts } from '../../../src/facts/types.js';
import { backupDirOf, BACKUP_META, BACKUP_SUMS, lockDirOf, parkMarkerOf, partialBackupOf, stagedName } from '../../../src/host-paths.js';
import { sha256 } from '../../../src/hash.js';
import { diffFiles } from '../../../src/file-record.js';
import { Secret } from '../../../src/secret.js';
import type { Action, FileRole, Plan, PlannedStep } from '../../../src/plan/types.js';
import type { Material } from '../../../src/plan/material.js';
import type { ApplyContext, Phase, StepModule } from '../../../src/steps/types.js';
import type { BackupStep, DistributeStep, PreflightStep, RollingRestartStep, StepSpec, Playbook } from '../../../src/playbook/types.js';
import { backup } from '../../../src/steps/backup.js';
import { preflight } from '../../../src/steps/preflight.js';
import { distribute } from '../../../src/steps/distribute.js';
import { inspectBackup, restoreHost } from '../../../src/steps/restore.js';
import { lockOwner, noteLockStep, releaseLock, takeLock, type LockOwner } from '../../../src/steps/lock.js';
import { takeLockStep } from '../../../src/steps/rollback.js';
import { restartActionFor, restartOne } from '../../../src/steps/rolling-restart.js';
import { applyPlan } from '../../../src/apply/engine.js';
import { Journal } from '../../../src/journal/journal.js';
import { SafetyStop } from '../../../src/errors.js';

const top = mkdtempSync(join(tmpdir(), 'certroll-apply-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));
const certDir = join(top, 'srv', 'kubernetes');
const manifestsDir = join(top, 'opt', 'kubernetes', 'manifests-multi');
const parkDir = join(top, 'opt', 'kubernetes');
const binDir = join(top, 'bin');
const RUN = '20261202T130000Z-abc123';
const uid = process.getuid!();
const gid = process.getgid!();

/** The original cert dir: three managed files, an untouchable one, one in a subdirectory. */
const ORIGINAL: Record<string, { content: string; mode: number }> = {
  'etcd-ca.pem': { content: 'OLD CA\n', mode: 0o644 },
  'etcd.pem': { content: 'OLD CERT\n', mode: 0o644 },
  'etcd-key.pem': { content: 'OLD KEY\n', mode: 0o600 },
  'apiserver.pem': { content: 'API\n', mode: 0o644 },
  'ssl/ca.pem': { content: 'K8S CA\n', mode: 0o644 },
};

const inventory = parseInventory(
  [
    `vars: { serviceIp: 10.96.0.1, certDir: ${certDir}, manifestsDir: ${manifestsDir}, parkDir: ${parkDir} }`,
    'ssh: { identityFile: /tmp/id, knownHostsFile: /tmp/kh }',
    'hosts:',
    '  n1: { address: 127.0.0.1 }',
    'groups: { master: [n1], etcd: [n1] }',
  ].join('\n'),
  'apply-halves.yaml',
);
/** A playbook whose etcdctl and container check are small scripts of this test (below): no etcd, no docker. */
const playbook = parsePlaybook(
  [
    'name: apply-halves',
    `etcdctl: [${binDir}/etcdctl]`,
    'steps:',
    '  - type: preflight',
    '  - type: backup',
    '  - type: distribute',
    '    targets: [etcd]',
    '  - type: rolling-restart',
    '    manifests: [tos-etcd.manifest]',
    `    containerCheck: [${binDir}/containers]`,
    '    containerNames: [tos-etcd]',
    '    pauseSeconds: 0',
    '    stopTimeoutSeconds: 1',
    '    healthTimeoutSeconds: 5',
  ].join('\n'),
  'apply-halves-playbook.yaml',
);
const specOf = <S extends StepSpec>(type: S['type']) => playbook.steps.find((s) => s.type === type) as unknown as S & Playbook['steps'][number];

let remote: LocalRemote;
let intents: string[];

beforeEach(() => {
  rmSync(top, { recursive: true, force: true });
  for (const [p, f] of Object.entries(ORIGINAL)) {
    mkdirSync(join(certDir, p, '..'), { recursive: true });
    writeFileSync(join(certDir, p), f.content);
    chmodSync(join(certDir, p), f.mode);
  }
  mkdirSync(manifestsDir, { recursive: true });
  writeFileSync(join(manifestsDir, 'tos-etcd.manifest'), 'command: [etcd]\n');
  mkdirSync(binDir, { recursive: true });
  // etcdctl stand-in: every endpoint healthy, the one member its own leader. The container check lists the manifests in place.
  writeFileSync(
    join(binDir, 'etcdctl'),
    `#!/bin/sh
eps=; for a in "$@"; do case "$prev" in --endpoints) eps=$a ;; esac; prev=$a; done
case " $* " in
  *" endpoint health "*) printf '[{"endpoint":"%s","health":true}]\\n' "$eps" ;;
  *" endpoint status "*) printf '[{"Endpoint":"%s","Status":{"header":{"member_id":1},"leader":1,"raftIndex":7,"raftTerm":2,"version":"3.4"}}]\\n' "$eps" ;;
  *) exit 1 ;;
esac
`,
    { mode: 0o755 },
  );
  writeFileSync(join(binDir, 'containers'), `#!/bin/sh\nls ${manifestsDir} | sed 's/\\.manifest$//'\n`, { mode: 0o755 });
  remote = new LocalRemote('n1');
  intents = [];
});

/** The cert dir now: path → "mode sha256". */
function certDirState(dir = certDir): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(join(d, e.name), p);
      else out[p] = `${(statSync(join(d, e.name)).mode & 0o7777).toString(8)} ${sha256(readFileSync(join(d, e.name)))}`;
    }
  };
  walk(dir, '');
  return out;
}

/** Facts of the one host, read by the real host facts script through the real shell. */
async function facts(): Promise<FleetFacts> {
  const host = inventory.hosts[0]!;
  const q = factsQuery(host, playbook);
  const out = await remote.sh(hostFactsScript(q), { allowFailure: true });
  return { gatheredAt: new Date().toISOString(), hosts: { n1: parseHostFacts('n1', q, out.stdout) }, unreachable: [], etcd: null };
}

const NEW: Record<FileRole, string> = { ca: 'NEW CA\n', cert: 'NEW CERT\n', key: 'NEW KEY\n' };
const material: Material = {
  files: {
    ca: { content: NEW.ca, sha256: sha256(NEW.ca), size: NEW.ca.length },
    cert: { content: NEW.cert, sha256: sha256(NEW.cert), size: NEW.cert.length },
    key: { content: new Secret(NEW.key), sha256: sha256(NEW.key), size: NEW.key.length },
  },
};

function step(type: PlannedStep['type'], actions: Action[], index = 0): PlannedStep {
  return { index, type, title: type, at: { file: playbook.file }, hosts: ['n1'], actions, notes: [] };
}

async function context(plan: PlannedStep[] = []): Promise<ApplyContext> {
  return {
    plan: { runId: RUN, createdAt: new Date().toISOString(), steps: plan } as unknown as Plan,
    inventory,
    playbook,
    material,
    remotes: new Map([['n1', remote]]),
    remote: () => remote,
    scope: (n) => hostScope(inventory, playbook, n),
    runId: RUN,
    facts: await facts(),
    options: { breakLock: false, controlHost: 'test-control', user: 'tester', onFailure: 'stop' },
    signal: new AbortController().signal,
    journalIntent: async (e) => void intents.push(`${e.event} ${e.message ?? ''}`),
    locked: new Set(),
  };
}

/** Run a step module's apply half the way the engine does: phase after phase, item after item. */
async function apply<S extends StepSpec>(m: StepModule<S>, s: PlannedStep, spec: S, ctx: ApplyContext, upTo = Infinity): Promise<string[]> {
  const said: string[] = [];
  const phases = ([] as Phase[]).concat(m.apply(s, spec, ctx)).slice(0, upTo);
  for (const p of phases) for (const item of p.items) await item.run((msg) => said.push(msg));
  return said;
}

const backupAction = (over: Partial<Extract<Action, { kind: 'backup' }>> = {}): Action => ({ kind: 'backup', host: 'n1', from: certDir, to: backupDirOf(certDir, RUN), files: 5, kib: 1, ...over });

describe('preflight (apply half)', () => {
  const pre = (): PlannedStep => step('preflight', [{ kind: 'lock', host: 'n1', path: lockDirOf(certDir) }]);

  it('re-reads the host, takes the lock, checks the CA key and the cluster; a cert dir changed since the plan stops it and leaves no lock', async () => {
    writeFileSync(join(certDir, 'etcd-ca-key.pem'), 'CA KEY\n');
    const ctx = await context();
    expect(await apply(preflight, pre(), specOf<PreflightStep>('preflight'), ctx)).toEqual(['lock taken', 'etcd cluster healthy with a leader', 'ok']);
    expect(ctx.locked.has('n1')).toBe(true);
    expect(JSON.parse(readFileSync(join(lockDirOf(certDir), 'owner.json'), 'utf8'))).toMatchObject({ runId: RUN, user: 'tester' });
    await releaseLock(remote, certDir, RUN);

    const planned = await context();
    writeFileSync(join(certDir, 'etcd.pem'), 'CHANGED\n');
    rmSync(join(certDir, 'apiserver.pem'));
    writeFileSync(join(certDir, 'new.pem'), 'NEW\n');
    await expect(apply(preflight, pre(), specOf<PreflightStep>('preflight'), planned)).rejects.toThrow('n1: the cert dir changed since the plan was made (apiserver.pem disappeared, etcd.pem changed, new.pem appeared)');
    expect(existsSync(lockDirOf(certDir))).toBe(false);
  });
});

describe('diffFiles (the one comparison of file listings)', () => {
  const f = (path: string, sha: string, mode = 0o644, uid = 0) => ({ path, sha256: sha, mode, uid, gid: 0, size: 1 });
  it('names missing files, then content, mode and owner changes in the order of before, then extra files by path', () => {
    const before = [f('b', '1'), f('a', '2'), f('c', '3')];
    const after = [f('z', '9'), f('a', '2', 0o600, 5), f('b', '7'), f('y', '8')];
    expect(diffFiles(before, after).map((d) => `${d.path} ${d.what}`)).toEqual(['b content', 'a mode', 'a owner', 'c missing', 'y extra', 'z extra']);
    expect(diffFiles(before, after, ['content']).map((d) => `${d.path} ${d.what}`)).toEqual(['b content', 'c missing', 'y extra', 'z extra']);
    expect(diffFiles(before, [...before].reverse())).toEqual([]);
  });
});

describe('backup (apply half)', () => {
  it('copies the cert dir to <certDir>-bak-<run> byte for byte with its modes, a sha256 manifest and metadata, and verifies it', async () => {
    const ctx = await context();
    const said = await apply(backup, step('backup', [backupAction()]), specOf<BackupStep>('backup'), ctx);
    const dir = backupDirOf(certDir, RUN);
    expect(said).toEqual(['5 files copied and verified by sha256']);
    const copied = certDirState(dir);
    expect(Object.keys(copied).sort()).toEqual([BACKUP_META, BACKUP_SUMS, ...Object.keys(ORIGINAL)].sort());
    for (const p of Object.keys(ORIGINAL)) expect(copied[p]).toBe(certDirState()[p]);
    // cp -a copies the cert dir's own mode and owner onto the backup dir.
    expect(statSync(dir).mode & 0o777).toBe(statSync(certDir).mode & 0o777);
    expect(existsSync(partialBackupOf(dir))).toBe(false);
    const b = await inspectBackup(remote, dir);
    expect(b.verified).toBe(true);
    expect(b.meta).toMatchObject({ runId: RUN, source: certDir });
    expect(b.meta!.files.map((f) => f.path).sort()).toEqual(Object.keys(ORIGINAL).sort());
    expect(intents).toEqual([`intent backup: ${certDir} → ${dir}`, 'result backup: done']);
  });

  it('never overwrites a backup: a second backup of the same run fails and leaves the first as it was', async () => {
    const ctx = await context();
    await apply(backup, step('backup', [backupAction()]), specOf<BackupStep>('backup'), ctx);
    const first = certDirState(backupDirOf(certDir, RUN));
    writeFileSync(join(certDir, 'etcd.pem'), 'CHANGED SINCE\n');
    await expect(apply(backup, step('backup', [backupAction()]), specOf<BackupStep>('backup'), await context())).rejects.toThrow(/already exists/);
    expect(certDirState(backupDirOf(certDir, RUN))).toEqual(first);
  });

  it('leaves a .partial of another run alone, and redoes the .partial this run left when it crashed', async () => {
    const partial = partialBackupOf(backupDirOf(certDir, RUN));
    mkdirSync(partial);
    writeFileSync(join(partial, BACKUP_META), '{"runId":"someone-else"}\n');
    await expect(apply(backup, step('backup', [backupAction()]), specOf<BackupStep>('backup'), await context())).rejects.toThrow(/belongs to another run/);
    expect(readFileSync(join(partial, BACKUP_META), 'utf8')).toBe('{"runId":"someone-else"}\n');
    writeFileSync(join(partial, BACKUP_META), `{"runId":"${RUN}"}\n`);
    writeFileSync(join(partial, 'half-copied.pem'), 'x');
    expect(await apply(backup, step('backup', [backupAction()]), specOf<BackupStep>('backup'), await context())).toEqual([
      '5 files copied and verified by sha256 (a partial backup left by a crash was removed and written again)',
    ]);
    expect(existsSync(join(backupDirOf(certDir, RUN), 'half-copied.pem'))).toBe(false);
  });

  it('on resume an existing backup is verified, not taken again; one that no longer verifies stops the step', async () => {
    await apply(backup, step('backup', [backupAction()]), specOf<BackupStep>('backup'), await context());
    expect(await apply(backup, step('backup', [backupAction({ existing: true })]), specOf<BackupStep>('backup'), await context())).toEqual(['existing backup verified (5 files)']);
    writeFileSync(join(backupDirOf(certDir, RUN), 'etcd.pem'), 'TAMPERED\n');
    await expect(apply(backup, step('backup', [backupAction({ existing: true })]), specOf<BackupStep>('backup'), await context())).rejects.toThrow(/does not verify/);
  });
});

describe('restore from a backup', () => {
  const managed = Object.values(playbook.files);

  it('puts every file back (content and mode) and deletes only what a run can have created: managed files and its staging files', async () => {
    const before = certDirState();
    await apply(backup, step('backup', [backupAction()]), specOf<BackupStep>('backup'), await context());
    // What a run (and someone else) did since: a file changed and chmod-ed, one deleted, a managed file created, a staged
    // file of this run and one of another left behind, and a file nobody manages.
    writeFileSync(join(certDir, 'etcd.pem'), 'NEW CERT\n');
    chmodSync(join(certDir, 'etcd.pem'), 0o600);
    rmSync(join(certDir, 'etcd-ca.pem'));
    writeFileSync(join(certDir, 'etcd-ca-key.pem'), 'CA KEY\n');
    writeFileSync(stagedName(certDir, 'etcd-key.pem', RUN), 'STAGED\n');
    writeFileSync(stagedName(certDir, 'etcd.pem', 'other-run'), 'STAGED BY ANOTHER\n');
    writeFileSync(join(certDir, 'notes.txt'), 'an operator note\n');
    const r = await restoreHost(remote, certDir, backupDirOf(certDir, RUN), 'rb1', managed);
    expect(r.files).toBe(5);
    expect(r.removed.sort()).toEqual(['.etcd-key.pem.certroll-' + RUN, '.etcd.pem.certroll-other-run', 'etcd-ca-key.pem']);
    const { ['notes.txt']: note, ...rest } = certDirState();
    expect(rest).toEqual(before);
    expect(note).toBeDefined();
    // The backup itself is untouched and still verifies.
    expect((await inspectBackup(remote, backupDirOf(certDir, RUN))).verified).toBe(true);
  });

  it('a park dir inside the cert dir (kubeadm): a manifest the run parked there (marked) goes, the backup puts it back in place', async () => {
    mkdirSync(join(certDir, 'manifests'), { recursive: true });
    writeFileSync(join(certDir, 'manifests', 'etcd.yaml'), 'apiVersion: v1\n');
    const before = certDirState();
    await apply(backup, step('backup', [backupAction()]), specOf<BackupStep>('backup'), await context());
    // The run parked etcd.yaml (with its marker) and died; an unmarked file sits in the park dir too (not the run's).
    mkdirSync(join(certDir, 'parked'), { recursive: true });
    renameSync(join(certDir, 'manifests', 'etcd.yaml'), join(certDir, 'parked', 'etcd.yaml'));
    writeFileSync(join(certDir, 'parked', 'etcd.yaml.certroll-park'), '{"runId":"x"}\n');
    writeFileSync(join(certDir, 'parked', 'other.yaml'), 'not parked by certroll\n');
    const r = await restoreHost(remote, certDir, backupDirOf(certDir, RUN), 'rb3', managed, { parkDir: join(certDir, 'parked'), manifestsDir: join(certDir, 'manifests') });
    expect(r.removed).toEqual(['parked/etcd.yaml']); // its marker goes with it (the state below)
    const { ['parked/other.yaml']: other, ...rest } = certDirState();
    expect(rest).toEqual(before);
    expect(other).toBeDefined();
    rmSync(join(certDir, 'parked'), { recursive: true, force: true });
    rmSync(join(certDir, 'manifests'), { recursive: true, force: true });
  });

  it('a park dir inside the cert dir and the manifests dir outside it: the parked manifest goes back to its empty place', async () => {
    const outside = join(top, 'manifests-outside');
    mkdirSync(outside, { recursive: true });
    await apply(backup, step('backup', [backupAction()]), specOf<BackupStep>('backup'), await context());
    mkdirSync(join(certDir, 'parked'), { recursive: true });
    writeFileSync(join(certDir, 'parked', 'etcd.yaml'), 'apiVersion: v1\n');
    writeFileSync(join(certDir, 'parked', 'etcd.yaml.certroll-park'), '{"runId":"x"}\n');
    const r = await restoreHost(remote, certDir, backupDirOf(certDir, RUN), 'rb4', managed, { parkDir: join(certDir, 'parked'), manifestsDir: outside });
    expect(r.removed).toContain('parked/etcd.yaml (put back in place)');
    expect(readFileSync(join(outside, 'etcd.yaml'), 'utf8')).toBe('apiVersion: v1\n');
    expect(readdirSync(join(certDir, 'parked'))).toEqual([]);
    rmSync(join(certDir, 'parked'), { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('leaves a file already as in the backup untouched (same inode: a static pod manifest rewritten restarts its pod)', async () => {
    const before = certDirState();
    await apply(backup, step('backup', [backupAction()]), specOf<BackupStep>('backup'), await context());
    writeFileSync(join(certDir, 'etcd.pem'), 'NEW CERT\n');
    chmodSync(join(certDir, 'etcd-ca.pem'), 0o600); // same bytes, other mode: restored
    const inode = (f: string) => statSync(join(certDir, f)).ino;
    const untouched = Object.keys(before).filter((f) => f !== 'etcd.pem' && f !== 'etcd-ca.pem');
    const inodes = untouched.map(inode);
    const changed = ['etcd.pem', 'etcd-ca.pem'].map(inode);
    await restoreHost(remote, certDir, backupDirOf(certDir, RUN), 'rb5', managed);
    expect(certDirState()).toEqual(before);
    expect(untouched.map(inode)).toEqual(inodes);
    expect(['etcd.pem', 'etcd-ca.pem'].map(inode)).not.toEqual(changed);
  });

  it('refuses a backup that does not verify and leaves the cert dir as it is', async () => {
    await apply(backup, step('backup', [backupAction()]), specOf<BackupStep>('backup'), await context());
    writeFileSync(join(certDir, 'etcd.pem'), 'NEW CERT\n');
    const now = certDirState();
    writeFileSync(join(backupDirOf(certDir, RUN), 'etcd-key.pem'), 'TAMPERED\n');
    await expect(restoreHost(remote, certDir, backupDirOf(certDir, RUN), 'rb2', managed)).rejects.toThrow(/cannot restore/);
    expect(certDirState()).toEqual(now);
  });
});

describe('distribute: stage, then the back-to-back swap', () => {
  const roles: FileRole[] = ['key', 'cert', 'ca'];
  const stage = (role: FileRole): Action => ({
    kind: 'stage',
    host: 'n1',
    role,
    path: join(certDir, playbook.files[role]),
    staged: stagedName(certDir, playbook.files[role], RUN),
    sha256: material.files[role].sha256,
    size: material.files[role].size,
    mode: role === 'key' ? 0o600 : 0o644,
    uid,
    gid,
    secret: role === 'key',
  });
  const swap: Action = { kind: 'swap', host: 'n1', renames: roles.map((role) => ({ from: stagedName(certDir, playbook.files[role], RUN), to: join(certDir, playbook.files[role]), role })) };

  it('stages every file beside the live one (sha256 checked) without touching the live files', async () => {
    const before = certDirState();
    const said = await apply(distribute, step('distribute', [...roles.map(stage), swap]), specOf<DistributeStep>('distribute'), await context(), 1);
    expect(said).toEqual(['staged etcd-key.pem, etcd.pem, etcd-ca.pem (sha256 verified)']);
    const now = certDirState();
    for (const p of Object.keys(before)) expect(now[p]).toBe(before[p]);
    for (const role of roles) expect(readFileSync(stagedName(certDir, playbook.files[role], RUN), 'utf8')).toBe(NEW[role]);
    expect(statSync(stagedName(certDir, 'etcd-key.pem', RUN)).mode & 0o777).toBe(0o600);
  });

  it('swaps key, cert and CA in one remote command, keeping modes, leaving no staged file', async () => {
    await apply(distribute, step('distribute', [...roles.map(stage), swap]), specOf<DistributeStep>('distribute'), await context());
    const now = certDirState();
    expect(now['etcd-key.pem']).toBe(`600 ${sha256(NEW.key)}`);
    expect(now['etcd.pem']).toBe(`644 ${sha256(NEW.cert)}`);
    expect(now['etcd-ca.pem']).toBe(`644 ${sha256(NEW.ca)}`);
    expect(now['apiserver.pem']).toBe(certDirState()['apiserver.pem']);
    expect(Object.keys(now).filter((p) => p.includes('.certroll-'))).toEqual([]);
    const swaps = remote.log.filter((l) => l.script.includes('mv -f --'));
    expect(swaps).toHaveLength(1);
    const s = swaps[0]!.script;
    expect(s.indexOf('etcd-key.pem.certroll')).toBeLessThan(s.indexOf('etcd.pem.certroll'));
    expect(intents).toContain(`intent swap: ${roles.map((r) => join(certDir, playbook.files[r])).join(' ')}`);
  });

  it('a missing staged file stops the swap before any rename: no live file changes', async () => {
    await apply(distribute, step('distribute', [...roles.map(stage), swap]), specOf<DistributeStep>('distribute'), await context(), 1);
    rmSync(stagedName(certDir, 'etcd-ca.pem', RUN));
    const before = certDirState();
    const swapOnly: PlannedStep = step('distribute', [swap]);
    await expect(apply(distribute, swapOnly, specOf<DistributeStep>('distribute'), await context())).rejects.toThrow(/swapping in the new files failed/);
    expect(certDirState()).toEqual(before);
  });
});

describe('the run lock', () => {
  const owner = (runId: string): LockOwner => ({ runId, startedAt: '2026-12-02T13:00:00Z', controlHost: 'ctl', user: 'u' });

  it('is taken once: another run is refused with the holder named; the holder takes it again (resume); only the holder releases it', async () => {
    await takeLock(remote, certDir, owner(RUN), false);
    const held = JSON.parse(readFileSync(join(lockDirOf(certDir), 'owner.json'), 'utf8')) as LockOwner;
    expect(held).toMatchObject({ runId: RUN, pid: process.pid, controlHost: 'ctl' });
    const refused = await takeLock(remote, certDir, owner('other-run'), false).then(() => null, (e: unknown) => e);
    expect(refused).toBeInstanceOf(SafetyStop);
    expect((refused as SafetyStop).message).toContain(`holds the lock ${lockDirOf(certDir)} (run ${RUN}, started 2026-12-02T13:00:00Z from ctl)`);
    await takeLock(remote, certDir, owner(RUN), false);
    await releaseLock(remote, certDir, 'other-run');
    expect(existsSync(lockDirOf(certDir))).toBe(true);
    await releaseLock(remote, certDir, RUN);
    expect(existsSync(lockDirOf(certDir))).toBe(false);
    // The lock lives beside the cert dir: a backup never contains it.
    expect(lockDirOf(certDir).startsWith(`${certDir}/`)).toBe(false);
  });

  it('--break-lock takes over a lock held by another run', async () => {
    await takeLock(remote, certDir, owner('stale-run'), false);
    await takeLock(remote, certDir, owner(RUN), true);
    expect(JSON.parse(readFileSync(join(lockDirOf(certDir), 'owner.json'), 'utf8'))).toMatchObject({ runId: RUN });
  });
});

describe('rolling restart: park and unpark one node', () => {
  const spec = () => specOf<RollingRestartStep>('rolling-restart');

  it('parks the manifest with a marker naming the run and its sha256, waits until the container is gone, puts it back and removes the marker', async () => {
    // The container check also records what the park dir holds while the node is stopped.
    const seen = join(top, 'seen');
    writeFileSync(join(binDir, 'containers'), `#!/bin/sh\ncat ${parkDir}/*.certroll-park >> ${seen} 2>/dev/null; ls ${manifestsDir} | sed 's/\\.manifest$//'\n`, { mode: 0o755 });
    const manifest = readFileSync(join(manifestsDir, 'tos-etcd.manifest'));
    const ctx = await context();
    const said: string[] = [];
    await restartOne(ctx, spec(), restartActionFor(ctx, spec(), 'n1', 1, true, 0), (m) => said.push(m), { skipQuorumCheck: true });
    expect(readFileSync(join(manifestsDir, 'tos-etcd.manifest'))).toEqual(manifest);
    expect(existsSync(join(parkDir, 'tos-etcd.manifest'))).toBe(false);
    expect(existsSync(parkMarkerOf(parkDir, 'tos-etcd.manifest'))).toBe(false);
    const marker = JSON.parse(readFileSync(seen, 'utf8').split('\n')[0]!) as Record<string, string>;
    expect(marker).toMatchObject({ runId: RUN, host: 'n1', manifest: 'tos-etcd.manifest', from: join(manifestsDir, 'tos-etcd.manifest'), to: join(parkDir, 'tos-etcd.manifest'), sha256: sha256(manifest) });
    expect(said.at(-1)).toBe('n1: healthy with the certificates now on disk, caught up with the leader');
    expect(intents.filter((i) => i.startsWith('intent'))).toEqual([`intent park: ${join(manifestsDir, 'tos-etcd.manifest')}`, `intent unpark: ${join(manifestsDir, 'tos-etcd.manifest')}`]);
  });

  it('a container that does not stop: the manifest goes back, the marker goes, the run stops (stop-timeout)', async () => {
    writeFileSync(join(binDir, 'containers'), '#!/bin/sh\necho tos-etcd\n', { mode: 0o755 });
    const ctx = await context();
    const e = await restartOne(ctx, spec(), restartActionFor(ctx, spec(), 'n1', 1, true, 0), () => undefined, { skipQuorumCheck: true }).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(SafetyStop);
    expect((e as SafetyStop).check).toBe('stop-timeout');
    expect(existsSync(join(manifestsDir, 'tos-etcd.manifest'))).toBe(true);
    expect(readdirSync(parkDir).filter((f) => f.includes('tos-etcd'))).toEqual([]);
  });

  it('a node a dead run left parked: its manifest is put back first and the marker removed', async () => {
    const ctx = await context();
    writeFileSync(join(parkDir, 'tos-etcd.manifest'), readFileSync(join(manifestsDir, 'tos-etcd.manifest')));
    rmSync(join(manifestsDir, 'tos-etcd.manifest'));
    writeFileSync(parkMarkerOf(parkDir, 'tos-etcd.manifest'), '{"runId":"dead-run"}\n');
    const a = { ...restartActionFor(ctx, spec(), 'n1', 1, true, 0), parked: { runIds: ['dead-run'], files: ['tos-etcd.manifest'] } };
    const said: string[] = [];
    await restartOne(ctx, spec(), a, (m) => said.push(m));
    expect(said[0]).toBe('n1: manifests parked by run dead-run (tos-etcd.manifest); putting them back');
    expect(existsSync(join(manifestsDir, 'tos-etcd.manifest'))).toBe(true);
    expect(existsSync(parkMarkerOf(parkDir, 'tos-etcd.manifest'))).toBe(false);
  });
});

describe('the engine cleans up after a failure', () => {
  it("deletes this run's staged files (not another run's) and releases this run's lock", async () => {
    const spec = specOf<DistributeStep>('distribute');
    const stageKey: Action = { kind: 'stage', host: 'n1', role: 'key', path: join(certDir, 'etcd-key.pem'), staged: stagedName(certDir, 'etcd-key.pem', RUN), sha256: material.files.key.sha256, size: NEW.key.length, mode: 0o600, uid, gid, secret: true };
    // The swap names a staged file that is never written: the step fails after staging the key.
    const badSwap: Action = { kind: 'swap', host: 'n1', renames: [{ from: stagedName(certDir, 'etcd-ca.pem', RUN), to: join(certDir, 'etcd-ca.pem'), role: 'ca' }] };
    const planned = step('distribute', [stageKey, badSwap], playbook.steps.indexOf(spec));
    const ctx = await context([planned]);
    writeFileSync(stagedName(certDir, 'etcd.pem', 'other-run'), 'another run\n');
    await takeLock(remote, certDir, { runId: RUN, startedAt: 'now', controlHost: 'ctl', user: 'u' }, false);
    ctx.locked.add('n1');
    const journal = new Journal(RUN, join(top, 'journal'));
    await journal.init();
    const before = certDirState();
    const result = await applyPlan(ctx, { renderer: 'silent', forks: 1, journal });
    expect(result.outcomes.map((o) => o.state)).toEqual(['failed']);
    expect(existsSync(stagedName(certDir, 'etcd-key.pem', RUN))).toBe(false);
    expect(existsSync(stagedName(certDir, 'etcd.pem', 'other-run'))).toBe(true);
    expect(existsSync(lockDirOf(certDir))).toBe(false);
    const { ['.etcd-key.pem.certroll-' + RUN]: _staged, ...live } = before;
    expect(certDirState()).toEqual(live);
  });
});

describe('a rollback plan on the one engine', () => {
  const ROLLBACK = '20261202T140000Z-rb0001';
  const rollbackPlan = (): PlannedStep[] =>
    [
      step('take-lock', [{ kind: 'lock', host: 'n1', path: lockDirOf(certDir) }]),
      // No backup of the run exists: verification fails before any host is touched.
      step('verify-backup', [{ kind: 'verify-backup', host: 'n1', backupDir: backupDirOf(certDir, RUN), files: 1, expected: [] }]),
      step('restore', [{ kind: 'restore', host: 'n1', from: backupDirOf(certDir, RUN), to: certDir, files: 1, changes: [], removes: [] }]),
      step('cleanup', [{ kind: 'release', host: 'n1', path: lockDirOf(certDir), dir: certDir, staged: `.*.certroll-restore-${ROLLBACK}` }]),
    ].map((s, i) => ({ ...s, index: i }));
  const rollbackContext = async (signal = new AbortController().signal): Promise<ApplyContext> => {
    const ctx = await context(rollbackPlan());
    return { ...ctx, runId: ROLLBACK, signal, plan: { ...ctx.plan, runId: ROLLBACK, kind: 'rollback', rollbackOf: RUN }, options: { ...ctx.options, lockFields: { kind: 'rollback', rollbackOf: RUN } } };
  };

  it('a failed verification stops the steps that need it; the cleanup phase still runs and releases the lock, deleting staged copies', async () => {
    const ctx = await rollbackContext();
    writeFileSync(join(certDir, `.etcd.pem.certroll-restore-${ROLLBACK}`), 'half a restore\n');
    const journal = new Journal(ROLLBACK, join(top, 'journal-rb1'));
    await journal.init();
    const result = await applyPlan(ctx, { renderer: 'silent', forks: 1, journal });
    expect(result.outcomes.map((o) => [o.type, o.state])).toEqual([['take-lock', 'done'], ['verify-backup', 'failed'], ['restore', 'not-run'], ['cleanup', 'done']]);
    expect(result.outcomes[2]!.reason).toMatch(/needs 2\. verify-backup \(failed\)/);
    expect((result.error as SafetyStop).message).toMatch(/does not verify/);
    expect(existsSync(lockDirOf(certDir))).toBe(false);
    expect(existsSync(join(certDir, `.etcd.pem.certroll-restore-${ROLLBACK}`))).toBe(false);
    expect(result.pastNoReturn).toBe(false);
  });

  it('the lock a rollback takes says so (kind, rollbackOf), also after the engine notes the step in it', async () => {
    const ctx = await rollbackContext();
    const [lock] = rollbackPlan();
    for (const p of ([] as Phase[]).concat(takeLockStep.apply(lock!, undefined, ctx))) for (const item of p.items) await item.run(() => undefined);
    expect(ctx.locked.has('n1')).toBe(true);
    await noteLockStep(remote, certDir, lockOwner(ctx), '3. restore the cert dirs');
    const owner = JSON.parse(readFileSync(join(lockDirOf(certDir), 'owner.json'), 'utf8')) as LockOwner;
    expect(owner).toMatchObject({ runId: ROLLBACK, kind: 'rollback', rollbackOf: RUN, step: '3. restore the cert dirs' });
    await releaseLock(remote, certDir, ROLLBACK);
  });

  it('interrupted before it starts: no step runs but the cleanup, and the result is an interruption (not a success)', async () => {
    const stop = new AbortController();
    stop.abort();
    const ctx = await rollbackContext(stop.signal);
    await takeLock(remote, certDir, { runId: ROLLBACK, startedAt: 'now', controlHost: 'ctl', user: 'u' }, false);
    ctx.locked.add('n1');
    const journal = new Journal(ROLLBACK, join(top, 'journal-rb3'));
    await journal.init();
    const result = await applyPlan(ctx, { renderer: 'silent', forks: 1, journal });
    expect(result.outcomes.map((o) => o.state)).toEqual(['not-run', 'not-run', 'not-run', 'done']);
    expect((result.error as Error).name).toBe('Interrupted');
    expect(existsSync(lockDirOf(certDir))).toBe(false);
  });
});
