// Which backups `certroll backups --prune --keep N` may delete: never the newest, never an unfinished run's, never a foreign directory.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../../src/inventory/load.js';
import { lockDirOf } from '../../../src/host-paths.js';
import { listHostBackups } from '../../../src/rollback/backups.js';
import { LocalRemote } from '../../support/local-remote.js';
import { runStandings, selectPrune, type BackupEntry, type HostBackups } from '../../../src/rollback/backups.js';
import type { RunSummary } from '../../../src/journal/journal.js';

const entry = (runId: string, createdAt: string, over: Partial<BackupEntry> = {}): BackupEntry => ({
  host: 'n1',
  dir: `/srv/kubernetes-bak-${runId}`,
  runId,
  createdAt,
  sizeKiB: 40,
  certroll: true,
  verified: true,
  ...over,
});
const host = (backups: BackupEntry[], lockedBy?: string): HostBackups => ({ host: 'n1', certDir: '/srv/kubernetes', backups, ...(lockedBy ? { lockedBy } : {}) });
const run = (runId: string, state: RunSummary['state'], extra: Record<string, string> = {}) => ({ runId, state, inventory: 'i', playbook: 'p', startedAt: 's', ...extra });

const A = entry('20261101T000000Z-aaaaaa', '2026-11-01T00:00:00Z');
const B = entry('20261110T000000Z-bbbbbb', '2026-11-10T00:00:00Z');
const C = entry('20261120T000000Z-cccccc', '2026-11-20T00:00:00Z');

const decide = (h: HostBackups, keep: number, runs: ReturnType<typeof run>[] = []) =>
  Object.fromEntries(selectPrune(h, keep, runStandings(runs)).map((d) => [d.entry.runId, `${d.action}: ${d.why}`]));

describe('selectPrune', () => {
  it('keeps the newest N and deletes older finished ones', () => {
    const d = decide(host([A, C, B]), 1, [run(A.runId, 'succeeded'), run(B.runId, 'succeeded'), run(C.runId, 'succeeded')]);
    expect(d[C.runId]).toBe('keep: newest');
    expect(d[B.runId]).toMatch(/^delete/);
    expect(d[A.runId]).toMatch(/^delete/);
    expect(decide(host([A, B, C]), 2)[B.runId]).toMatch(/^keep/);
  });

  it('never deletes the newest, even with an invalid keep', () => {
    expect(() => selectPrune(host([A]), 0, runStandings([]))).toThrow(/≥ 1/);
  });

  it('keeps a backup of an unfinished run (failed, interrupted, running) unless a rollback of it succeeded', () => {
    const d = decide(host([A, B, C]), 1, [run(A.runId, 'failed'), run(B.runId, 'interrupted'), run('rb-1', 'succeeded', { rollbackOf: A.runId, kind: 'rollback' })]);
    expect(d[B.runId]).toMatch(/^keep: run .* is unfinished \(journal: interrupted\)/);
    expect(d[A.runId]).toMatch(/^delete: .*failed, rolled back/);
  });

  it('keeps a backup of the run holding the host lock', () => {
    expect(decide(host([A, B, C], A.runId), 1)[A.runId]).toMatch(/^keep: run .* holds the lock/);
  });

  it('never touches a directory without certroll metadata (a hand-made cp -r backup)', () => {
    const manual = entry('20240101', '2024-01-01T00:00:00Z', { certroll: false, verified: false });
    expect(decide(host([manual, A, B]), 1)['20240101']).toMatch(/^keep: not a certroll backup/);
  });

  it('a run the local journal does not know is prunable (a lock on the host still protects a run in progress)', () => {
    expect(decide(host([A, B]), 1)[A.runId]).toBe('delete: older than the newest 1');
  });
});

describe('listHostBackups: the lock file as a host holds it', () => {
  // JSON that is no owner record (null, a number, a runId that is not text) is an unreadable lock file, like bad JSON.
  for (const text of ['null', '42', '{"runId": 7}', '{not json', '{"runId":"20261101T000000Z-aaaaaa"}']) {
    it(`owner.json ${text}`, async () => {
      const top = mkdtempSync(join(tmpdir(), 'certroll-lockfile-'));
      try {
        const certDir = join(top, 'kubernetes');
        mkdirSync(lockDirOf(certDir), { recursive: true });
        writeFileSync(join(lockDirOf(certDir), 'owner.json'), text);
        const inv = parseInventory([`vars: { serviceIp: 10.96.0.1, certDir: ${certDir} }`, 'hosts:', '  n1: { address: 127.0.0.1 }', 'groups: { master: [n1], etcd: [n1] }'].join('\n'), 'inv.yaml');
        const h = await listHostBackups(new LocalRemote('n1'), inv.hosts[0]!);
        expect(h.lockedBy).toBe(text.includes('aaaaaa') ? '20261101T000000Z-aaaaaa' : 'unknown (unreadable lock file)');
      } finally {
        rmSync(top, { recursive: true, force: true });
      }
    });
  }
});
