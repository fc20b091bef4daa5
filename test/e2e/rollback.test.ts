// End to end on the lab: `certroll rollback` after a successful run puts every host back byte for byte and etcd runs healthy
// with the old certificates; --dry-run changes nothing; --from-backup works without the local journal; a tampered backup is refused
// before any host is touched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certroll } from '../support/cli.js';
import { labSh, resetLab, type LabInfo } from './lab-helpers.js';

const home = mkdtempSync(join(tmpdir(), 'certroll-e2e-rollback-'));
let lab: LabInfo;
let env: Record<string, string>;
let playbook: string;

/** Every file of the cert dir and the Manager templates (path, mode, owner, sha256), the manager_info rows, and any lock dir. */
async function snapshot(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const script = `cd /srv/kubernetes && find . -type f -exec stat -c '%n %a %u %g %s' {} + | sort && find . -type f -exec sha256sum {} + | sort
[ -d /var/lib/transwarp-manager ] && find /var/lib/transwarp-manager -type f -exec sha256sum {} + | sort
ls -d /srv/kubernetes.certroll-lock 2>/dev/null || true`;
  for (const h of lab.hosts) out[h.name] = await labSh(h.name, script);
  out.db = await labSh(lab.manager.name, `mysql -N -u${lab.db.user} -p'${lab.db.password}' -h ${lab.db.host} ${lab.db.database} -e "select \\\`key\\\`, sha2(value, 256) from manager_info order by 1" 2>&1`);
  return out;
}

async function runOnce(extra: string[] = []): Promise<string> {
  const r = await certroll(['run', '-i', lab.inventory, playbook, '--yes', '--pause', '1', '--json', ...extra], env);
  expect(r.code, r.stderr + r.stdout).toBe(0);
  const j = JSON.parse(r.stdout) as { runId: string; state: string };
  expect(j.state).toBe('succeeded');
  return j.runId;
}

const etcdHealth = () => labSh(lab.etcd[0]!.name, `ETCDCTL_API=3 etcdctl --cacert /srv/kubernetes/etcd-ca.pem --cert /srv/kubernetes/etcd.pem --key /srv/kubernetes/etcd-key.pem --endpoints ${lab.etcdEndpoints.join(',')} endpoint health 2>&1`);

