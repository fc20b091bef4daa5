// End to end on the lab: `certroll backups` lists every host's backups with run, date, size and whether they verify;
// `--prune --keep 1` deletes older ones but never the newest, never one of an unfinished run, never one a lock names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certroll } from '../support/cli.js';
import { labSh, resetLab, type LabInfo } from './lab-helpers.js';

const home = mkdtempSync(join(tmpdir(), 'certroll-e2e-backups-'));
let lab: LabInfo;
let env: Record<string, string>;
let playbook: string;
let run1: string;
let run2: string;

interface Listed {
  hosts: Array<{ host: string; lockedBy: string | null; backups: Array<{ dir: string; runId: string; createdAt: string; sizeKiB: number; verified: boolean; certroll: boolean; runState: string; prune?: { action: string; why: string } | null }> }>;
  failures: unknown[];
  deleted?: Array<{ host: string; dir: string }>;
}

async function list(extra: string[] = []): Promise<{ code: number; j: Listed }> {
  const r = await certroll(['backups', '-i', lab.inventory, '--json', ...extra], env);
  return { code: r.code, j: JSON.parse(r.stdout) as Listed };
}

async function runOnce(extra: string[] = []): Promise<string> {
  const r = await certroll(['run', '-i', lab.inventory, playbook, '--yes', '--pause', '1', '--json', ...extra], env);
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return (JSON.parse(r.stdout) as { runId: string }).runId;
}

const setState = (runId: string, state: string) => {
  const p = join(home, 'runs', runId, 'run.json');
  writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, 'utf8')), state }));
};

beforeAll(async () => {
  expect(existsSync('dist/cli/bin.js'), 'build first: npm run build').toBe(true);
  lab = await resetLab();
  env = { CERTROLL_HOME: home, CERTROLL_DB_PASSWORD: lab.db.password };
  playbook = 'playbooks/tos-etcd-renew.yaml';
  run1 = await runOnce();
  run2 = await runOnce(['--force']);
}, 900_000);
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('certroll backups on the lab', () => {
  it('lists both runs\' backups on every host, newest first, verified, with size and date', async () => {
    const { code, j } = await list();
    expect(code).toBe(0);
    expect(j.hosts.map((h) => h.host)).toEqual(lab.hosts.map((h) => h.name));
    for (const h of j.hosts) {
      expect(h.backups.map((b) => b.runId)).toEqual([run2, run1]);
      for (const b of h.backups) {
        expect(b).toMatchObject({ verified: true, certroll: true, runState: 'succeeded', dir: `/srv/kubernetes-bak-${b.runId}` });
        expect(b.sizeKiB).toBeGreaterThan(0);
        expect(Date.parse(b.createdAt)).toBeGreaterThan(Date.now() - 3600_000);
      }
    }
    const text = await certroll(['backups', '-i', lab.inventory], env);
    expect(text.stdout, text.stderr).toMatch(/HOST\s+BACKUP\s+RUN\s+CREATED\s+SIZE\s+VERIFIED/);
  }, 120_000);

  it('a backup whose file changed does not verify (exit code 1, the problem shown)', async () => {
    const victim = lab.hosts[3]!.name;
    await labSh(victim, `echo x >> /srv/kubernetes-bak-${run1}/etcd-ca.pem`);
    const { code, j } = await list();
    expect(code).toBe(1);
    const b = j.hosts.find((h) => h.host === victim)!.backups.find((x) => x.runId === run1)!;
    expect(b.verified).toBe(false);
    const text = await certroll(['backups', '-i', lab.inventory], env);
    expect(text.stdout, text.stderr).toMatch(new RegExp(`${victim}: /srv/kubernetes-bak-${run1}: .*does not match its checksum manifest`));
  }, 120_000);

  it('--prune --keep 1 keeps a backup of an unfinished run and one a lock names', async () => {
    setState(run1, 'interrupted');
    const dry = await list(['--prune', '--keep', '1', '--dry-run']);
    for (const h of dry.j.hosts) {
      expect(h.backups.find((b) => b.runId === run2)!.prune).toMatchObject({ action: 'keep', why: 'newest' });
      expect(h.backups.find((b) => b.runId === run1)!.prune!.why).toMatch(/unfinished \(journal: interrupted\)/);
    }
    setState(run1, 'succeeded');
    const locked = lab.hosts[0]!.name;
    await labSh(locked, `mkdir /srv/kubernetes.certroll-lock && echo '{"runId":"${run1}","startedAt":"x"}' > /srv/kubernetes.certroll-lock/owner.json`);
    const d2 = await list(['--prune', '--keep', '1', '--dry-run']);
    expect(d2.j.hosts.find((h) => h.host === locked)!.backups.find((b) => b.runId === run1)!.prune!.why).toMatch(/holds the lock/);
    expect(d2.j.hosts.find((h) => h.host !== locked)!.backups.find((b) => b.runId === run1)!.prune!.action).toBe('delete');
    expect(d2.j.deleted).toEqual([]);
    expect(await labSh(lab.hosts[1]!.name, `ls -d /srv/kubernetes-bak-${run1}`)).toContain(run1);
    await labSh(locked, 'rm -rf /srv/kubernetes.certroll-lock');
  }, 120_000);

  it('--prune --keep 1 deletes the older backup on every host and never the newest', async () => {
    const r = await list(['--prune', '--keep', '1', '--yes']);
    expect(r.j.deleted!.map((d) => d.host).sort()).toEqual(lab.hosts.map((h) => h.name).sort());
    for (const h of lab.hosts) expect((await labSh(h.name, 'ls -d /srv/kubernetes-bak-* 2>/dev/null || true')).trim()).toBe(`/srv/kubernetes-bak-${run2}`);
    const again = await list(['--prune', '--keep', '1', '--yes']);
    expect(again.j.deleted).toEqual([]);
    for (const h of again.j.hosts) expect(h.backups.map((b) => [b.runId, b.verified])).toEqual([[run2, true]]);
    const bad = await certroll(['backups', '-i', lab.inventory, '--prune', '--keep', '0'], env);
    expect(bad.code).toBe(3);
  }, 120_000);
});
