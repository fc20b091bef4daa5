// The OpenSSH client config under the inventory: inventory values win, config values fill the rest with their file:line,
// bastions are resolved hop by hop, and keywords that weaken host authentication stop the load with file and line.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../../src/inventory/load.js';
import { formatInputIssue, InputError } from '../../../src/errors.js';

const home = mkdtempSync(join(tmpdir(), 'certroll-sshcfg-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
mkdirSync(join(home, '.ssh'));
writeFileSync(join(home, '.ssh', 'id_test'), 'not read by the loader');
writeFileSync(join(home, '.ssh', 'id_second'), 'not read by the loader');
writeFileSync(
  join(home, '.ssh', 'config'),
  [
    'Host bastion', //                       1
    '  HostName 10.9.0.1', //                2
    '  User jump', //                        3
    '  Port 2200', //                        4
    'Host tos-* !tos-9', //                  5
    '  User admin', //                       6
    '  Port 2222', //                        7
    '  IdentityFile ~/.ssh/missing', //      8
    '  IdentityFile ~/.ssh/id_test', //      9
    '  ProxyJump bastion', //                10
    '  ServerAliveInterval 5', //            11
    '  ConnectTimeout 1m', //                12
    'Host tos-*', //                         13 (a second block: its IdentityFile accumulates)
    '  IdentityFile %d/.ssh/id_second', //   14
    'Host insecure', //                      15
    '  StrictHostKeyChecking no', //         16
    'Host proxied', //                       17
    '  ProxyCommand ssh -W %h:%p gw', //     18
    'Host *', //                             19
    '  Ciphers aes128-ctr', //               20
    '  IdentitiesOnly yes', //               21
    '',
  ].join('\n'),
);

const load = (text: string) => parseInventory(text, join(home, 'inv.yaml'), { home, env: {} });
function issues(text: string): string[] {
  try {
    load(text);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as InputError).issues.map(formatInputIssue);
  }
  return [];
}

describe('OpenSSH config applied to the inventory', () => {
  it('fills what the inventory leaves unset, says where each value came from, and resolves the bastion', () => {
    const inv = load('hosts:\n  tos-1: { address: tos-1 }\n  tos-2: { address: tos-2, ssh: { user: root, port: 22 } }\ngroups:\n  master: [tos-1, tos-2]\n');
    const [a, b] = inv.hosts;
    expect(a!.ssh).toMatchObject({ user: 'admin', port: 2222, identityFile: join(home, '.ssh/id_test'), serverAliveInterval: 5, connectTimeout: 60, identitiesOnly: true });
    expect(a!.sshFrom).toMatchObject({ user: '~/.ssh/config:6', port: '~/.ssh/config:7', identityFile: '~/.ssh/config:9', identityFiles: '~/.ssh/config:14', jump: '~/.ssh/config:10' });
    // IdentityFile accumulates over blocks; missing files are skipped, as OpenSSH does; %d is the home directory.
    expect(a!.ssh.identityFiles).toEqual([join(home, '.ssh/id_second')]);
    expect(a!.ssh.jumps).toEqual([
      { name: 'bastion', address: '10.9.0.1', port: 2200, user: 'jump', identityFile: join(home, '.ssh/id_test'), identityFiles: [join(home, '.ssh/id_second')], knownHostsFile: join(home, '.ssh/known_hosts'), connectTimeout: 60, identitiesOnly: true, from: '~/.ssh/config:10' },
    ]);
    // Inventory values win; the user it gives is what Match user would see.
    expect(b!.ssh).toMatchObject({ user: 'root', port: 22 });
    expect(b!.sshFrom!.user).toMatch(/^hosts\.tos-2\.ssh\.user \(.*inv\.yaml:3\)$/);
    expect(inv.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/^tos-1: ciphers is not applied.*\(~\/\.ssh\/config:20\)$/)]));
  });

  it('HostName replaces the address (and the IP used in SANs when the inventory did not set one)', () => {
    const inv = load('hosts:\n  b: { address: bastion }\ngroups:\n  master: [b]\n');
    expect(inv.hosts[0]!).toMatchObject({ address: '10.9.0.1', ip: '10.9.0.1', ssh: { user: 'jump', port: 2200 } });
    expect(inv.hosts[0]!.sshFrom!.address).toBe('HostName at ~/.ssh/config:2 (for bastion)');
  });

  it('a negated pattern keeps a host out of the block', () => {
    const inv = load('hosts:\n  tos-9: { address: tos-9 }\ngroups:\n  master: [tos-9]\n');
    expect(inv.hosts[0]!.ssh.user).toBe('root');
    expect(inv.hosts[0]!.ssh.jumps).toBeUndefined();
  });

  it('ssh.jump in the inventory beats ProxyJump, several hops with user and port; none drops it', () => {
    const inv = load(
      'ssh: { jump: "ops@gw1:2022,bastion" }\nhosts:\n  tos-1: { address: tos-1 }\n  tos-3: { address: tos-3, ssh: { jump: none } }\ngroups:\n  master: [tos-1, tos-3]\n',
    );
    expect(inv.hosts[0]!.ssh.jumps!.map((j) => `${j.user}@${j.address}:${j.port}`)).toEqual(['ops@gw1:2022', 'jump@10.9.0.1:2200']);
    expect(inv.hosts[1]!.ssh.jumps).toBeUndefined();
  });

  it('refuses keywords that weaken host authentication, naming the config file and line', () => {
    const got = issues('hosts:\n  i: { address: insecure }\n  p: { address: proxied }\ngroups:\n  master: [i, p]\n');
    expect(got).toEqual([
      expect.stringMatching(/^hosts\.i \(ssh config\): StrictHostKeyChecking no would accept any host key.*\(~\/\.ssh\/config:16\)$/),
      expect.stringMatching(/^hosts\.p \(ssh config\): ProxyCommand is not supported.*use ProxyJump.*\(~\/\.ssh\/config:18\)$/),
    ]);
  });

  it('ssh.config: none reads nothing; a missing explicit config is an input error', () => {
    const inv = load('ssh: { config: none }\nhosts:\n  i: { address: insecure }\ngroups:\n  master: [i]\n');
    expect(inv.hosts[0]!.ssh).toMatchObject({ user: 'root', port: 22 });
    expect(issues('ssh: { config: nope.conf }\nhosts:\n  i: { address: insecure }\ngroups:\n  master: [i]\n')).toEqual([
      expect.stringMatching(/^ssh\.config: OpenSSH config file .*nope\.conf does not exist/),
    ]);
    expect(issues('ssh: { jump: "a,,b" }\nhosts:\n  i: { address: x }\ngroups:\n  master: [i]\n')[0]).toMatch(/^ssh\.jump: expected \[user@\]host\[:port\]/);
  });
});
