// End to end on the real lab: `plan` writes nothing; `run` renews and rolls the etcd certificates with no failed write,
// checked afterwards with openssl and etcdctl inside each host; a second `plan` has nothing to do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWriter, type WriterStats } from '../support/etcd-writer.js';
import { LAB_INVENTORY, certroll as certrollCli, freshLab, inHost as inHostOf, type LabHostInfo } from '../support/cli.js';

const home = mkdtempSync(join(tmpdir(), 'certroll-e2e-run-'));
const env = { CERTROLL_HOME: home };
const INV = LAB_INVENTORY;
let hosts: LabHostInfo[];
const inHost = (host: string, script: string) => inHostOf(hosts, host, script);
const certroll = (args: string[]) => certrollCli(args, env);
const info = { get hosts() { return hosts; } };
const snapshotScript = `for d in /srv /opt/kubernetes; do find "$d" -type f -exec stat -c '%n %a %u %Y' {} \\; ; done | sort; find /srv -type f -exec sha256sum {} \\; | sort; ls -d /srv/kubernetes-bak-* 2>/dev/null || true`;
async function snapshot(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const h of hosts) out[h.name] = await inHost(h.name, snapshotScript);
  return out;
}

beforeAll(async () => {
  hosts = await freshLab();
}, 600_000);
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('plan and run on the lab', () => {
  const etcd = () => info.hosts.filter((h) => h.roles.includes('etcd'));
  let before: Record<string, string>;
  let stats: WriterStats;
  let runJson: { runId: string; state: string; stats: { wallMs: number; connections: number; roundTrips: number; hosts: number } };

  it('plan changes nothing anywhere: same sha256, mode and mtime of every file, no backup directory', async () => {
    before = await snapshot();
    const p = await certroll(['plan', '-i', INV, 'playbooks/tos-etcd-renew.yaml', '--json']);
    expect(p.code, p.stderr).toBe(0);
    const plan = JSON.parse(p.stdout);
    expect(plan.status).toBe('ready');
    expect(plan.restartOrder.at(-1)).toBe(plan.steps.find((s: { type: string }) => s.type === 'rolling-restart').actions.find((a: { leader: boolean }) => a.leader).host);
    expect(p.stdout).not.toContain('PRIVATE KEY');
    expect(await snapshot()).toEqual(before);
    for (const s of Object.values(before)) expect(s).not.toContain('-bak-');
  });

  it('run renews and rolls the certificates while a writer keeps writing through every endpoint', async () => {
    const first = etcd()[0]!.name;
    const [ca, cert, key] = await Promise.all(['etcd-ca.pem', 'etcd.pem', 'etcd-key.pem'].map((f) => inHost(first, `cat /srv/kubernetes/${f}`)));
    const writer = startWriter({ endpoints: etcd().map((h) => `https://${h.address}:4001`), ca: ca!, cert: cert!, key: key!, intervalMs: 100, prefix: '/certroll-e2e' });
    const r = await certroll(['run', '-i', INV, 'playbooks/tos-etcd-renew.yaml', '--yes', '--pause', '2', '--json']);
    stats = await writer.stop();
    expect(r.code, r.stderr + r.stdout).toBe(0);
    runJson = JSON.parse(r.stdout);
    expect(runJson.state).toBe('succeeded');
    console.log(`availability during run: ${stats.attempts} writes, ${stats.failures} failed, longest gap between acknowledged writes ${stats.longestGapMs} ms; run ${runJson.stats.wallMs} ms, ${runJson.stats.connections} SSH connections for ${runJson.stats.hosts} hosts, ${runJson.stats.roundTrips} round trips`);
    expect(stats.failures, stats.errors.join('\n')).toBe(0);
    expect(runJson.stats.connections).toBe(runJson.stats.hosts);
    const keys = await inHost(first, `ETCDCTL_API=3 etcdctl --cacert /srv/kubernetes/etcd-ca.pem --cert /srv/kubernetes/etcd.pem --key /srv/kubernetes/etcd-key.pem --endpoints https://${etcd()[0]!.address}:4001 get /certroll-e2e --prefix --keys-only`);
    const stored = new Set(keys.split('\n').filter(Boolean));
    expect(stats.acknowledged.filter((k) => !stored.has(k))).toEqual([]);
  });

  it('every host holds byte-identical new files valid ~100 years (openssl), other files untouched, backup complete', async () => {
    const sums = new Set<string>();
    for (const h of info.hosts) {
      const end = await inHost(h.name, 'for f in etcd-ca.pem etcd.pem; do openssl x509 -in /srv/kubernetes/$f -noout -enddate; done; openssl verify -CAfile /srv/kubernetes/etcd-ca.pem /srv/kubernetes/etcd.pem');
      const years = [...end.matchAll(/notAfter=\w+ +\d+ [\d:]+ (\d{4})/g)].map((m) => Number(m[1]));
      expect(years).toHaveLength(2);
      for (const y of years) expect(y).toBeGreaterThan(new Date().getFullYear() + 90);
      expect(end).toContain('etcd.pem: OK');
      sums.add(await inHost(h.name, 'cd /srv/kubernetes && sha256sum etcd-ca.pem etcd.pem etcd-key.pem && stat -c %a etcd-key.pem'));
      const now = await inHost(h.name, snapshotScript);
      const untouched = (s: string) => s.split('\n').filter((l) => l.includes('/srv/kubernetes/') && !/\/(etcd-ca|etcd|etcd-key)\.pem\b/.test(l) && !l.includes('-bak-')).join('\n');
      expect(untouched(now)).toEqual(untouched(before[h.name]!));
      const bak = now.split('\n').find((l) => /^\/srv\/kubernetes-bak-[^/ ]+$/.test(l))!;
      expect(bak).toContain(runJson.runId);
      const backed = await inHost(h.name, `cd ${bak} && sha256sum --quiet -c .certroll-backup.sha256 && echo BACKUP-OK`);
      expect(backed).toContain('BACKUP-OK');
    }
    expect(sums.size).toBe(1);
    expect([...sums][0]).toMatch(/\n600\n$/);
  });

  it('the cluster is healthy with the new certificates and the leader was restarted last', async () => {
    const eps = etcd().map((h) => `https://${h.address}:4001`).join(',');
    const health = await inHost(etcd()[0]!.name, `ETCDCTL_API=3 etcdctl --cacert /srv/kubernetes/etcd-ca.pem --cert /srv/kubernetes/etcd.pem --key /srv/kubernetes/etcd-key.pem --endpoints ${eps} endpoint health 2>&1`);
    expect(health.match(/is healthy/g)).toHaveLength(3);
    const plan = JSON.parse(readFileSync(join(home, 'runs', runJson.runId, 'plan.json'), 'utf8'));
    const events = readFileSync(join(home, 'runs', runJson.runId, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const restarted = events.filter((e) => e.event === 'node-restarted');
    expect(restarted).toHaveLength(3);
    // No node was restarted while it led the cluster, except the last one (when leadership stays put, as it does
    // here, that is the leader: follower, follower, leader).
    expect(restarted.slice(0, -1).map((e) => e.message)).toEqual(['follower', 'follower']);
    expect(new Set(restarted.map((e) => e.host)).size).toBe(3);
    expect(plan.restartOrder).toHaveLength(3);
    expect(readFileSync(join(home, 'runs', runJson.runId, 'plan.json'), 'utf8') + readFileSync(join(home, 'runs', runJson.runId, 'events.jsonl'), 'utf8')).not.toContain('PRIVATE KEY');
  });

  it('a second plan says there is nothing to do', async () => {
    const p = await certroll(['plan', '-i', INV, 'playbooks/tos-etcd-renew.yaml']);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain('nothing to do');
    expect(p.stdout).toMatch(/valid until 21\d\d.*nothing to renew/);
  });
});
