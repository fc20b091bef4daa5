// `certroll status` on the real lab: a clean lab says nothing to do; a lock and a manifest parked with a certroll marker
// (as a run killed during the restart leaves them) are named with the command that finishes; a manifest parked by hand
// is named with the mv that puts it back. status changes nothing on any host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAB_INVENTORY, certroll as cli, freshLab, inHost as inHostOf, lab, type LabHostInfo } from '../support/cli.js';

const home = mkdtempSync(join(tmpdir(), 'certroll-e2e-status-'));
let hosts: LabHostInfo[];
const inHost = (h: string, s: string) => inHostOf(hosts, h, s);
const certroll = (args: string[]) => cli(args, { CERTROLL_HOME: home });
const RUN = '20261202T093000Z-dead01';
const PB = join(home, 'fast.yaml');
const snapshotScript = 'find /srv /opt/kubernetes -exec stat -c "%n %s %Y" {} \\; | sort';

beforeAll(async () => {
  writeFileSync(PB, readFileSync('playbooks/tos-etcd-renew.yaml', 'utf8').replace('healthTimeoutSeconds: 180', 'healthTimeoutSeconds: 30').replace('stopTimeoutSeconds: 120', 'stopTimeoutSeconds: 30'));
  hosts = await freshLab();
}, 600_000);
afterAll(async () => {
  rmSync(home, { recursive: true, force: true });
  await lab('reset');
}, 600_000);

