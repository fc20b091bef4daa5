// Ansible inventories as certroll inventories: roles by convention or --group-map, ansible_* to ssh:, bastions from
// -J / ProxyJump / `ssh -W` ProxyCommands and kubespray's [bastion], errors at the Ansible file and line, and the
// `--format yaml` output loading back unchanged.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAnsibleInventory, parseInventory } from '../../../src/inventory/load.js';
import { hopFromProxyCommand, jumpFromSshArgs, parseGroupMap } from '../../../src/inventory/ansible-import.js';
import { looksLikeAnsible } from '../../../src/inventory/ansible.js';
import { formatInputIssue, InputError } from '../../../src/errors.js';

const corpus = join(__dirname, '../../fixtures/corpus-ansible');
const home = mkdtempSync(join(tmpdir(), 'certroll-ansible-home-')); // no ~/.ssh/config here
const work = mkdtempSync(join(tmpdir(), 'certroll-ansible-'));
afterAll(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});
const opts = { home, env: {} };
const caseFile = (c: string) => {
  const dir = readdirSync(corpus).find((d) => d.startsWith(c))!;
  return join(corpus, dir, /^inventory: (.+)$/m.exec(readFileSync(join(corpus, dir, 'SOURCE'), 'utf8'))![1]!.trim());
};
function issues(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as InputError).issues.map(formatInputIssue);
  }
  return [];
}

