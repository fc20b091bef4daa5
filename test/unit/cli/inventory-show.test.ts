// `certroll inventory show` as a real process: an Ansible inventory shown as a table, as JSON with origins, as certroll
// YAML that `inventory show` then loads unchanged; bad input exits 3 naming the Ansible file and line.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'certroll-invshow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bin = join(__dirname, '../../../dist/cli/bin.js');
// HOME without ~/.ssh/config, so the machine's own OpenSSH config plays no part.
const cli = (...args: string[]) => spawnSync('node', [bin, ...args], { encoding: 'utf8', env: { ...process.env, HOME: dir, NO_COLOR: '1' } });

describe('certroll inventory show', () => {
  const ini = join(dir, 'hosts.ini');
  writeFileSync(ini, '[kube_control_plane]\nnode[1:2] ansible_user=admin\n\n[etcd:children]\nkube_control_plane\n\n[kube_node]\nworker1 ansible_host=10.0.0.9\n\n[all:vars]\nansible_ssh_common_args=\'-J ops@gw.example:2022\'\nansible_become=true\n');

  it('prints the table, the JSON with where each setting came from, and YAML that loads back unchanged', () => {
    const t = cli('inventory', 'show', '-i', ini);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/roles: master <- kube_control_plane, etcd <- etcd/);
    expect(t.stdout).toMatch(/node1 +master,etcd +node1 +22 +admin \(sudo\) +ops@gw\.example:2022 +\S*hosts\.ini:2/);
    expect(t.stdout).toMatch(/left out\): worker1 \[kube_node\]/);

    const j = cli('inventory', 'show', '-i', ini, '--json');
    const data = JSON.parse(j.stdout) as { source: string; hosts: Array<{ name: string; sshFrom: Record<string, string> }> };
    expect(data.source).toBe('ansible');
    expect(data.hosts[0]!.sshFrom).toMatchObject({ user: expect.stringMatching(/^ansible_user \(\S*hosts\.ini:2\)$/), become: expect.stringMatching(/^ansible_become \(\S*hosts\.ini:12\)$/), jump: expect.stringMatching(/^ansible_ssh_common_args \(\S*hosts\.ini:11\)$/) });

    const y = cli('inventory', 'show', '-i', ini, '--format', 'yaml');
    const yamlFile = join(dir, 'converted.yaml');
    writeFileSync(yamlFile, y.stdout);
    const again = cli('inventory', 'show', '-i', yamlFile, '--json');
    expect(again.status, again.stderr).toBe(0);
    // Everything but the origins (which name the Ansible file in one case and the YAML in the other) is the same.
    const strip = (s: string) =>
      (JSON.parse(s) as { hosts: Array<Record<string, unknown> & { ssh: { jumps: Array<Record<string, unknown>> } }> }).hosts.map((h) => ({
        ...h,
        ssh: { ...h.ssh, jumps: h.ssh.jumps.map((j) => ({ ...j, from: undefined })) },
        sshFrom: undefined,
        definedAt: undefined,
        varsAt: undefined,
      }));
    expect(JSON.parse(j.stdout).hosts[0].ssh.jumps[0].from).toMatch(/^ansible_ssh_common_args \(\S*hosts\.ini:11\)$/);
    expect(strip(again.stdout)).toEqual(strip(j.stdout));
  });

  it('bad Ansible input exits 3 with file, line and variable; nothing is contacted', () => {
    const bad = join(dir, 'bad.ini');
    writeFileSync(bad, '[kube_control_plane]\nm1 ansible_port=22a\n');
    const r = cli('inventory', 'show', '-i', bad);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/hosts\.m1\.ssh\.port \(ansible_port\): expected an integer 1-65535, got "22a" \(.*bad\.ini:2\)/);
    const g = cli('inventory', 'show', '-i', ini, '--group-map', 'boss=x');
    expect(g.status).toBe(3);
    expect(g.stderr).toMatch(/--group-map: expected ROLE=GROUP/);
  });
});