beforeAll(async () => {
  expect(existsSync('dist/cli/bin.js'), 'build first: npm run build').toBe(true);
  lab = await resetLab();
  env = { CERTROLL_HOME: home, CERTROLL_DB_PASSWORD: lab.db.password };
  playbook = 'playbooks/tos-etcd-renew.yaml';
}, 600_000);
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('certroll rollback on the lab', () => {
  let before: Record<string, string>;
  let afterRun: Record<string, string>;
  let oldCaSha: string;
  let runId: string;

  it('a run renews the certificates (precondition)', async () => {
    before = await snapshot();
    oldCaSha = (await labSh(lab.etcd[0]!.name, 'sha256sum /srv/kubernetes/etcd-ca.pem')).split(' ')[0]!;
    runId = await runOnce();
    afterRun = await snapshot();
    expect(afterRun[lab.etcd[0]!.name]).not.toEqual(before[lab.etcd[0]!.name]);
  }, 300_000);

  it('rollback --dry-run prints the plan and changes nothing anywhere', async () => {
    const r = await certroll(['rollback', '-i', lab.inventory, '--run', runId, '--dry-run', '--pause', '1'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`of run ${runId}`);
    expect(r.stdout).toMatch(/Status: ready/);
    expect(r.stdout).toMatch(/\(leader, last\)/);
    expect(r.stdout).toContain('--dry-run: nothing was changed');
    const j = await certroll(['rollback', '-i', lab.inventory, '--run', runId, '--dry-run', '--json'], env);
    expect(JSON.parse(j.stdout).status).toBe('ready');
    expect(await snapshot()).toEqual(afterRun);
    expect(readdirSync(join(home, 'runs'))).toEqual([runId]);
  }, 120_000);

  it('rollback puts every host back byte-identical to before the run; etcd is healthy with the old certificates', async () => {
    const t0 = Date.now();
    const r = await certroll(['rollback', '-i', lab.inventory, '--run', runId, '--yes', '--pause', '1', '--json'], env);
    const wall = Date.now() - t0;
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const j = JSON.parse(r.stdout) as { state: string; rollbackId: string; restored: unknown[]; restarted: Array<{ host: string; leader: boolean }>; stats: { wallMs: number; connections: number; roundTrips: number; hosts: number } };
    expect(j.state).toBe('succeeded');
    console.log(`rollback on the lab: ${j.stats.wallMs} ms inside certroll, ${wall} ms wall for the CLI; ${j.stats.connections} SSH connections for ${j.stats.hosts} hosts, ${j.stats.roundTrips} round trips; restart order ${j.restarted.map((x) => x.host + (x.leader ? ' (leader)' : '')).join(' → ')}`);
    expect(j.restored).toHaveLength(lab.hosts.length);
    expect(j.restarted.map((x) => x.leader)).toEqual([false, false, true]);
    expect(j.stats.connections).toBe(j.stats.hosts);

    expect(await snapshot()).toEqual(before);
    expect((await labSh(lab.etcd[0]!.name, 'sha256sum /srv/kubernetes/etcd-ca.pem')).split(' ')[0]).toBe(oldCaSha);
    expect((await etcdHealth()).match(/is healthy/g)).toHaveLength(3);
    for (const h of lab.etcd) expect(await labSh(h.name, 'openssl verify -CAfile /srv/kubernetes/etcd-ca.pem /srv/kubernetes/etcd.pem')).toContain('OK');

    const run = JSON.parse(readFileSync(join(home, 'runs', j.rollbackId, 'run.json'), 'utf8'));
    expect(run).toMatchObject({ state: 'succeeded', kind: 'rollback', rollbackOf: runId });
    expect(readFileSync(join(home, 'runs', runId, 'events.jsonl'), 'utf8')).toContain('"rolled-back"');
    expect(readFileSync(join(home, 'runs', j.rollbackId, 'events.jsonl'), 'utf8')).not.toContain('PRIVATE KEY');
  }, 300_000);

  it('--from-backup works after the local journal is lost, from the backups on the hosts alone', async () => {
    const run2 = await runOnce();
    rmSync(join(home, 'runs'), { recursive: true, force: true });
    const lost = await certroll(['rollback', '-i', lab.inventory, '--run', run2, '--dry-run'], env);
    expect(lost.code).toBe(3);
    expect(lost.stderr).toContain('--from-backup');
    const r = await certroll(['rollback', '-i', lab.inventory, playbook, '--from-backup', `/srv/kubernetes-bak-${run2}`, '--yes', '--pause', '1', '--json'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(JSON.parse(r.stdout).state).toBe('succeeded');
    expect(await snapshot()).toEqual(before);
    expect((await etcdHealth()).match(/is healthy/g)).toHaveLength(3);
  }, 300_000);

  it('a tampered backup is refused before any host is touched', async () => {
    const run3 = await runOnce();
    const victim = lab.etcd[1]!.name;
    await labSh(victim, `echo tampered >> /srv/kubernetes-bak-${run3}/etcd.pem`);
    const now = await snapshot();
    const dry = await certroll(['rollback', '-i', lab.inventory, '--run', run3, '--dry-run'], env);
    expect(dry.code).toBe(1);
    expect(dry.stdout).toMatch(new RegExp(`BLOCK \\[backup-corrupt\\] ${victim}: the backup /srv/kubernetes-bak-${run3} does not verify`));
    const r = await certroll(['rollback', '-i', lab.inventory, '--run', run3, '--yes', '--pause', '1'], env);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/the rollback is blocked/);
    expect(r.stderr).toContain('no host was touched');
    expect(await snapshot()).toEqual(now);
  }, 300_000);
});