describe('Ansible inventory → certroll inventory', () => {
  it('kubespray [bastion]: the first bastion host is the jump of the cluster hosts; roles by convention', () => {
    const { inventory, imported } = loadAnsibleInventory(caseFile('06'), opts, {});
    expect(imported.roles).toEqual({ master: ['kube_control_plane'], etcd: ['etcd'] });
    expect(inventory.hosts.map((h) => [h.name, h.address, h.ssh.jumps?.map((j) => `${j.user}@${j.address}:${j.port}`)])).toEqual([['cpu1', '10.7.208.11', ['root@10.0.3.1:22']]]);
    expect(imported.skipped.map((s) => s.name)).toEqual(['cpu2', 'bastion']);
    expect(inventory.hosts[0]!.definedAt.line).toBe(5);
  });

  it('k3s ProxyCommand "ssh -W %h:%p -q pi@lb1.local" becomes a jump; --group-map picks the roles', () => {
    const { inventory } = loadAnsibleInventory(caseFile('18'), opts, { groupMap: parseGroupMap('master=master,flannel=node') });
    expect(inventory.groups.flannel).toEqual(['node1', 'node2']);
    expect(inventory.hosts.find((h) => h.name === 'node1')!.ssh).toMatchObject({ user: 'pi', jumps: [expect.objectContaining({ user: 'pi', address: 'lb1.local', port: 22 })] });
    expect(inventory.hosts[0]!.sshFrom!.user).toMatch(/^ansible_user \(.*inventory\.yml:6\)$/);
    expect(inventory.warnings!.join('\n')).toMatch(/master1, master2, node1, node2: ansible_ssh_common_args -o ForwardAgent=yes is not applied/);
  });

  it('host_vars/ port and key file; host:port on an INI line; become', () => {
    const a = loadAnsibleInventory(caseFile('20'), opts, { groupMap: { master: ['k8s_masters'] } }).inventory.hosts[0]!;
    expect(a.ssh).toMatchObject({ port: 2222, user: 'root', identityFile: '/root/.ssh/id_ed25519' });
    expect(a.sshFrom!.port).toMatch(/^ansible_port \(.*host_vars\/master1\.yml:3\)$/);
    const b = loadAnsibleInventory(caseFile('22'), opts, { groupMap: { master: ['centos'], etcd: ['ubuntu'] } }).inventory;
    expect(b.hosts.map((h) => `${h.name}:${h.ssh.port}:${h.ssh.user}:${h.ssh.become}`)).toEqual([
      'centos1:2222:root:false', 'centos2:22:root:false', 'centos3:22:root:false', 'ubuntu1:22:root:true', 'ubuntu2:22:root:true', 'ubuntu3:22:root:true',
    ]);
  });

  it('errors name the Ansible file, line and variable', () => {
    const f = join(work, 'bad.ini');
    writeFileSync(f, '[kube_control_plane]\nm1 ansible_host=10.0.0.1 ansible_port=70000\nm2 ansible_host=10.0.0.2 ansible_ssh_common_args=\'-o ProxyCommand="nc -x proxy %h %p"\'\n');
    expect(issues(() => loadAnsibleInventory(f, opts, {}))).toEqual([expect.stringMatching(/ansible_ssh_common_args of host m2: ProxyCommand "nc -x proxy %h %p" is not an "ssh -W %h:%p \[user@\]host" bastion.*\(.*bad\.ini:3\)$/)]);
    writeFileSync(f, '[kube_control_plane]\nm1 ansible_host=10.0.0.1 ansible_port=70000\n');
    expect(issues(() => loadAnsibleInventory(f, opts, {}))).toEqual([expect.stringMatching(/^hosts\.m1\.ssh\.port \(ansible_port\): expected an integer 1-65535, got 70000 \(.*bad\.ini:2\)$/)]);
    writeFileSync(f, '[web]\nw1\n');
    expect(issues(() => loadAnsibleInventory(f, opts, {}))[0]).toMatch(/no control-plane group: none of kube_control_plane, .* has hosts; name it with --group-map master=GROUP/);
    expect(issues(() => loadAnsibleInventory(f, opts, { groupMap: { master: ['nope'] } }))[0]).toMatch(/groupMap\.master: group "nope" is not in .*bad\.ini/);
  });

  it('an overlay supplies cluster vars, ssh defaults and per-host additions', () => {
    const ov = join(work, 'overlay.yaml');
    writeFileSync(ov, 'vars:\n  certDir: /etc/ssl/etcd\nssh:\n  knownHostsFile: /tmp/kh\nhosts:\n  master1:\n    hostname: master1.example\n');
    const inv = loadAnsibleInventory(caseFile('09'), opts, { overlay: ov }).inventory;
    expect(inv.vars.certDir).toBe('/etc/ssl/etcd');
    expect(inv.hosts[0]!).toMatchObject({ hostname: 'master1.example', ssh: { knownHostsFile: '/tmp/kh', become: true } });
  });

  it('tells Ansible inventories from certroll ones: every corpus inventory is Ansible, every certroll fixture (good or bad) is not', () => {
    for (const dir of readdirSync(corpus).filter((d) => /^\d\d-/.test(d))) {
      const f = caseFile(dir.slice(0, 2));
      expect(looksLikeAnsible(readFileSync(f, 'utf8'), f), dir).toBe(true);
    }
    const fixtures = join(__dirname, '../../fixtures/inventories');
    for (const f of readdirSync(fixtures)) expect(looksLikeAnsible(readFileSync(join(fixtures, f), 'utf8'), f), f).toBe(false);
  });

  it('ssh arguments: -J, -o ProxyJump=, ProxyCommand ssh -W with -p/-l; anything else is not a bastion', () => {
    expect(jumpFromSshArgs('-J ops@gw:2022 -o ForwardAgent=yes')).toEqual({ jump: 'ops@gw:2022', ignored: ['-o ForwardAgent=yes'] });
    expect(jumpFromSshArgs('-o ProxyJump=gw1,gw2').jump).toBe('gw1,gw2');
    expect(hopFromProxyCommand('ssh -q -A -W %h:%p tharyrok@moss.lghs.space')).toBe('tharyrok@moss.lghs.space');
    expect(hopFromProxyCommand('ssh -i ~/.ssh/k -p 2200 -l admin -W [%h]:%p bastion')).toBe('admin@bastion:2200');
    expect(hopFromProxyCommand('ssh home nc %h %p')).toBeUndefined();
    expect(hopFromProxyCommand('connect -5 -S localhost:9050 %h %p')).toBeUndefined();
  });

  it('every corpus inventory with a control-plane group converts, and its --format yaml loads back to the same inventory', () => {
    const converted: string[] = [];
    const refused: string[] = [];
    for (const dir of readdirSync(corpus).filter((d) => /^\d\d-/.test(d) && !d.includes('-ERR-'))) {
      const file = caseFile(dir.slice(0, 2));
      let r: ReturnType<typeof loadAnsibleInventory>;
      try {
        r = loadAnsibleInventory(file, opts, {});
      } catch (e) {
        expect(e, dir).toBeInstanceOf(InputError);
        refused.push(`${dir}: ${(e as InputError).issues.map(formatInputIssue)[0]}`);
        continue;
      }
      const again = parseInventory(r.imported.yaml, file, opts);
      // Equal but for the origins, which name the Ansible files in one and the converted YAML in the other.
      const strip = (i: typeof again) => i.hosts.map((h) => ({ ...h, ssh: { ...h.ssh, jumps: h.ssh.jumps?.map((j) => ({ ...j, from: '' })) }, definedAt: undefined, varsAt: undefined, sshFrom: undefined }));
      expect(strip(again), dir).toEqual(strip(r.inventory));
      expect(again.groups, dir).toEqual(r.inventory.groups);
      converted.push(dir);
    }
    console.log(`ansible import: ${converted.length} converted and round-tripped, ${refused.length} refused:\n  ${refused.join('\n  ')}`);
    // The refusals are certroll's own rules: no control-plane group (skeletons, non-Kubernetes inventories), IP-named etcd
    // hosts without a DNS name for the certificate, two inventory hosts on one machine (case 21).
    expect(converted.length).toBe(13);
    expect(refused.every((r) => /no control-plane group|not a valid DNS hostname|each host must be a different machine/.test(r))).toBe(true);
  });
});
