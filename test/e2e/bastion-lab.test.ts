// The whole job through a bastion on the real lab (issue 13 §1): certroll runs in a network namespace whose only link
// leads to a bastion sshd; the lab's hosts are not reachable from there directly. `check` without the jump fails for
// every host; with `ssh.jump` in the inventory, `check`, `plan`, `run` (TLS etcd, rolling restart, Manager) and `rollback` work
// through the bastion, and the rollback leaves every cert dir byte-identical to before the run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_DIR, LAB_INVENTORY, freshLab, inHost, lab, labDbEnv, type LabHostInfo } from '../support/cli.js';
import { vethNamespace, type VethNamespace } from '../support/netns.js';
import { startSshd, type TestSshd } from '../support/sshd.js';

const OUTSIDE = '10.213.9.1';
const INSIDE = '10.213.9.2';
let ns: VethNamespace | undefined;

let dir = '';
let home = '';
let bastion: TestSshd;
let hosts: LabHostInfo[];
let viaBastion = '';

/** certroll run from inside the namespace (its only way out is the veth to the bastion). */
function certrollInNs(args: string[]): { code: number; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns!.name, process.execPath, 'dist/cli/bin.js', ...args], {
    env: { ...process.env, NO_COLOR: '1', ...labDbEnv(), CERTROLL_HOME: home },
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    timeout: 240_000,
  });
  return { code: r.status ?? 128, out: `${r.stdout}${r.stderr}` };
}

const snapshot = async () =>
  Promise.all(hosts.map((h) => inHost(hosts, h.name, 'cd /srv/kubernetes && find . -type f -exec sha256sum {} + | sort; stat -c "%n %a %u %g" $(find . -type f | sort)')));

beforeAll(async () => {
  hosts = await freshLab();
  dir = mkdtempSync(join(tmpdir(), 'certroll-bastion-lab-'));
  home = join(dir, 'home');
  ns = vethNamespace('bl', OUTSIDE, INSIDE);
  // The bastion: an sshd on this side of the veth, which reaches the lab's 127.20.0.x addresses; it lets the lab's client key in.
  bastion = await startSshd({ address: OUTSIDE, port: 2222, sftp: false });
  const labKey = join(LAB_DIR, 'ssh', 'id_ed25519');
  await bastion.authorize('root', readFileSync(`${labKey}.pub`, 'utf8').trim());
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, readFileSync(join(LAB_DIR, 'ssh', 'known_hosts'), 'utf8') + bastion.knownHostsLine() + '\n');
  const inv = readFileSync(LAB_INVENTORY, 'utf8').replace(/^ {2}knownHostsFile: .*$/m, `  knownHostsFile: ${knownHosts}`);
  writeFileSync(join(dir, 'direct.yaml'), inv.replace(/^ {2}connectTimeout: .*$/m, '  connectTimeout: 2'));
  viaBastion = join(dir, 'via-bastion.yaml');
  writeFileSync(viaBastion, inv.replace(/^ssh:\n/m, `ssh:\n  jump: root@${OUTSIDE}:2222\n`));
}, 300_000);

afterAll(async () => {
  await bastion?.stop().catch(() => undefined);
  ns?.remove();
  rmSync(dir, { recursive: true, force: true });
  await lab('reset');
}, 300_000);

describe('the lab through a bastion', { timeout: 300_000 }, () => {
  it('without the jump no lab host is reachable from the namespace; through it, check, plan, run and rollback work end to end', async () => {
    const direct = certrollInNs(['check', '-i', join(dir, 'direct.yaml'), '--json']);
    expect(direct.code, direct.out).toBe(2);
    const report = JSON.parse(direct.out.slice(direct.out.indexOf('{'))) as { summary: { hostsRead: number; hostsFailed: number } };
    expect(report.summary).toMatchObject({ hostsRead: 0, hostsFailed: hosts.length });

    const through = certrollInNs(['check', '-i', viaBastion, '--json']);
    expect(JSON.parse(through.out.slice(through.out.indexOf('{'))).summary, through.out).toMatchObject({ hostsRead: hosts.length, hostsFailed: 0 });

    const before = await snapshot();
    const plan = certrollInNs(['plan', '-i', viaBastion, 'playbooks/tos-etcd-renew.yaml']);
    expect(plan.code, plan.out).toBe(0);
    const run = certrollInNs(['run', '-i', viaBastion, 'playbooks/tos-etcd-renew.yaml', '--yes', '--pause', '1']);
    expect(run.code, run.out).toBe(0);
    const runId = /Run (\S+) succeeded/.exec(run.out)![1]!;
    expect(await snapshot()).not.toEqual(before);
    const etcd = hosts.filter((h) => h.roles.includes('etcd'));
    const health = await inHost(hosts, etcd[0]!.name, `ETCDCTL_API=3 etcdctl --cacert /srv/kubernetes/etcd-ca.pem --cert /srv/kubernetes/etcd.pem --key /srv/kubernetes/etcd-key.pem --endpoints ${etcd.map((h) => `https://${h.address}:4001`).join(',')} endpoint health 2>&1 || true`);
    expect(health.match(/is healthy/g)).toHaveLength(3);

    const back = certrollInNs(['rollback', '-i', viaBastion, '--run', runId, '--yes', '--pause', '1']);
    expect(back.code, back.out).toBe(0);
    expect(await snapshot()).toEqual(before);
  });
});
