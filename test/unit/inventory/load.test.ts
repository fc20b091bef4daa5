// Inventory loading: every bad inventory is rejected with all its problems, each naming file, line and field; good ones resolve with precedence.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { formatInputIssue, InputError } from '../../../src/errors.js';
import { loadInventory, parseInventory } from '../../../src/inventory/load.js';
import { defaultClusterVars, defaultSshSettings } from '../../../src/inventory/types.js';

const fixtures = relative(process.cwd(), fileURLToPath(new URL('../../fixtures/inventories/', import.meta.url)));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const home = '/home/tester';

/** Loads a fixture expecting an InputError; returns its issues formatted as the user sees them. */
async function problems(name: string): Promise<string[]> {
  try {
    await loadInventory(`${fixtures}/${name}`, { home });
  } catch (e) {
    if (e instanceof InputError) return e.issues.map(formatInputIssue);
    throw e;
  }
  throw new Error(`${name} loaded without error`);
}

describe('bad inventories are rejected with every problem, its file, line and field', () => {
  const at = (name: string, pos: string) => `(${fixtures}/${name}:${pos})`;
  const cases: Array<[string, string, string[]]> = [
    ['unknown key in a host, with "did you mean"', 'bad-unknown-host-key.yaml', [
      `hosts.tos-1: missing required field "address" ${at('bad-unknown-host-key.yaml', '2:3')}`,
      `hosts.tos-1.adress: unknown key "adress" (did you mean "address"?); expected one of: address, hostname, ip, ssh, vars ${at('bad-unknown-host-key.yaml', '3:5')}`,
    ]],
    ['unknown top-level key', 'bad-unknown-top-key.yaml', [
      `missing required field "groups" (at least master: [host, …]) ${at('bad-unknown-top-key.yaml', '1:1')}`,
      `group: unknown key "group" (did you mean "groups"?); expected one of: vars, ssh, hosts, groups ${at('bad-unknown-top-key.yaml', '3:1')}`,
    ]],
    ['unknown cluster variables, misspelt and shortened', 'bad-unknown-var.yaml', [
      `vars.certdir: unknown key "certdir" (did you mean "certDir"?); expected one of: certDir, manifestsDir, parkDir, etcdClientPort, etcdPeerPort, apiserverPort, probeAddress, serviceIp, extraSans, managerTemplateDir, tosVersion, checkPaths, kubernetesDir, pkiDir, kubeletPkiDir, managerDb, secrets, kubeconfig, kubectl ${at('bad-unknown-var.yaml', '2:3')}`,
      `vars.etcdPort: unknown key "etcdPort" (did you mean "etcdPeerPort"?); expected one of: certDir, manifestsDir, parkDir, etcdClientPort, etcdPeerPort, apiserverPort, probeAddress, serviceIp, extraSans, managerTemplateDir, tosVersion, checkPaths, kubernetesDir, pkiDir, kubeletPkiDir, managerDb, secrets, kubeconfig, kubectl ${at('bad-unknown-var.yaml', '3:3')}`,
    ]],
    ['duplicate host (duplicate YAML key), with both lines', 'bad-duplicate-host.yaml', [
      `hosts.tos-1: duplicate key "tos-1": already defined at line 2; keep only one ${at('bad-duplicate-host.yaml', '4:3')}`,
    ]],
    ['host in a group but not defined', 'bad-undefined-host.yaml', [
      `groups.master[1]: host "tos-3" is not defined under hosts: (did you mean "tos-1"?) ${at('bad-undefined-host.yaml', '5:19')}`,
      `groups.etcd[2]: host "db-9" is not defined under hosts: ${at('bad-undefined-host.yaml', '6:24')}`,
    ]],
    ['empty master group', 'bad-empty-master.yaml', [
      `groups.master: expected at least 1 host (the first master is where certificates are generated), got an empty list ${at('bad-empty-master.yaml', '4:11')}`,
    ]],
    ['master group with no value', 'bad-null-master.yaml', [
      `groups.master: expected at least 1 host (the first master is where certificates are generated), got nothing ${at('bad-null-master.yaml', '4:3')}`,
    ]],
    ['no master group', 'bad-missing-master.yaml', [
      `groups: missing required group "master" (or "control-plane", kubeadm's name for it: its first host is where certificates are generated) ${at('bad-missing-master.yaml', '3:1')}`,
    ]],
    ['address that is neither an IP nor a hostname, and a missing address', 'bad-address.yaml', [
      `hosts.tos-1.address: expected an IP address or a hostname, got "300.1.2.3" ${at('bad-address.yaml', '2:21')}`,
      `hosts.tos-2.address: expected an IP address or a hostname, got "tos 2" ${at('bad-address.yaml', '3:21')}`,
      `hosts.tos-3.address: expected an IP address or a hostname, got "h;reboot" ${at('bad-address.yaml', '4:21')}`,
      `hosts.tos-4: missing required field "address" ${at('bad-address.yaml', '5:3')}`,
    ]],
    ['relative path where an absolute path is required, .. segments, relative glob', 'bad-relative-path.yaml', [
      `vars.certDir: expected an absolute path, got relative path "srv/kubernetes" ${at('bad-relative-path.yaml', '2:12')}`,
      `vars.manifestsDir: expected an absolute path without . or .. segments, got "/opt/kubernetes/../etc" ${at('bad-relative-path.yaml', '3:17')}`,
      `vars.checkPaths[0]: expected an absolute path or glob, got relative path "*.pem" ${at('bad-relative-path.yaml', '4:16')}`,
    ]],
    ['ssh port out of range or not a number', 'bad-port.yaml', [
      `hosts.tos-2.ssh.port: expected an integer 1-65535, got "22a" ${at('bad-port.yaml', '6:13')}`,
      `hosts.tos-3.ssh.port: expected an integer 1-65535, got 70000 ${at('bad-port.yaml', '7:44')}`,
    ]],
    ['etcd client port out of range', 'bad-etcd-port.yaml', [
      `vars.etcdClientPort: expected an integer 1-65535, got 0 ${at('bad-etcd-port.yaml', '2:19')}`,
    ]],
    ['YAML syntax error (unclosed flow mapping) with its position', 'bad-yaml-syntax.yaml', [
      `YAML syntax error: deficient indentation ${at('bad-yaml-syntax.yaml', '3:1')}`,
    ]],
    ['YAML syntax error (bad indentation) with its position', 'bad-yaml-indent.yaml', [
      `YAML syntax error: bad indentation of a mapping entry ${at('bad-yaml-indent.yaml', '4:4')}`,
    ]],
    ['host name with spaces and shell characters', 'bad-host-name.yaml', [
      `hosts["tos 1;reboot"]: invalid host name "tos 1;reboot": expected letters, digits, '-', '_' and '.', starting with a letter or digit ${at('bad-host-name.yaml', '2:3')}`,
    ]],
    ['relative identity file and ~user (only ~/ is expanded)', 'bad-identity-file.yaml', [
      `ssh.identityFile: expected an absolute path (or ~/…), got relative path "id_ed25519" ${at('bad-identity-file.yaml', '2:17')}`,
      `ssh.knownHostsFile: expected an absolute path (or ~/…), got relative path "~admin/.ssh/known_hosts" ${at('bad-identity-file.yaml', '3:19')}`,
    ]],
    ['shell metacharacters in paths', 'bad-shell-chars.yaml', [
      `vars.certDir: expected an absolute path made of letters, digits and . _ + @ % = , : - /, got "/srv/kubernetes; rm -rf /" ${at('bad-shell-chars.yaml', '2:12')}`,
      `vars.parkDir: expected an absolute path made of letters, digits and . _ + @ % = , : - /, got "/opt/$(id)" ${at('bad-shell-chars.yaml', '3:12')}`,
    ]],
    ['wrong types: bad service IP, SAN, user, YAML 1.1 "yes", fractional timeout', 'bad-types.yaml', [
      `vars.serviceIp: expected an IPv4 or IPv6 address, got "10.10.10.300" ${at('bad-types.yaml', '2:14')}`,
      `vars.extraSans[1]: expected an IP address or a DNS name, got "bad name" ${at('bad-types.yaml', '3:33')}`,
      `ssh.user: expected a user name (letters, digits, '_', '.', '-'), got "root user" ${at('bad-types.yaml', '5:9')}`,
      `ssh.become: expected true or false, got "yes" ${at('bad-types.yaml', '6:11')}`,
      `ssh.connectTimeout: expected an integer 1-3600, got 1.5 ${at('bad-types.yaml', '7:19')}`,
    ]],
    ['two groups set different values for one host (and the host does not decide)', 'bad-group-conflict.yaml', [
      `groups.manager.vars.certDir: host "tos-1" is in groups "master" and "manager", which set different vars.certDir ("/srv/a" vs "/srv/m"); set it under hosts.tos-1.vars to choose ${at('bad-group-conflict.yaml', '10:22')}`,
    ]],
    ['reserved name, repeated member, scalar group, group in a group, group named like a host', 'bad-groups-shape.yaml', [
      `hosts.all: the host name "all" is reserved (in --limit it means every host) ${at('bad-groups-shape.yaml', '3:3')}`,
      `groups.master[1]: "tos-1" is listed twice (also at groups.master[0]) ${at('bad-groups-shape.yaml', '5:19')}`,
      `groups.etcd: expected a list of host names or a mapping with hosts:, got "tos-1" ${at('bad-groups-shape.yaml', '6:9')}`,
      `groups.flannel[0]: "master" is a group; groups cannot contain groups, list its hosts instead ${at('bad-groups-shape.yaml', '7:13')}`,
      `groups.tos-1: group "tos-1" has the same name as a host; rename one of them (--limit would be ambiguous) ${at('bad-groups-shape.yaml', '8:3')}`,
    ]],
    ['a list instead of a mapping', 'bad-root.yaml', [
      `expected a mapping with hosts: and groups: (and optionally vars: and ssh:), got a list ${at('bad-root.yaml', '1:1')}`,
    ]],
    ['an empty file', 'bad-empty.yaml', [
      `expected a mapping with hosts: and groups: (and optionally vars: and ssh:), got nothing ${at('bad-empty.yaml', '1:1')}`,
    ]],
    ['two YAML documents', 'bad-two-documents.yaml', [
      `expected a single YAML document, found a second one (remove the extra \`---\`) ${at('bad-two-documents.yaml', '6:1')}`,
    ]],
    ['etcd member whose name is not a DNS name and has no hostname', 'bad-etcd-hostname.yaml', [
      `hosts.tos_1: host name "tos_1" is not a valid DNS hostname for the etcd certificate's SANs; add hostname: <dns name> ${at('bad-etcd-hostname.yaml', '2:3')}`,
    ]],
    ['managerDb without database and with a bad environment variable name', 'bad-manager-db.yaml', [
      `vars.managerDb: missing required field "database" ${at('bad-manager-db.yaml', '2:3')}`,
      `vars.managerDb.passwordEnv: expected an environment variable name (letters, digits, '_'), got "DB-PASS" ${at('bad-manager-db.yaml', '2:61')}`,
    ]],
    ['two hosts that are the same sshd (address and port)', 'bad-same-machine.yaml', [
      `hosts.tos-3.address: 10.0.0.1 port 22 is also host "tos-1" (line 2); each host must be a different machine ${at('bad-same-machine.yaml', '4:21')}`,
    ]],
  ];

  test.each(cases)('%s (%s)', async (_what, file, expected) => {
    expect(await problems(file)).toEqual(expected);
  });

  test('there are at least 15 bad inventories', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });

  test('the InputError message lists every issue under one headline', async () => {
    const err = await loadInventory(`${fixtures}/bad-port.yaml`, { home }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(
      'Invalid inventory:\n' +
        `  hosts.tos-2.ssh.port: expected an integer 1-65535, got "22a" (${fixtures}/bad-port.yaml:6:13)\n` +
        `  hosts.tos-3.ssh.port: expected an integer 1-65535, got 70000 (${fixtures}/bad-port.yaml:7:44)`,
    );
  });

  test('a missing file is an InputError naming the file', async () => {
    await expect(loadInventory(`${fixtures}/no-such.yaml`)).rejects.toThrow(
      `cannot read the inventory: file not found (${fixtures}/no-such.yaml)`,
    );
  });

  test('inline text: the file name given is the one in messages', () => {
    expect(() => parseInventory('hosts: {a: {address: 1.2.3.4}}\ngroups: {master: [a], etcd: [b]}\n', 'inline.yaml')).toThrow(
      'groups.etcd[0]: host "b" is not defined under hosts: (did you mean "a"?) (inline.yaml:2:30)',
    );
  });
});