describe('status', { timeout: 120_000 }, () => {
  it('a clean lab: nothing to do, exit 0, one version of each file', async () => {
    const r = await certroll(['status', '-i', LAB_INVENTORY]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Lock        none');
    expect(r.stdout).toContain('Parked      none');
    expect(r.stdout).toMatch(/etcd-ca\.pem: one version on every host read/);
    expect(r.stdout).toMatch(/etcd        3\/3 healthy/);
    expect(r.stdout).toContain('Next: nothing to do');
  });

  it('a host that cannot be reached: exit 2, named, the rest still shown', async () => {
    const victim = hosts.find((h) => h.roles.includes('manager'))!.name;
    await lab('stop-sshd', victim);
    try {
      const r = await certroll(['status', '-i', LAB_INVENTORY]);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stdout).toMatch(new RegExp(`Unreachable ${victim}: `));
      expect(r.stdout).toMatch(/etcd        3\/3 healthy/);
      expect(r.stdout).toContain(`Next: by hand`);
      expect(r.stdout).toContain(`${victim} could not be read`);
    } finally {
      await lab('start-sshd', victim);
    }
  });

  it('a dead run\'s lock and a member parked with a marker: named, with the command that finishes; a hand-parked one: named, with the mv', async () => {
    const etcd = hosts.filter((h) => h.roles.includes('etcd'));
    const victim = etcd[1]!.name;
    const owner = JSON.stringify({ runId: RUN, startedAt: new Date(Date.now() - 600_000).toISOString(), controlHost: 'admin-box-2', user: 'ops', pid: 31337, step: 'Restart etcd' });
    for (const h of hosts) await inHost(h.name, `mkdir /srv/kubernetes.certroll-lock && printf '%s' '${owner}' > /srv/kubernetes.certroll-lock/owner.json`);
    // Park the victim's manifests as the rolling restart does, with its marker beside each.
    await inHost(
      victim,
      `for m in tos-etcd.manifest tos-apiserver.manifest; do mv /opt/kubernetes/manifests-multi/$m /opt/kubernetes/$m; s=$(sha256sum /opt/kubernetes/$m | cut -d' ' -f1); printf '{"runId":"${RUN}","host":"${victim}","manifest":"%s","from":"/opt/kubernetes/manifests-multi/%s","to":"/opt/kubernetes/%s","sha256":"%s","parkedAt":"2026-12-02T09:31:00Z"}' $m $m $m $s > /opt/kubernetes/$m.certroll-park; done`,
    );
    const before: Record<string, string> = {};
    for (const h of hosts) before[h.name] = await inHost(h.name, snapshotScript);

    const r = await certroll(['status', '-i', LAB_INVENTORY]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`Lock        run ${RUN} \\(machine admin-box-2, user ops, pid 31337, 10 min, step "Restart etcd"\\)`));
    expect(r.stdout).toContain(`Parked      ${victim}: /opt/kubernetes/tos-etcd.manifest (belongs in /opt/kubernetes/manifests-multi/tos-etcd.manifest; marker of run ${RUN}`);
    expect(r.stdout).toContain(`Parked      ${victim}: /opt/kubernetes/tos-apiserver.manifest`);
    expect(r.stdout).toContain(`Next: certroll run -i ${LAB_INVENTORY} playbooks/tos-etcd-renew.yaml --break-lock`);

    const j = await certroll(['status', '-i', LAB_INVENTORY, '--json']);
    expect(j.code).toBe(1);
    const s = JSON.parse(j.stdout);
    expect(s.schema).toBe('certroll.status/v1');
    expect(s.locks[0]).toMatchObject({ runId: RUN, controlHost: 'admin-box-2', user: 'ops', pid: 31337, step: 'Restart etcd', journalHere: false });
    expect(s.locks[0].hosts).toHaveLength(hosts.length);
    expect(s.parked.map((p: { host: string; manifest: string; marker?: { runId: string; sha256Matches: boolean } }) => [p.host, p.manifest, p.marker?.runId, p.marker?.sha256Matches])).toEqual([
      [victim, 'tos-apiserver.manifest', RUN, true],
      [victim, 'tos-etcd.manifest', RUN, true],
    ]);

    // A manifest parked by hand on another member (no marker): named, and the one thing to do is the mv.
    const other = etcd[2]!.name;
    await inHost(other, 'mv /opt/kubernetes/manifests-multi/tos-etcd.manifest /opt/kubernetes/tos-etcd.manifest');
    before[other] = await inHost(other, snapshotScript);
    const h = await certroll(['status', '-i', LAB_INVENTORY]);
    expect(h.code).toBe(1);
    expect(h.stdout).toContain(`Parked      ${other}: /opt/kubernetes/tos-etcd.manifest (belongs in /opt/kubernetes/manifests-multi/tos-etcd.manifest; no certroll marker)`);
    expect(h.stdout).toContain('Next: by hand');
    expect(h.stdout).toContain(`on ${other}: mv -- /opt/kubernetes/tos-etcd.manifest /opt/kubernetes/manifests-multi/tos-etcd.manifest`);

    // status wrote nothing anywhere.
    for (const x of hosts) expect(await inHost(x.name, snapshotScript), x.name).toBe(before[x.name]);
  });

  // The recovery story end to end: kill -9 while a member is parked, then status names it and its one command finishes.
  for (const journal of ['kept', 'lost'] as const)
    it(`after kill -9 with a member parked (journal ${journal}): status names the lock and the parked member, its next command finishes, then status is clean`, async () => {
      await freshLab();
      const runHome = mkdtempSync(join(home, 'run-'));
      const env = { CERTROLL_HOME: runHome };
      const killed = await cli(['run', '-i', LAB_INVENTORY, PB, '--yes', '--pause', '0'], { ...env, CERTROLL_FAILPOINT: 'park.after' });
      expect(killed.stderr).toContain('failpoint park.after: killing certroll');
      if (journal === 'lost') rmSync(join(runHome, 'runs'), { recursive: true, force: true });

      const st = await cli(['status', '-i', LAB_INVENTORY, PB, '--json'], env);
      expect(st.code, st.stderr).toBe(1);
      const s = JSON.parse(st.stdout);
      const runId = s.locks[0].runId as string;
      expect(s.locks[0]).toMatchObject({ kind: 'run', pid: expect.any(Number), journalHere: journal === 'kept' });
      expect(s.parked.length).toBeGreaterThan(0);
      expect(s.parked.every((p: { marker?: { runId: string } }) => p.marker?.runId === runId)).toBe(true);
      const next = s.next.command as string;
      expect(next).toBe(journal === 'kept' ? `certroll run --resume ${runId}` : `certroll run -i ${LAB_INVENTORY} ${PB} --break-lock`);

      const finish = await cli([...next.split(' ').slice(1), '--yes', '--pause', '0'], env);
      expect(finish.code, finish.stdout + finish.stderr).toBe(0);
      const after = await cli(['status', '-i', LAB_INVENTORY, PB], env);
      expect(after.code, after.stdout).toBe(0);
      expect(after.stdout).toContain('Next: nothing to do');
      expect(after.stdout).toMatch(/etcd        3\/3 healthy/);
    });
});