describe('good inventories', () => {
  test('the shipped example: three TOS masters, flannel = masters, a separate manager', async () => {
    const inv = await loadInventory(resolve(repoRoot, 'inventories/example-tos.yaml'), { home });
    expect(inv.hosts.map((h) => [h.name, h.address])).toEqual([
      ['jiujiu-tdh-10', '172.22.25.10'],
      ['jiujiu-tdh-11', '172.22.25.11'],
      ['jiujiu-tdh-12', '172.22.25.12'],
      ['jiujiu-manager', '172.22.25.9'],
    ]);
    const masters = ['jiujiu-tdh-10', 'jiujiu-tdh-11', 'jiujiu-tdh-12'];
    expect(inv.groups).toEqual({ master: masters, etcd: masters, flannel: masters, manager: ['jiujiu-manager'] });
    expect(inv.firstMaster).toBe('jiujiu-tdh-10');
    expect(inv.vars).toMatchObject({
      certDir: '/srv/kubernetes',
      manifestsDir: '/opt/kubernetes/manifests-multi',
      parkDir: '/opt/kubernetes',
      etcdClientPort: 4001,
      serviceIp: '10.10.10.1',
    });
    const h = inv.hosts[0]!;
    expect(h.hostname).toBe('jiujiu-tdh-10');
    expect(h.ip).toBe('172.22.25.10');
    expect(h.groups).toEqual(['master', 'etcd', 'flannel']);
    expect(h.ssh.identityFile).toBe('/home/tester/.ssh/id_ed25519');
    expect(h.ssh.knownHostsFile).toBe('/home/tester/.ssh/known_hosts');
    expect(h.definedAt.line).toBe(30);
    expect(inv.hosts[3]!.groups).toEqual(['manager']);
  });

  test('the lab-style format with every optional field', async () => {
    const inv = await loadInventory(`${fixtures}/good-lab-style.yaml`, { home });
    expect(inv.file).toBe(resolve(`${fixtures}/good-lab-style.yaml`));
    expect(inv.firstMaster).toBe('tos-lab-2');
    expect(Object.keys(inv.groups)).toEqual(['master', 'etcd', 'flannel', 'manager', 'edge']);
    expect(inv.groups.edge).toEqual(['tos-lab-3', 'tos-mgr']);
    const [h1, h2, h3, mgr] = inv.hosts;
    expect(h2).toMatchObject({ name: 'tos-lab-2', hostname: 'node-b', ip: '127.20.0.12', groups: ['master', 'etcd', 'flannel'] });
    expect(h2!.ssh.port).toBe(2222);
    expect(h2!.vars.certDir).toBe('/etc/etcd/pki');
    expect(h1!.vars.certDir).toBe('/srv/kubernetes');
    expect(h1!.vars.tosVersion).toBe('tos-2.1');
    expect(h1!.vars.managerDb).toEqual({ host: '127.20.0.31', port: 3306, user: 'manager', database: 'manager', passwordEnv: 'CERTROLL_DB_PASSWORD' });
    expect(h1!.vars.checkPaths).toEqual(['/srv/kubernetes/*.pem', '/etc/kubernetes/pki/**/*.crt']);
    expect(h1!.ssh.identityFile).toBe('/var/lib/certroll-lab/ssh/id_ed25519');
    expect(h3!.groups).toEqual(['master', 'etcd', 'edge']);
    // A DNS address gives no SAN IP unless ip: says so; group-level ssh and vars apply.
    expect(mgr).toMatchObject({ name: 'tos-mgr', address: 'mgr.lab.example', hostname: 'tos-mgr', ip: undefined });
    expect(mgr!.ssh).toMatchObject({ user: 'deploy', become: true, port: 22 });
    expect(mgr!.vars).toMatchObject({ certDir: '/opt/manager/certs', parkDir: '/opt/park' });
  });

  test('precedence: host > group > inventory > defaults', () => {
    return loadInventory(`${fixtures}/good-precedence.yaml`, { home }).then((inv) => {
      const [h1, h2, h3] = inv.hosts;
      expect(h1!.vars.parkDir).toBe('/host/park'); // host
      expect(h2!.vars.parkDir).toBe('/group/park'); // group beats inventory
      expect(h1!.vars.certDir).toBe('/group/certs'); // group beats default
      expect(h1!.vars.etcdClientPort).toBe(2379); // inventory beats default
      expect(h1!.vars.manifestsDir).toBe(defaultClusterVars.manifestsDir); // default
      expect(inv.vars.parkDir).toBe('/inv/park');
      expect(h1!.ssh.port).toBe(2201); // host
      expect(h2!.ssh.port).toBe(2200); // group
      expect(h2!.ssh.user).toBe('ops'); // group beats inventory
      expect(h2!.ssh.connectTimeout).toBe(5); // inventory
      expect(h2!.ssh.commandTimeout).toBe(defaultSshSettings.commandTimeout); // default
      expect(h3).toMatchObject({ address: 'h3.example.com', ip: '10.0.0.3', groups: ['manager'] });
      // etcd defaults to master when absent
      expect(inv.groups.etcd).toEqual(['h1', 'h2']);
      expect(inv.groups.flannel).toEqual([]);
    });
  });

  test('hosts never share mutable vars', async () => {
    const inv = await loadInventory(`${fixtures}/good-lab-style.yaml`, { home });
    inv.hosts[0]!.vars.checkPaths.push('/x/*.pem');
    expect(inv.hosts[2]!.vars.checkPaths).toEqual(['/srv/kubernetes/*.pem', '/etc/kubernetes/pki/**/*.crt']);
  });

  test('minimal inventory: defaults everywhere, ~ expanded with the real home directory', () => {
    const inv = parseInventory('hosts:\n  a1: { address: 10.0.0.1 }\ngroups:\n  master: [a1]\n', 'mini.yaml');
    expect(inv.vars).toEqual(defaultClusterVars);
    expect(inv.hosts[0]!.ssh).toEqual({ ...defaultSshSettings, knownHostsFile: `${homedir()}/.ssh/known_hosts` });
    expect(inv.hosts[0]!.ssh.identityFile).toBeUndefined();
    expect(inv.groups).toEqual({ master: ['a1'], etcd: ['a1'], flannel: [], manager: [] });
  });

  test('~ alone and trailing slashes', () => {
    const inv = parseInventory(
      'ssh: { identityFile: "~/keys/id", knownHostsFile: "/etc/ssh/known/" }\nvars: { certDir: /srv/k8s/ }\nhosts: { a: { address: "::1" } }\ngroups: { master: [a] }\n',
      'x.yaml',
      { home: '/home/u/' },
    );
    expect(inv.hosts[0]!.ssh.identityFile).toBe('/home/u/keys/id');
    expect(inv.hosts[0]!.ssh.knownHostsFile).toBe('/etc/ssh/known');
    expect(inv.vars.certDir).toBe('/srv/k8s');
    expect(inv.hosts[0]!.ip).toBe('::1');
  });

  test.skipIf(!existsSync(resolve(repoRoot, 'inventories/lab.yaml')))('inventories/lab.yaml loads', async () => {
    const inv = await loadInventory(resolve(repoRoot, 'inventories/lab.yaml'));
    expect(inv.groups.master!.length).toBeGreaterThan(0);
    expect(inv.hosts.find((h) => h.name === inv.firstMaster)).toBeDefined();
  });
});
